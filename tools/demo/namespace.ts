// The demo's network namespace: everything in it was started by the demo, so when the demo ends
// it ends whatever is still there (an ssh master a killed deploy left, a stray session).

async function networkNamespaceOf(pid: number | "self"): Promise<string | undefined> {
  return await Deno.readLink(`/proc/${pid}/ns/net`).catch(() => undefined);
}

/**
 * This process's network namespace when it is not its parent's, i.e. one made for it
 * (`unshare --net`); else undefined.
 */
export async function ownNetworkNamespace(): Promise<string | undefined> {
  const own = await networkNamespaceOf("self");
  return own === undefined || own === await networkNamespaceOf(Deno.ppid) ? undefined : own;
}

/**
 * Kills every other process in this process's network namespace and returns their pids — only
 * when the namespace was made for it ({@linkcode ownNetworkNamespace}). Anywhere else it kills
 * nothing.
 */
export async function killRestOfOwnNetworkNamespace(): Promise<number[]> {
  const own = await ownNetworkNamespace();
  if (own === undefined) return [];
  const killed = new Set<number>();
  for (let round = 0; round < 100; round++) {
    const pids: number[] = [];
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
      if (await networkNamespaceOf(Number(entry.name)) === own) pids.push(Number(entry.name));
    }
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
        killed.add(pid);
      } catch {
        // Gone already.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return [...killed];
}
