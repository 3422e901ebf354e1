import { Code, ZkError } from "./errors.js";
import type { Request, WatchSet } from "./requests.js";
import { watchList } from "./replay.js";
import type { WatchKind } from "./store.js";

/**
 * The namespace's own bounds (docs/limits.md): how long and deep a path may be, how many
 * children one node may have, how many sessions a namespace and how many watches a session
 * may hold. Each is configured by a wrangler var (src/config.ts); exceeding one is answered
 * with a ZooKeeper code and a message naming the limit and its value, and changes nothing.
 */
export interface PathLimits {
  /** Longest path, in UTF-8 bytes (EDGEKEEPER_MAX_PATH_BYTES). */
  maxPathBytes: number;
  /** Most components in a path: "/a/b" has 2 (EDGEKEEPER_MAX_PATH_DEPTH). */
  maxPathDepth: number;
}

export interface TreeLimits extends PathLimits {
  /** Most children of one node (EDGEKEEPER_MAX_CHILDREN). */
  maxChildren: number;
}

export interface NamespaceLimits extends TreeLimits {
  /** Most sessions open at once in a namespace, WebSocket sessions and HTTP leases (EDGEKEEPER_MAX_SESSIONS). */
  maxSessions: number;
  /** Most watches one session holds, of every kind (EDGEKEEPER_MAX_WATCHES_PER_SESSION). */
  maxWatchesPerSession: number;
}

export const DEFAULT_LIMITS: NamespaceLimits = {
  maxPathBytes: 4096,
  maxPathDepth: 128,
  maxChildren: 100_000,
  maxSessions: 50_000,
  maxWatchesPerSession: 100_000,
};

/** UTF-8 length of a string, without encoding it. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // a surrogate pair: two UTF-16 units, four UTF-8 bytes
        i++;
        continue;
      }
    }
    if (c >= 0x800) n += 2;
    else if (c >= 0x80) n += 1;
  }
  return n;
}

/** Path components: "/" has 0, "/a/b" has 2. */
export function pathDepth(path: string): number {
  if (path === "/") return 0;
  let n = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 0x2f) n++;
  return n;
}

/** Refuses a path longer or deeper than the limits (BADARGUMENTS). Cheap: a length check first. */
export function checkPathLimits(path: string, limits: PathLimits): void {
  // A string is at most 3 UTF-8 bytes per UTF-16 unit: only count bytes when that could matter.
  if (path.length * 3 > limits.maxPathBytes) {
    const bytes = utf8Length(path);
    if (bytes > limits.maxPathBytes)
      throw new ZkError(Code.BADARGUMENTS, `path of ${bytes} bytes exceeds the path length limit of ${limits.maxPathBytes} bytes (EDGEKEEPER_MAX_PATH_BYTES)`);
  }
  if (path.length > limits.maxPathDepth) {
    const depth = pathDepth(path);
    if (depth > limits.maxPathDepth)
      throw new ZkError(Code.BADARGUMENTS, `path of depth ${depth} exceeds the path depth limit of ${limits.maxPathDepth} (EDGEKEEPER_MAX_PATH_DEPTH)`);
  }
}

/**
 * Refuses a request whose own path is beyond the limits, before it touches anything. (The ops
 * of a multi or multiRead are checked one by one, so that the failing op gets its own result;
 * a watch set is checked with the watch limit, Namespace.checkWatchSet.)
 */
export function checkRequestPaths(req: Request, limits: PathLimits): void {
  const path = (req as { path?: unknown }).path;
  if (typeof path === "string") checkPathLimits(path, limits);
}

/** Refuses one more child under a parent that has the most it may have (QUOTAEXCEEDED). */
export function checkChildren(parentPath: string, numChildren: number, limits: TreeLimits): void {
  if (numChildren >= limits.maxChildren)
    throw new ZkError(Code.QUOTAEXCEEDED, `${parentPath} has ${numChildren} children, the limit per node (EDGEKEEPER_MAX_CHILDREN = ${limits.maxChildren})`);
}

/** Distinct (path, kind) watches a watch set registers; exist and data watches share a kind. */
export function distinctWatches(set: WatchSet): Array<{ path: string; kind: WatchKind }> {
  const seen = new Set<string>();
  return watchList(set).filter((w) => {
    const key = w.kind + "\0" + w.path;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

export function watchLimitError(held: number, adding: number, limit: number): ZkError {
  return new ZkError(
    Code.QUOTAEXCEEDED,
    `this session holds ${held} watches; ${adding} more would exceed the limit of ${limit} watches per session (EDGEKEEPER_MAX_WATCHES_PER_SESSION)`,
  );
}

export function sessionLimitError(open: number, limit: number): ZkError {
  return new ZkError(
    Code.THROTTLEDOP,
    `this namespace has ${open} open sessions, its limit (EDGEKEEPER_MAX_SESSIONS = ${limit}); retry later, when sessions have closed or expired`,
  );
}
