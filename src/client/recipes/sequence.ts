import { NodeExistsError } from "../errors.js";
import type { EdgeKeeper } from "../client.js";

/**
 * Shared pieces of the sequential-node recipes (docs/recipes.md): how contender nodes are
 * ordered, and how a recipe's base path comes to exist. (Waiting is in waiting.ts and
 * lock-internals.ts.)
 */

/**
 * The 10-character sequence suffix ZooKeeper appends (`%010d`: ten digits, or a minus and nine
 * digits after the counter wraps), as a number; -1 if the name has none. The dash that ends
 * a prefix like `lock-` is not a sign.
 */
export function sequenceOf(name: string): number {
  const m = /(-\d{9}|\d{10})$/.exec(name);
  return m ? Number(m[1]) : -1;
}

/** Contender names in grant order (by sequence number, whatever their prefix). */
export function sortBySequence(names: readonly string[]): string[] {
  return names.filter((n) => sequenceOf(n) >= 0).sort((a, b) => sequenceOf(a) - sequenceOf(b));
}

/** Creates `path` and any missing ancestors as persistent nodes (or containers). */
export async function ensurePath(zk: EdgeKeeper, path: string, mode: "persistent" | "container" = "persistent"): Promise<void> {
  if (path === "/" || (await zk.exists(path))) return;
  const parts = path.split("/").filter(Boolean);
  let at = "";
  for (const part of parts) {
    at += "/" + part;
    try {
      await zk.create(at, undefined, { mode });
    } catch (e) {
      if (!(e instanceof NodeExistsError)) throw e;
    }
  }
}
