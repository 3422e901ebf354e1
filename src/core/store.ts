import type { ACL, Id } from "./acl.js";
import type { CreateMode } from "./create-mode.js";
import type { Stat } from "./stat.js";

/** A znode as stored: its data, ACL, Stat and how it was created. */
export interface ZNode {
  path: string;
  data: Uint8Array;
  acl: ACL[];
  stat: Stat;
  mode: CreateMode;
  /** TTL in ms for the TTL modes, 0 otherwise. */
  ttl: number;
}

/** One row of the change log: what a committed transaction did to one path. */
export interface Change {
  zxid: number;
  /** Position within the transaction (a multi or a session close has several). */
  idx: number;
  type: ChangeType;
  path: string;
  time: number;
  /** Session that made the change ("" for the server itself: TTL, containers). */
  session: string;
  /**
   * The node's ACL when the change was made (in memory only; not in the log): a recursive
   * watch's event goes only to sessions that may READ the node — for a deleted node too.
   */
  acl?: readonly ACL[];
}
export type ChangeType = "create" | "delete" | "setData" | "setACL" | "createSession" | "closeSession";

/** Server-side session state. */
export interface SessionRecord {
  id: string;
  secret: string;
  timeout: number;
  /** Last time (ms) the server heard from the client, as last persisted. */
  lastSeen: number;
  /** Whether a socket carried the session when last persisted (false once it detached). */
  connected: boolean;
  identities: Id[];
  /** "ws" for WebSocket sessions, "lease" for HTTP leases. */
  kind: string;
}

export type TimerKind = "session" | "ttl" | "container";
export interface Timer {
  kind: TimerKind;
  key: string;
  due: number;
}

export type WatchKind = "data" | "child" | "persistent" | "recursive";
export interface WatchRow {
  session: string;
  path: string;
  kind: WatchKind;
}

/**
 * Everything the core needs from durable storage, synchronously. The Durable Object
 * implements it over SQLite (src/objects/sql-store.ts); tests use an in-memory one.
 * Every method is called inside `transaction` when it writes.
 */
export interface Store {
  /** Runs `fn` atomically: all of its writes, or none if it throws. */
  transaction<T>(fn: () => T): T;

  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;

  getNode(path: string): ZNode | undefined;
  /** Inserts or replaces a node (numChildren is stored, maintained by the core). */
  putNode(node: ZNode): void;
  deleteNode(path: string): void;
  /** Names of the children of `parent`, sorted, after `after` (exclusive), at most `limit`. */
  childNames(parent: string, after?: string, limit?: number): string[];
  /** Number of nodes strictly below `path`. */
  countDescendants(path: string): number;
  /** Paths of the ephemeral nodes owned by `session`, sorted. */
  ephemeralsOf(session: string): string[];
  /** Nodes at or below `path` and the bytes of their data (a subtree quota's usage). */
  subtreeUsage(path: string): { count: number; bytes: number };
  /** Paths strictly below `under` whose last component is `name` (the quota limits nodes). */
  pathsNamed(under: string, name: string): string[];

  appendChanges(changes: readonly Change[]): void;
  /** Changes with zxid > `zxid`, in (zxid, idx) order. */
  changesAfter(zxid: number): Change[];
  /**
   * Deletes changes with zxid <= `maxZxid` or time < `before`; returns the zxid up to which
   * the log is now empty (0 if nothing was trimmed): every change after it is retained.
   */
  trimChanges(maxZxid: number, before: number): number;
  /** The highest zxid in the change log (0 when empty). */
  lastChangeZxid(): number;

  getSession(id: string): SessionRecord | undefined;
  putSession(s: SessionRecord): void;
  deleteSession(id: string): void;
  listSessions(): SessionRecord[];
  /** How many sessions exist (open, whether or not a socket carries them). */
  sessionCount(): number;
  /** Ids of the sessions persisted as connected. */
  connectedSessions(): string[];

  putTimer(t: Timer): void;
  deleteTimer(kind: TimerKind, key: string): void;
  dueTimers(now: number, limit: number): Timer[];
  nextTimerDue(): number | undefined;

  listWatches(): WatchRow[];
  addWatch(w: WatchRow): void;
  removeWatch(w: WatchRow): void;
  removeSessionWatches(session: string): void;
  /** Removes every session's watch of one kind at one path (a one-shot watch that fired). */
  removeWatchesAt(path: string, kind: WatchKind): void;

  /** Remembered result of an idempotent create, by session and client request id. */
  getRequestResult(session: string, requestId: string): string | undefined;
  putRequestResult(session: string, requestId: string, result: string, time: number): void;
  /** Forgets idempotent-create results recorded before `before` (ms). */
  trimRequestResults(before: number): void;
  deleteSessionRequests(session: string): void;
}
