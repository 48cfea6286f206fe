# Checks of vm-<host>-disks (tests/vm/default.nix), appended by disko's installTest to its own
# script after the installed system booted. The Nix side puts before it `facts`: the host's
# LUKS devices, root file system type, mount points and ZFS pools. `machine` is disko's.
# Only driver calls listed in tests/vm/driver-methods.tsv may be used
# (tools/vm_tests_test.ts checks it).

machine.wait_for_unit("multi-user.target")

for name in facts["luks"]:
    status = machine.succeed(f"cryptsetup status {name}")
    assert "is active" in status, f"{name}: {status}"

root = machine.succeed("findmnt -n -o FSTYPE /").strip()
assert root == facts["rootFsType"], f"/ is {root}, declared {facts['rootFsType']}"

for mount_point in facts["mountPoints"]:
    machine.succeed(f"findmnt {mount_point}")

if facts["pools"]:
    pools = sorted(machine.succeed("zpool list -H -o name").split())
    assert pools == sorted(facts["pools"]), f"pools {pools}, declared {facts['pools']}"
    health = machine.succeed("zpool status -x")
    assert "all pools are healthy" in health, health

failed = machine.succeed("systemctl list-units --failed --plain --no-legend")
assert failed.strip() == "", f"failed units:\n{failed}"
