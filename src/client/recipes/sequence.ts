import { NoNodeError, NodeExistsError } from "../errors.js";
import type { EdgeKeeper } from "../client.js";

/**
 * Shared pieces of the sequential-node recipes (docs/recipes.md): how contender nodes are
 * named and ordered, and how a contender waits for the one ahead of it.
 */

/** The 10-digit sequence suffix ZooKeeper appends, as a number; -1 if the name has none. */
export function sequenceOf(name: string): number {
  const m = /(-?\d{10})$/.exec(name);
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

/**
 * Resolves when `path` is deleted (or already gone), watching only that one node — which is
 * what keeps lock hand-offs free of the herd effect. Rejects if `signal` aborts.
 */
export function waitForDeletion(zk: EdgeKeeper, path: string, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const done = (err?: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onAbort = () => done(signal!.reason ?? new DOMException("aborted", "AbortError"));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    zk.exists(path, { watch: (e) => e.type === "NodeDeleted" && done() }).then(
      (stat) => {
        if (!stat) done();
      },
      (e) => done(e instanceof NoNodeError ? undefined : e),
    );
  });
}
