// flake.lock as data: each direct input's locked revision and date, and what moved between two.
import { z } from "zod";

const lockedNode = z.object({
  locked: z.object({
    rev: z.string().optional(),
    narHash: z.string().optional(),
    lastModified: z.number().optional(),
    type: z.string().optional(),
  }).passthrough().optional(),
  inputs: z.record(z.string(), z.union([z.string(), z.array(z.string())])).optional(),
}).passthrough();

const flakeLock = z.object({
  nodes: z.record(z.string(), lockedNode),
  root: z.string(),
  version: z.number(),
});

/** Where one input is locked. */
export interface LockedInput {
  /** The commit, or for inputs without one the NAR hash. */
  rev: string;
  /** The date of that revision (`lastModified`), `YYYY-MM-DD`, if the lock has one. */
  date?: string;
}

/** Reads the direct inputs of a flake.lock text; inputs that only `follows` another are left out. */
export function lockedInputs(text: string): Map<string, LockedInput> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error("Cannot read flake.lock: it is not JSON");
  }
  const parsed = flakeLock.safeParse(json);
  if (!parsed.success) throw new Error("Cannot read flake.lock: not the shape nix writes");
  const lock = parsed.data;
  const root = lock.nodes[lock.root];
  const out = new Map<string, LockedInput>();
  for (const [name, target] of Object.entries(root?.inputs ?? {})) {
    if (typeof target !== "string") continue; // follows
    const locked = lock.nodes[target]?.locked;
    if (locked === undefined) continue;
    const rev = locked.rev ?? locked.narHash ?? "";
    out.set(name, {
      rev,
      ...(locked.lastModified !== undefined
        ? { date: new Date(locked.lastModified * 1000).toISOString().slice(0, 10) }
        : {}),
    });
  }
  return out;
}

/** How one input moved. */
export type InputChange =
  | { name: string; kind: "new"; to: LockedInput }
  | { name: string; kind: "moved"; from: LockedInput; to: LockedInput }
  | { name: string; kind: "unchanged"; at: LockedInput }
  | { name: string; kind: "removed"; from: LockedInput };

/** Compares two locks' inputs (`before` undefined: there was no lock, every input is new). */
export function inputChanges(
  before: Map<string, LockedInput> | undefined,
  after: Map<string, LockedInput>,
): InputChange[] {
  const names = [...new Set([...(before?.keys() ?? []), ...after.keys()])].sort();
  return names.map((name): InputChange => {
    const from = before?.get(name);
    const to = after.get(name);
    if (to === undefined) return { name, kind: "removed", from: from! };
    if (from === undefined) return { name, kind: "new", to };
    if (from.rev === to.rev) return { name, kind: "unchanged", at: to };
    return { name, kind: "moved", from, to };
  });
}

function show(input: LockedInput): string {
  const rev = /^[0-9a-f]{40}$/.test(input.rev) ? input.rev.slice(0, 12) : input.rev;
  return input.date ? `${rev} (${input.date})` : rev;
}

/** One line per input: `nixpkgs  0123abcd (2026-01-01) -> 4567ef01 (2026-02-01)`. */
export function describeChanges(changes: readonly InputChange[]): string[] {
  const width = Math.max(0, ...changes.map((c) => c.name.length));
  return changes.map((c) => {
    const name = c.name.padEnd(width);
    switch (c.kind) {
      case "new":
        return `${name}  new -> ${show(c.to)}`;
      case "moved":
        return `${name}  ${show(c.from)} -> ${show(c.to)}`;
      case "unchanged":
        return `${name}  ${show(c.at)} (unchanged)`;
      case "removed":
        return `${name}  ${show(c.from)} -> removed`;
    }
  });
}
