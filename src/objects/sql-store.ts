import type { ACL } from "../core/acl.js";
import type { CreateMode } from "../core/create-mode.js";
import type { Change, SessionRecord, Store, Timer, TimerKind, WatchKind, WatchRow, ZNode } from "../core/store.js";
import { joinPath, nameOf, parentOf } from "../core/paths.js";
import { NodeCache } from "./node-cache.js";
import { ChildrenCache, lowerBound } from "./children-cache.js";

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS znodes (
     path TEXT PRIMARY KEY, parent TEXT NOT NULL, data BLOB, acl TEXT NOT NULL,
     czxid INTEGER NOT NULL, mzxid INTEGER NOT NULL, pzxid INTEGER NOT NULL,
     ctime INTEGER NOT NULL, mtime INTEGER NOT NULL, version INTEGER NOT NULL,
     cversion INTEGER NOT NULL, aversion INTEGER NOT NULL, owner TEXT NOT NULL,
     num_children INTEGER NOT NULL, mode INTEGER NOT NULL, ttl INTEGER NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS znodes_by_parent ON znodes (parent, path)`,
  `CREATE INDEX IF NOT EXISTS znodes_by_owner ON znodes (owner)`,
  // The change log: appended on every write, so one B-tree and nothing else — no rowid table
  // beside its key, no index on time (the age trim searches by zxid: times grow with it).
  `CREATE TABLE IF NOT EXISTS change_log (
     zxid INTEGER NOT NULL, idx INTEGER NOT NULL, type TEXT NOT NULL, path TEXT NOT NULL,
     time INTEGER NOT NULL, session TEXT NOT NULL, PRIMARY KEY (zxid, idx)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS sessions (
     id TEXT PRIMARY KEY, secret TEXT NOT NULL, timeout INTEGER NOT NULL,
     last_seen INTEGER NOT NULL, connected INTEGER NOT NULL, identities TEXT NOT NULL, kind TEXT NOT NULL)`,
  // Small rows under a composite key: WITHOUT ROWID keeps each in one B-tree (plus its index)
  // instead of a rowid table beside a key index — one B-tree less per write.
  `CREATE TABLE IF NOT EXISTS timer_list (kind TEXT NOT NULL, key TEXT NOT NULL, due INTEGER NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS timer_list_by_due ON timer_list (due)`,
  `CREATE TABLE IF NOT EXISTS watch_list (session TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (session, path, kind)) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS watch_list_by_path ON watch_list (path, kind)`,
  `CREATE TABLE IF NOT EXISTS request_results (
     session TEXT NOT NULL, request_id TEXT NOT NULL, result TEXT NOT NULL, time INTEGER NOT NULL,
     PRIMARY KEY (session, request_id)) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS request_results_by_time ON request_results (time)`,
];

type Row = Record<string, SqlStorageValue>;

const EMPTY = new Uint8Array(0);

/** Stat fields kept in their own columns (dataLength is the data's length; ephemeralOwner never changes). */
const STAT_COLUMNS: ReadonlyArray<[string, "czxid" | "mzxid" | "pzxid" | "ctime" | "mtime" | "version" | "cversion" | "aversion" | "numChildren"]> = [
  ["czxid", "czxid"],
  ["mzxid", "mzxid"],
  ["pzxid", "pzxid"],
  ["ctime", "ctime"],
  ["mtime", "mtime"],
  ["version", "version"],
  ["cversion", "cversion"],
  ["aversion", "aversion"],
  ["num_children", "numChildren"],
];

function toBlob(data: Uint8Array): ArrayBuffer {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
    ? (data.buffer as ArrayBuffer)
    : (data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer);
}

function nodeOf(r: Row): ZNode {
  return {
    path: r.path as string,
    data: r.data ? new Uint8Array(r.data as ArrayBuffer) : EMPTY,
    acl: JSON.parse(r.acl as string) as ACL[],
    stat: {
      czxid: r.czxid as number,
      mzxid: r.mzxid as number,
      pzxid: r.pzxid as number,
      ctime: r.ctime as number,
      mtime: r.mtime as number,
      version: r.version as number,
      cversion: r.cversion as number,
      aversion: r.aversion as number,
      ephemeralOwner: r.owner as string,
      dataLength: r.data ? (r.data as ArrayBuffer).byteLength : 0,
      numChildren: r.num_children as number,
    },
    mode: r.mode as CreateMode,
    ttl: r.ttl as number,
  };
}

/**
 * The core's Store over a Durable Object's SQLite database. Every call is synchronous and
 * runs inside the object's implicit transaction, so all writes of one event reach disk in
 * one commit (group commit), and the output gate holds replies until they have.
 */
export class SqlStore implements Store {
  private readonly sql: Pick<SqlStorage, "exec">;
  /** Statements that were not reads, since the store was made: whether an event wrote (metrics). */
  writes = 0;
  private readonly cache = new NodeCache();
  private readonly children = new ChildrenCache();
  /** The earliest timer's due time: undefined = unknown, null = no timer. */
  private earliest: number | null | undefined;

  constructor(private readonly storage: DurableObjectStorage) {
    const sql = storage.sql;
    this.sql = {
      exec: <T extends Record<string, SqlStorageValue>>(query: string, ...args: unknown[]) => {
        if (!query.startsWith("SELECT")) this.writes++;
        return sql.exec<T>(query, ...args);
      },
    };
    for (const stmt of SCHEMA) this.sql.exec(stmt);
    this.migrate();
  }

  /**
   * Moves what an older layout kept into this one's tables, once: before session 3 the change
   * log, timers, watches and request results were rowid tables under other names.
   */
  private migrate(): void {
    const moves: Array<[string, string, string]> = [
      ["changelog", "change_log", "zxid, idx, type, path, time, session"],
      ["timers", "timer_list", "kind, key, due"],
      ["watches", "watch_list", "session, path, kind"],
      ["requests", "request_results", "session, request_id, result, time"],
    ];
    const present = new Set(this.rows(`SELECT name FROM sqlite_master WHERE type = 'table'`).map((r) => r.name as string));
    const due = moves.filter(([from]) => present.has(from));
    if (due.length === 0) return;
    this.storage.transactionSync(() => {
      for (const [from, to, cols] of due) {
        this.sql.exec(`INSERT OR IGNORE INTO ${to} (${cols}) SELECT ${cols} FROM ${from}`);
        this.sql.exec(`DROP TABLE ${from}`);
      }
    });
  }

  private rows(query: string, ...args: unknown[]): Row[] {
    return this.sql.exec<Row>(query, ...args).toArray();
  }

  /** The node cache's size and lookups (admin views). */
  cacheStats(): ReturnType<NodeCache["stats"]> {
    return this.cache.stats();
  }

  transaction<T>(fn: () => T): T {
    try {
      return this.cache.transaction(() => this.storage.transactionSync(fn));
    } catch (e) {
      this.children.clear(); // rolled back: listings may name children that are not there
      throw e;
    }
  }

  getMeta(key: string): string | undefined {
    return this.rows(`SELECT value FROM meta WHERE key = ?`, key)[0]?.value as string | undefined;
  }
  setMeta(key: string, value: string): void {
    this.sql.exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value);
  }

  getNode(path: string): ZNode | undefined {
    const hit = this.cache.get(path);
    if (hit) return hit;
    // A parent whose children are cached answers "no such child" without SQL: a create checks
    // that its (often brand-new sequential) path does not exist yet.
    if (path !== "/") {
      const siblings = this.children.get(parentOf(path));
      if (siblings) {
        const name = nameOf(path);
        if (siblings[lowerBound(siblings, name)] !== name) return undefined;
      }
    }
    const r = this.rows(`SELECT * FROM znodes WHERE path = ?`, path)[0];
    if (!r) return undefined;
    const node = nodeOf(r);
    this.cache.set(node);
    return node;
  }
  putNode(n: ZNode): void {
    const s = n.stat;
    const data = n.data.byteLength ? toBlob(n.data) : null;
    const old = this.cache.peek(n.path);
    if (old) {
      // An existing row (the cache is exact): update in place only the columns that changed —
      // a setData touches four, a child's create or delete three of its parent's — leaving the
      // indexed columns (parent, owner) alone; cheaper than REPLACE or a full-row UPDATE.
      const sets: string[] = [];
      const args: unknown[] = [];
      const col = (name: string, value: unknown) => (sets.push(`${name} = ?`), args.push(value));
      if (n.data !== old.data) col("data", data);
      if (n.acl !== old.acl && JSON.stringify(n.acl) !== JSON.stringify(old.acl)) col("acl", JSON.stringify(n.acl));
      for (const [name, key] of STAT_COLUMNS) if (s[key] !== old.stat[key]) col(name, s[key]);
      if (n.mode !== old.mode) col("mode", n.mode);
      if (n.ttl !== old.ttl) col("ttl", n.ttl);
      if (sets.length > 0) this.sql.exec(`UPDATE znodes SET ${sets.join(", ")} WHERE path = ?`, ...args, n.path);
    } else {
      const parent = n.path === "/" ? "" : parentOf(n.path);
      if (n.path !== "/") this.children.added(parent, nameOf(n.path));
      this.sql.exec(
        `INSERT OR REPLACE INTO znodes (path, parent, data, acl, czxid, mzxid, pzxid, ctime, mtime, version, cversion, aversion, owner, num_children, mode, ttl)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        n.path, parent, data, JSON.stringify(n.acl),
        s.czxid, s.mzxid, s.pzxid, s.ctime, s.mtime, s.version, s.cversion, s.aversion, s.ephemeralOwner, s.numChildren, n.mode, n.ttl,
      );
    }
    this.cache.set(n);
  }
  deleteNode(path: string): void {
    this.sql.exec(`DELETE FROM znodes WHERE path = ?`, path);
    this.cache.delete(path);
    if (path !== "/") this.children.removed(parentOf(path), nameOf(path));
  }
  childNames(parent: string, after?: string, limit?: number): string[] {
    const cached = this.children.get(parent);
    if (cached) {
      let start = after === undefined ? 0 : lowerBound(cached, after);
      if (after !== undefined && cached[start] === after) start++;
      return cached.slice(start, limit === undefined || limit < 0 ? undefined : start + limit);
    }
    const from = after === undefined ? "" : joinPath(parent, after);
    const names = this.rows(`SELECT path FROM znodes WHERE parent = ? AND path > ? ORDER BY path LIMIT ?`, parent, from, limit ?? -1).map((r) =>
      nameOf(r.path as string),
    );
    if (after === undefined && (limit === undefined || limit < 0 || names.length < limit)) this.children.fill(parent, names);
    return names;
  }
  countDescendants(path: string): number {
    if (path === "/") return (this.rows(`SELECT count(*) AS n FROM znodes`)[0].n as number) - 1;
    // Descendants of /a sort between "/a/" and "/a0" ('0' follows '/').
    return this.rows(`SELECT count(*) AS n FROM znodes WHERE path > ? AND path < ?`, path + "/", path + "0")[0].n as number;
  }
  subtreeUsage(path: string): { count: number; bytes: number } {
    const r = this.rows(
      `SELECT count(*) AS n, total(length(data)) AS b FROM znodes WHERE path = ? OR (path > ? AND path < ?)`,
      path, path + "/", path + "0",
    )[0];
    return { count: r.n as number, bytes: r.b as number };
  }
  pathsNamed(under: string, name: string): string[] {
    // A range read of the subtree; GLOB has no single-character wildcard for '_' to trip on.
    return this.rows(`SELECT path FROM znodes WHERE path > ? AND path < ? AND path GLOB ?`, under + "/", under + "0", "*/" + name).map(
      (r) => r.path as string,
    );
  }
  ephemeralsOf(session: string): string[] {
    return this.rows(`SELECT path FROM znodes WHERE owner = ? ORDER BY path`, session).map((r) => r.path as string);
  }

  appendChanges(changes: readonly Change[]): void {
    for (const c of changes)
      this.sql.exec(`INSERT INTO change_log (zxid, idx, type, path, time, session) VALUES (?, ?, ?, ?, ?, ?)`, c.zxid, c.idx, c.type, c.path, c.time, c.session);
  }
  changesAfter(zxid: number): Change[] {
    return this.rows(`SELECT * FROM change_log WHERE zxid > ? ORDER BY zxid, idx`, zxid) as unknown as Change[];
  }
  trimChanges(maxZxid: number, before: number): number {
    const top = Math.max(maxZxid, this.lastZxidBefore(before));
    if (top <= 0) return 0;
    this.sql.exec(`DELETE FROM change_log WHERE zxid <= ?`, top);
    return top;
  }
  /**
   * The newest zxid in the log whose time is before `before` (0: none). Times grow with zxids
   * (one object, one clock), so a binary search over the key finds it in ~17 index seeks, and
   * only when the oldest row is old enough at all (one seek otherwise, the common case).
   */
  private lastZxidBefore(before: number): number {
    const first = this.rows(`SELECT zxid, time FROM change_log ORDER BY zxid, idx LIMIT 1`)[0];
    if (!first || (first.time as number) >= before) return 0;
    let lo = first.zxid as number;
    let hi = this.lastChangeZxid();
    while (lo < hi) {
      const mid = Math.floor((lo + hi + 1) / 2);
      const r = this.rows(`SELECT zxid, time FROM change_log WHERE zxid >= ? ORDER BY zxid, idx LIMIT 1`, mid)[0];
      if (r && (r.time as number) < before) lo = Math.max(mid, r.zxid as number);
      else hi = mid - 1;
    }
    return lo;
  }
  lastChangeZxid(): number {
    return (this.rows(`SELECT max(zxid) AS z FROM change_log`)[0].z as number | null) ?? 0;
  }

  getSession(id: string): SessionRecord | undefined {
    const r = this.rows(`SELECT * FROM sessions WHERE id = ?`, id)[0];
    return r ? sessionOf(r) : undefined;
  }
  putSession(s: SessionRecord): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO sessions (id, secret, timeout, last_seen, connected, identities, kind) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      s.id, s.secret, s.timeout, s.lastSeen, s.connected ? 1 : 0, JSON.stringify(s.identities), s.kind,
    );
  }
  deleteSession(id: string): void {
    this.sql.exec(`DELETE FROM sessions WHERE id = ?`, id);
  }
  listSessions(): SessionRecord[] {
    return this.rows(`SELECT * FROM sessions ORDER BY id`).map(sessionOf);
  }
  sessionCount(): number {
    return this.rows(`SELECT count(*) AS n FROM sessions`)[0].n as number;
  }
  connectedSessions(): string[] {
    return this.rows(`SELECT id FROM sessions WHERE connected = 1`).map((r) => r.id as string);
  }

  putTimer(t: Timer): void {
    this.sql.exec(`INSERT OR REPLACE INTO timer_list (kind, key, due) VALUES (?, ?, ?)`, t.kind, t.key, t.due);
    this.earliest = undefined;
  }
  deleteTimer(kind: TimerKind, key: string): void {
    this.sql.exec(`DELETE FROM timer_list WHERE kind = ? AND key = ?`, kind, key);
    this.earliest = undefined;
  }
  dueTimers(now: number, limit: number): Timer[] {
    return this.rows(`SELECT kind, key, due FROM timer_list WHERE due <= ? ORDER BY due LIMIT ?`, now, limit) as unknown as Timer[];
  }
  nextTimerDue(): number | undefined {
    // Asked after every event to aim the alarm; only re-read when a timer changed. (Any
    // change resets it, including inside a transaction that then rolls back: a re-read.)
    if (this.earliest === undefined) this.earliest = (this.rows(`SELECT min(due) AS due FROM timer_list`)[0].due as number | null) ?? null;
    return this.earliest ?? undefined;
  }

  listWatches(): WatchRow[] {
    return this.rows(`SELECT session, path, kind FROM watch_list`) as unknown as WatchRow[];
  }
  addWatch(w: WatchRow): void {
    this.sql.exec(`INSERT OR IGNORE INTO watch_list (session, path, kind) VALUES (?, ?, ?)`, w.session, w.path, w.kind);
  }
  removeWatch(w: WatchRow): void {
    this.sql.exec(`DELETE FROM watch_list WHERE session = ? AND path = ? AND kind = ?`, w.session, w.path, w.kind);
  }
  removeWatchesAt(path: string, kind: WatchKind): void {
    this.sql.exec(`DELETE FROM watch_list WHERE path = ? AND kind = ?`, path, kind);
  }
  removeSessionWatches(session: string): void {
    this.sql.exec(`DELETE FROM watch_list WHERE session = ?`, session);
  }

  getRequestResult(session: string, requestId: string): string | undefined {
    return this.rows(`SELECT result FROM request_results WHERE session = ? AND request_id = ?`, session, requestId)[0]?.result as string | undefined;
  }
  putRequestResult(session: string, requestId: string, result: string, time: number): void {
    this.sql.exec(`INSERT OR REPLACE INTO request_results (session, request_id, result, time) VALUES (?, ?, ?, ?)`, session, requestId, result, time);
  }
  trimRequestResults(before: number): void {
    this.sql.exec(`DELETE FROM request_results WHERE time < ?`, before);
  }
  deleteSessionRequests(session: string): void {
    this.sql.exec(`DELETE FROM request_results WHERE session = ?`, session);
  }
}

function sessionOf(r: Row): SessionRecord {
  return {
    id: r.id as string,
    secret: r.secret as string,
    timeout: r.timeout as number,
    lastSeen: r.last_seen as number,
    connected: r.connected === 1,
    identities: JSON.parse(r.identities as string),
    kind: r.kind as string,
  };
}
