# The NixOS release this stub models: "26.05" (the release the fleet pins) or "26.11pre"
# (nixos-unstable after the 26.05 branch-off on 2026-05-24). tools/nix_eval_test.ts writes
# "26.11pre" here in a copy to evaluate the fleet against the unstable model.
"26.05"
