import { joinPath } from "./paths.js";
import type { Store, ZNode } from "./store.js";

/**
 * The lock-like recipes' tree layout (docs/recipes.md), as the server applies it for HTTP
 * callers: contenders are EPHEMERAL_SEQUENTIAL children of a base path, ordered by their
 * 10-character sequence suffix whatever the prefix, and the rule of the recipe says who holds.
 * The WebSocket client's recipes (src/client/recipes) follow the same rules, so both kinds of
 * callers contend on one lock, semaphore or election.
 */

/** Which recipe a base path is used as, and its rule. */
export type Rule =
  | { recipe: "lock" }
  | { recipe: "semaphore"; permits: number }
  | { recipe: "election" };

/** Node name prefixes of the recipes' contenders. */
export const PREFIX = { lock: "lock-", semaphore: "lease-", election: "candidate-" } as const;

/**
 * The sequence number of a contender name (ZooKeeper's `%010d`: ten digits, or a minus and nine
 * digits after the counter wraps), or -1 if it has none. The dash ending a prefix like `lock-`
 * is not a sign.
 */
export function sequenceOf(name: string): number {
  const m = /(-\d{9}|\d{10})$/.exec(name);
  return m ? Number(m[1]) : -1;
}

/** Contender names in grant order (by sequence number, whatever their prefix). */
export function sortBySequence(names: readonly string[]): string[] {
  return names.filter((n) => sequenceOf(n) >= 0).sort((a, b) => sequenceOf(a) - sequenceOf(b));
}

/** How many contenders hold at once under a rule. */
export const holders = (rule: Rule): number => (rule.recipe === "semaphore" ? rule.permits : 1);

/**
 * Where a contender stands: it holds, it waits (with its rank in grant order), or its node is
 * gone (deleted, or its lease ended). `sorted` is the base's children in grant order.
 */
export type Standing = { state: "holds"; rank: number } | { state: "waits"; rank: number } | { state: "gone" };

export function standingIn(sorted: readonly string[], name: string, rule: Rule): Standing {
  const rank = sorted.indexOf(name);
  if (rank < 0) return { state: "gone" };
  return rank < holders(rule) ? { state: "holds", rank } : { state: "waits", rank };
}

/** The base's contenders in grant order, read from the store. */
export function contendersOf(store: Store, base: string): string[] {
  return sortBySequence(store.childNames(base));
}

/**
 * The contender node under `base` that `owner` (a lease) holds with fencing token `token`
 * (its czxid), if it still exists. Looked up through the owner's ephemerals (indexed), not by
 * scanning the queue.
 */
export function findContender(store: Store, base: string, owner: string, token: number): ZNode | undefined {
  const prefix = base === "/" ? "/" : base + "/";
  for (const path of store.ephemeralsOf(owner)) {
    if (!path.startsWith(prefix) || path.indexOf("/", prefix.length) >= 0) continue;
    const node = store.getNode(path);
    if (node && node.stat.czxid === token) return node;
  }
  return undefined;
}

/** The leader of an election: its lowest candidate (any sequenced child counts, as for the client's LeaderLatch). */
export function leaderOf(store: Store, base: string): ZNode | undefined {
  for (const name of contendersOf(store, base)) {
    const node = store.getNode(joinPath(base, name));
    if (node) return node;
  }
  return undefined;
}
