import { assertEquals } from "../testing/assert.ts";
import { copyCause } from "./transfer.ts";

const EOF_LINE =
  "error: cannot open connection to remote store 'ssh-ng://root@web1': error: unexpected end-of-file";

Deno.test("copyCause() shows a full target /nix as no space left, with the target's line", () => {
  assertEquals(
    copyCause(
      `error: setting journal mode: database or disk is full (in '/nix/var/nix/db/db.sqlite')\n${EOF_LINE}`,
    ),
    "no space left on the target's /nix (target: error: setting journal mode: database or disk " +
      "is full (in '/nix/var/nix/db/db.sqlite')): free space there, e.g. nix-collect-garbage, " +
      "and deploy again",
  );
  assertEquals(
    copyCause(
      `copying path '/nix/store/a'\nerror: writing to file: No space left on device\n${EOF_LINE}`,
    )
      ?.startsWith("no space left on the target's /nix (target: error: writing to file"),
    true,
  );
});

Deno.test("copyCause() prefers ssh's own line, else the target's; nix's own error stands", () => {
  assertEquals(
    copyCause(`ssh: connect to host 192.0.2.1 port 22: Connection refused\n${EOF_LINE}`),
    "ssh: connect to host 192.0.2.1 port 22: Connection refused",
  );
  assertEquals(
    copyCause(`error: opening lock file: Permission denied\n${EOF_LINE}`),
    "target: error: opening lock file: Permission denied",
  );
  assertEquals(copyCause(EOF_LINE), undefined);
  assertEquals(copyCause("error: path '/nix/store/x' is not valid"), undefined);
});
