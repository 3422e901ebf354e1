import { canAccess, checkAcl, maskDigests, Perms, withSuper, type Id } from "./acl.js";
import { isContainer, isTtl } from "./create-mode.js";
import { Code, codeName, ZkError } from "./errors.js";
import type { Delivery, WatchEvent } from "./events.js";
import { checkPathLimits, checkRequestPaths, DEFAULT_LIMITS, distinctWatches, sessionLimitError, watchLimitError, type NamespaceLimits } from "./limits.js";
import { parentOf, validatePath } from "./paths.js";
import { Quotas } from "./quota.js";
import { replayFromLog, replayFromState, type ReplayOutcome } from "./replay.js";
import type { MultiOp, MultiReadOp, Request, WatchSet } from "./requests.js";
import { negotiateTimeout, newSecret, nextSessionId, secretsEqual, type SessionConfig } from "./sessions.js";
import type { Stat } from "./stat.js";
import type { Change, SessionRecord, Store, WatchKind, ZNode } from "./store.js";
import {
  applyCheck,
  applyCreate,
  applyDelete,
  applySetAcl,
  applySetData,
  childCreates,
  initialNodes,
  mustGet,
  removeNode,
  type TreeConfig,
  type Txn,
} from "./tree.js";
import { WatchRegistry } from "./watches.js";

export interface NamespaceConfig extends TreeConfig, SessionConfig, NamespaceLimits {
  /** The change log keeps at least this many transactions… */
  changelogRetainTxns: number;
  /** …and drops entries older than this (ms). */
  changelogMaxAgeMs: number;
  /** Upper bound for getChildren's page size. */
  maxChildrenPage: number;
  /**
   * The digest id (`user:base64(sha1(user:password))`) whose addAuth makes a session super,
   * like ZooKeeper's zookeeper.DigestAuthenticationProvider.superDigest. Unset: none.
   */
  superDigest?: string;
}

export const DEFAULT_CONFIG: NamespaceConfig = {
  maxDataBytes: 1024 * 1024,
  ttlEnabled: true,
  sessionTimeoutMin: 4_000,
  sessionTimeoutMax: 120_000,
  changelogRetainTxns: 100_000,
  changelogMaxAgeMs: 24 * 3600_000,
  maxChildrenPage: 10_000,
  ...DEFAULT_LIMITS,
};

/** What one request produced: its result or error, and the events it caused anywhere. */
export interface Outcome {
  zxid: number;
  result?: Record<string, unknown>;
  error?: ZkError;
  /** Events for every session, in the order they must be delivered. */
  deliveries: Delivery[];
  /** The request closed the session (explicit close). */
  closed?: boolean;
}

export interface OpenRequest {
  timeout: number;
  sessionId?: string;
  secret?: string;
  lastZxid: number;
  watches?: WatchSet;
  /** Identities the connection arrives with (its IP, a verified token). */
  identities: Id[];
  kind?: string;
  /** When the session's current connection last showed life the core does not see (heartbeats answered by the runtime), ms. */
  heardAt?: number;
  /** A new session no connection carries (an HTTP lease): stored detached, its timer running from now. */
  detached?: boolean;
}

export interface Opened {
  session: SessionRecord;
  resumed: boolean;
  zxid: number;
  /** Missed events to deliver to this session right after the handshake reply. */
  replay: WatchEvent[];
  /** Set when the log no longer reached back to the client's lastZxid. */
  resync?: { lastZxid: number; oldestZxid: number };
}

/** Raised inside a multi to roll back and report which op failed. */
class MultiAbort extends Error {
  constructor(
    readonly index: number,
    readonly error: ZkError,
  ) {
    super(error.message);
  }
}

/**
 * One namespace: the tree, sessions, watches and change log over a Store. Every method is
 * synchronous; the caller (a Durable Object) gives each one the current time and routes
 * the deliveries to sockets. All of ZooKeeper's semantics live below this line.
 */
export class Namespace {
  readonly watches: WatchRegistry;
  private lastZxid: number;
  private logFloor: number;
  /** Last time a frame arrived from each session (ms), not yet persisted. */
  private readonly heard = new Map<string, number>();
  private readonly sessions = new Map<string, SessionRecord>();
  private writesSinceTrim = 0;
  /** Subtree quotas (src/core/quota.ts). */
  readonly quotas: Quotas;
  /** Sessions in storage, counted once and then kept up (undefined: not counted yet). */
  private sessionsOpen: number | undefined;

  constructor(
    readonly store: Store,
    readonly config: NamespaceConfig = DEFAULT_CONFIG,
  ) {
    this.watches = new WatchRegistry(store);
    this.quotas = new Quotas(store);
    if (store.getMeta("zxid") === undefined) {
      store.transaction(() => {
        for (const n of initialNodes()) store.putNode(n);
        store.setMeta("zxid", "0");
        store.setMeta("log_floor", "0");
      });
    }
    this.lastZxid = this.readZxid();
    this.logFloor = Number(store.getMeta("log_floor") ?? "0");
  }

  /** The zxid of the last committed transaction. */
  get zxid(): number {
    return this.lastZxid;
  }

  /** The oldest zxid after which the change log is complete. */
  get oldestReplayableZxid(): number {
    return this.logFloor;
  }

  // ---------------------------------------------------------------- transactions

  /**
   * Runs `fn` as one transaction with the next zxid. On success its changes go into the
   * change log in the same storage transaction and the watches fire; on a throw nothing is
   * kept and the zxid does not advance.
   */
  private write<T>(session: SessionRecord | null, now: number, fn: (tx: Txn) => T): { value: T; zxid: number; deliveries: Delivery[] } {
    const tx: Txn = {
      store: this.store,
      config: this.config,
      zxid: this.lastZxid + 1,
      time: now,
      session: session?.id ?? "",
      identities: session?.identities ?? [],
      changes: [],
      touched: new Set(),
      quotas: this.quotas,
    };
    let value: T;
    try {
      value = this.store.transaction(() => {
        const v = fn(tx);
        this.store.appendChanges(tx.changes);
        // Every change-log row carries its zxid, so the log records how far the namespace has
        // got (readZxid); the meta row is written only for a transaction that leaves no row (a
        // multi of checks alone) and before the log is trimmed. One statement less per write.
        if (tx.changes.length === 0) this.store.setMeta("zxid", String(tx.zxid));
        for (const path of tx.touched) this.reviewRemoval(path, now);
        return v;
      });
    } catch (e) {
      this.quotas.abort(); // limits changed in memory by the rolled-back writes are re-read
      throw e;
    }
    this.quotas.commit();
    this.lastZxid = tx.zxid;
    const deliveries = this.watches.trigger(tx.changes, this.mayRead);
    if (++this.writesSinceTrim >= 256) this.trimLog(now);
    return { value, zxid: tx.zxid, deliveries };
  }

  /**
   * Arms or disarms the removal timer of a TTL or container node after it or its children
   * changed: TTL nodes go when childless and unmodified for longer than their TTL, containers
   * when their last child went (and they ever had one).
   */
  private reviewRemoval(path: string, now: number): void {
    const node = this.store.getNode(path);
    if (!node || node.stat.numChildren > 0) {
      this.store.deleteTimer("ttl", path);
      this.store.deleteTimer("container", path);
      return;
    }
    if (isTtl(node.mode)) this.store.putTimer({ kind: "ttl", key: path, due: Math.max(now, node.stat.mtime + node.ttl + 1) });
    else if (isEmptiedContainer(node)) this.store.putTimer({ kind: "container", key: path, due: now });
  }

  private trimLog(now: number): void {
    this.writesSinceTrim = 0;
    this.compact(this.lastZxid - this.config.changelogRetainTxns, now - this.config.changelogMaxAgeMs);
    // Idempotent-create results matter only while a retry can still arrive: within a session timeout.
    this.store.trimRequestResults(now - 2 * this.config.sessionTimeoutMax);
  }

  /**
   * Admin: drops the change log up to `uptoZxid` (never past the last committed zxid), as
   * retention does on its own by count and age. Resumes from before the new floor get a
   * resync. Returns the oldest zxid after which the log is still complete.
   */
  compactLog(uptoZxid: number): number {
    this.compact(Math.min(uptoZxid, this.lastZxid), 0);
    return this.logFloor;
  }

  /** Trims the change log (zxid <= maxZxid, or older than `before`), keeping zxid and floor exact. */
  private compact(maxZxid: number, before: number): void {
    const trimmed = this.store.transaction(() => {
      this.store.setMeta("zxid", String(this.lastZxid)); // the log may no longer hold the last zxid
      const top = this.store.trimChanges(maxZxid, before);
      if (top > this.logFloor) this.store.setMeta("log_floor", String(top));
      return top;
    });
    if (trimmed > this.logFloor) this.logFloor = trimmed;
  }

  /** The last committed zxid: the meta row, or the latest change in the log if later (see write). */
  private readZxid(): number {
    return Math.max(Number(this.store.getMeta("zxid") ?? "0"), this.store.lastChangeZxid());
  }

  /**
   * Re-reads what this object caches from storage, after a failed transaction may have left
   * the caches ahead of what was rolled back.
   */
  recover(): void {
    this.sessions.clear();
    this.watches.invalidate();
    this.quotas.invalidate();
    this.sessionsOpen = undefined;
    this.lastZxid = this.readZxid();
    this.logFloor = Number(this.store.getMeta("log_floor") ?? "0");
  }

  // ---------------------------------------------------------------- sessions

  getSession(id: string): SessionRecord | undefined {
    let s = this.sessions.get(id);
    if (!s) {
      s = this.store.getSession(id);
      if (s) this.sessions.set(id, s);
    }
    return s;
  }

  /** Last time the server heard from a session, as far as it knows. */
  lastHeard(id: string): number {
    const s = this.getSession(id);
    return Math.max(s?.lastSeen ?? 0, this.heard.get(id) ?? 0);
  }

  /**
   * Records that a session's client is alive, in memory only: a read must not write to
   * storage. Liveness that has to outlive the instance is kept elsewhere — by the object in
   * the socket's attachment across hibernation (reported through `heardFrom`), and by
   * `adopt` across a restart.
   */
  touch(id: string, now: number): void {
    this.heard.set(id, now);
  }

  /**
   * Called when the object starts: sessions that were connected but whose socket is gone
   * lost it to a restart, not to their client. Like ZooKeeper after a leader change, they
   * get a full timeout from now to come back and resume.
   */
  adopt(liveSessions: ReadonlySet<string>, now: number): void {
    for (const id of this.store.connectedSessions()) if (!liveSessions.has(id)) this.detach(id, now);
  }

  /** Sessions open in this namespace (WebSocket sessions and leases, with or without a socket). */
  get openSessions(): number {
    return (this.sessionsOpen ??= this.store.sessionCount());
  }

  /** Creates a session, or resumes one (id + secret), and replays what its watches missed. */
  open(req: OpenRequest, now: number): Opened {
    // Checked before anything changes: a resume drops the session's watches and re-registers these.
    if (req.watches) this.checkWatchSet(req.watches, 0, () => false);
    if (req.sessionId !== undefined) {
      const s = this.getSession(req.sessionId);
      if (!s || !secretsEqual(s.secret, req.secret ?? ""))
        throw new ZkError(Code.SESSIONEXPIRED, `session ${req.sessionId} has expired or never existed`);
      if (now - Math.max(this.lastHeard(s.id), req.heardAt ?? 0) > s.timeout) {
        // Past its timeout but not yet reaped: the alarm ends it (and fires its watches) now.
        this.store.putTimer({ kind: "session", key: s.id, due: now });
        throw new ZkError(Code.SESSIONEXPIRED, `session ${req.sessionId} has expired`);
      }
      this.refuseIfAhead(req.lastZxid);
      s.timeout = negotiateTimeout(req.timeout, this.config);
      s.lastSeen = now;
      s.connected = true;
      // Identities belong to the connection, as in ZooKeeper: a resumed session has the new
      // connection's address and token, and the client sends its addAuth credentials again.
      s.identities = withSuper(req.identities, this.config.superDigest);
      this.store.putSession(s);
      this.heard.set(s.id, now);
      this.store.putTimer({ kind: "session", key: s.id, due: now + s.timeout });
      this.watches.dropSession(s.id);
      const replay = this.replay(s.id, req.lastZxid, req.watches ?? {});
      return { session: s, resumed: true, zxid: this.lastZxid, ...replay };
    }
    this.refuseIfAhead(req.lastZxid);
    if (this.openSessions >= this.config.maxSessions) throw sessionLimitError(this.openSessions, this.config.maxSessions);
    const { value: session } = this.write(null, now, (tx) => {
      const s: SessionRecord = {
        id: nextSessionId(this.store, now),
        secret: newSecret(),
        timeout: negotiateTimeout(req.timeout, this.config),
        lastSeen: now,
        connected: !req.detached,
        identities: withSuper(req.identities, this.config.superDigest),
        kind: req.kind ?? "ws",
      };
      tx.session = s.id;
      this.store.putSession(s);
      this.store.putTimer({ kind: "session", key: s.id, due: now + s.timeout });
      tx.changes.push({ zxid: tx.zxid, idx: 0, type: "createSession", path: "", time: now, session: s.id });
      return s;
    });
    this.sessions.set(session.id, session);
    this.heard.set(session.id, now);
    if (this.sessionsOpen !== undefined) this.sessionsOpen++;
    const replay = req.watches ? this.replay(session.id, req.lastZxid, req.watches) : { replay: [] };
    return { session, resumed: false, zxid: this.lastZxid, ...replay };
  }

  /** A client that has seen a later zxid than this server would move back in time: refused, as ZooKeeper does. */
  private refuseIfAhead(lastZxid: number): void {
    if (lastZxid > this.lastZxid)
      throw new ZkError(Code.CONNECTIONLOSS, `client has seen zxid ${lastZxid} but this server is at ${this.lastZxid}`);
  }

  /** The client's socket went away: its watches go with it; the session lives on until its timeout. */
  detach(id: string, now: number): void {
    const s = this.getSession(id);
    this.watches.dropSession(id);
    if (!s) return;
    s.lastSeen = Math.max(s.lastSeen, this.heard.get(id) ?? 0, now);
    s.connected = false;
    this.store.putSession(s);
    this.store.putTimer({ kind: "session", key: id, due: s.lastSeen + s.timeout });
  }

  /** Ends a session: its ephemeral nodes go in one transaction, firing their watches. */
  close(id: string, now: number): { zxid: number; deliveries: Delivery[] } {
    const s = this.getSession(id);
    if (!s) return { zxid: this.lastZxid, deliveries: [] };
    const { zxid, deliveries } = this.write(s, now, (tx) => {
      for (const path of this.store.ephemeralsOf(id)) {
        const node = this.store.getNode(path);
        if (node) removeNode(tx, node);
      }
      tx.changes.push({ zxid: tx.zxid, idx: tx.changes.length, type: "closeSession", path: "", time: now, session: id });
      this.store.deleteSession(id);
      this.store.deleteTimer("session", id);
      this.store.deleteSessionRequests(id);
    });
    this.sessions.delete(id);
    this.heard.delete(id);
    this.watches.dropSession(id);
    if (this.sessionsOpen !== undefined) this.sessionsOpen--;
    return { zxid, deliveries };
  }

  /**
   * Whether a session may READ the node a change is about: by the node's ACL at the time of
   * the change when known, else (a change read back from the log) its current ACL, else
   * (deleted since) the ACL of its nearest existing ancestor.
   */
  private readonly mayRead = (session: string, change: Change): boolean => this.mayReadAs(this.getSession(session)?.identities ?? [], change);

  /** mayRead for a caller without a session (HTTP watches), by its identities. */
  mayReadAs(ids: readonly Id[], change: Change): boolean {
    let acl = change.acl;
    for (let p = change.path; acl === undefined; p = parentOf(p)) acl = this.store.getNode(p)?.acl ?? (p === "/" ? [] : undefined);
    return canAccess(acl, Perms.READ, ids);
  }

  /**
   * Refuses a watch set that names a bad path, or that would take the session past its watch
   * limit (`held` watches now, `has` telling which of the set it holds already). Counted before
   * replay, so one-shot watches that replay would consume count too.
   */
  private checkWatchSet(set: WatchSet, held: number, has: (path: string, kind: WatchKind) => boolean): void {
    const watches = distinctWatches(set);
    for (const w of watches) {
      validatePath(w.path);
      checkPathLimits(w.path, this.config);
    }
    const adding = watches.filter((w) => !has(w.path, w.kind)).length;
    if (held + adding > this.config.maxWatchesPerSession) throw watchLimitError(held, adding, this.config.maxWatchesPerSession);
  }

  /** Registers a watch, unless the session holds as many as it may (QUOTAEXCEEDED). */
  private watch(session: string, path: string, kind: WatchKind): void {
    if (!this.watches.has(session, path, kind)) {
      const held = this.watches.countOf(session);
      if (held >= this.config.maxWatchesPerSession) throw watchLimitError(held, 1, this.config.maxWatchesPerSession);
    }
    this.watches.add(session, path, kind);
  }

  /** Replays what a watch set missed since `lastZxid` (its paths were checked by checkWatchSet). */
  private replay(id: string, lastZxid: number, set: WatchSet): Pick<Opened, "replay" | "resync"> {
    let outcome: ReplayOutcome;
    let resync: Opened["resync"];
    if (lastZxid >= this.logFloor) {
      outcome = replayFromLog(this.store.changesAfter(lastZxid), set, (_, change) => this.mayRead(id, change));
    } else {
      outcome = replayFromState(this.store, lastZxid, this.lastZxid, set);
      resync = { lastZxid, oldestZxid: this.logFloor };
    }
    for (const w of outcome.register) this.watches.add(id, w.path, w.kind);
    return { replay: outcome.events, resync };
  }

  // ---------------------------------------------------------------- timers

  /** When the next timer is due (ms), for the object's alarm. */
  nextTimerDue(): number | undefined {
    return this.store.nextTimerDue();
  }

  /**
   * Runs every timer due at `now`: session expiry, TTL and container removal. Handlers
   * re-check eligibility, so running late or twice is harmless (alarms are at-least-once).
   * `heardFrom` reports liveness the object knows of outside the core (auto-answered pings).
   */
  runTimers(now: number, heardFrom: (session: string) => number = () => 0): { deliveries: Delivery[]; expired: string[] } {
    const deliveries: Delivery[] = [];
    const expired: string[] = [];
    for (let round = 0; round < 100; round++) {
      const due = this.store.dueTimers(now, 100);
      if (due.length === 0) break;
      for (const t of due) {
        this.store.deleteTimer(t.kind, t.key);
        if (t.kind === "session") {
          const s = this.getSession(t.key);
          if (!s) continue;
          const last = Math.max(this.lastHeard(s.id), heardFrom(s.id));
          if (now - last >= s.timeout) {
            deliveries.push(...this.close(s.id, now).deliveries);
            expired.push(s.id);
          } else {
            this.store.putTimer({ kind: "session", key: s.id, due: last + s.timeout });
          }
        } else {
          const node = this.store.getNode(t.key);
          if (!node || node.stat.numChildren > 0) continue;
          const eligible = t.kind === "ttl" ? isTtl(node.mode) && now - node.stat.mtime > node.ttl : isEmptiedContainer(node);
          if (eligible) deliveries.push(...this.write(null, now, (tx) => removeNode(tx, node)).deliveries);
          else this.reviewRemoval(t.key, now);
        }
      }
    }
    return { deliveries, expired };
  }

  // ---------------------------------------------------------------- requests

  /** Applies one request from a session. Never throws for a bad request: errors are outcomes. */
  execute(sessionId: string, req: Request, now: number): Outcome {
    const session = this.getSession(sessionId);
    if (!session) return { zxid: this.lastZxid, error: new ZkError(Code.SESSIONEXPIRED, "session has expired"), deliveries: [] };
    try {
      return this.dispatch(session, req, now);
    } catch (e) {
      if (e instanceof ZkError) return { zxid: this.lastZxid, error: e, deliveries: [] };
      throw e;
    }
  }

  /**
   * Applies a request of a caller without a session (an HTTP call with no lease): it can read
   * and write but not create ephemeral nodes or set watches; idempotent-create request ids
   * are namespace-wide. Never throws for a bad request.
   */
  executeWithoutSession(identities: Id[], req: Request, now: number): Outcome {
    const anonymous: SessionRecord = { id: "", secret: "", timeout: 0, lastSeen: now, connected: false, identities, kind: "http" };
    try {
      return this.dispatch(anonymous, req, now);
    } catch (e) {
      if (e instanceof ZkError) return { zxid: this.lastZxid, error: e, deliveries: [] };
      throw e;
    }
  }

  private dispatch(session: SessionRecord, req: Request, now: number): Outcome {
    checkRequestPaths(req, this.config);
    const ok = (result?: Record<string, unknown>, zxid = this.lastZxid, deliveries: Delivery[] = []): Outcome => ({
      zxid,
      result,
      deliveries,
    });
    const ids = session.identities;
    switch (req.op) {
      case "create": {
        if (req.requestId !== undefined) {
          const prior = this.store.getRequestResult(session.id, req.requestId);
          if (prior !== undefined) return ok(JSON.parse(prior));
        }
        const { value, zxid, deliveries } = this.write(session, now, (tx) => {
          const r = applyCreate(tx, req);
          if (req.requestId !== undefined) this.store.putRequestResult(session.id, req.requestId, JSON.stringify(r), now);
          return r;
        });
        return ok(value, zxid, deliveries);
      }
      case "delete": {
        const { zxid, deliveries } = this.write(session, now, (tx) => applyDelete(tx, req));
        return ok(undefined, zxid, deliveries);
      }
      case "setData": {
        const { value, zxid, deliveries } = this.write(session, now, (tx) => applySetData(tx, req));
        return ok(value, zxid, deliveries);
      }
      case "setACL": {
        const { value, zxid, deliveries } = this.write(session, now, (tx) => applySetAcl(tx, req));
        return ok(value, zxid, deliveries);
      }
      case "check":
        applyCheck(this.store, req, ids);
        return ok();
      case "multi":
        return this.multi(session, req.ops, now);
      case "exists":
      case "getData":
      case "getChildren":
        return ok(this.read(session, req));
      case "multiRead":
        return ok({
          results: req.ops.map((op) => {
            try {
              return this.read(session, { ...op, watch: false });
            } catch (e) {
              if (e instanceof ZkError) return errorResult(e);
              throw e;
            }
          }),
        });
      case "getACL": {
        validatePath(req.path);
        const node = mustGet(this.store, req.path);
        // As ZooKeeper since CVE-2019-0201: READ or ADMIN to see the list, ADMIN to see digest hashes.
        checkAcl(node, Perms.READ | Perms.ADMIN, ids, req.path);
        return ok({ acl: canAccess(node.acl, Perms.ADMIN, ids) ? node.acl : maskDigests(node.acl), stat: node.stat });
      }
      case "sync":
        validatePath(req.path);
        return ok({ path: req.path });
      case "getEphemerals": {
        const prefix = req.path.trim();
        const all = this.store.ephemeralsOf(session.id);
        return ok({ paths: prefix === "" || prefix === "/" ? all : all.filter((p) => p.startsWith(prefix)) });
      }
      case "getAllChildrenNumber": {
        validatePath(req.path);
        checkAcl(mustGet(this.store, req.path), Perms.READ, ids, req.path);
        return ok({ count: this.store.countDescendants(req.path) });
      }
      case "whoAmI":
        return ok({ identities: ids.map((i) => ({ scheme: i.scheme, id: i.id })) });
      case "addWatch": {
        validatePath(req.path);
        // Like exists: a watch on a node needs READ on it; events below a recursive watch are
        // filtered by READ on each node when they fire (trigger's canRead).
        const node = this.store.getNode(req.path);
        if (node) checkAcl(node, Perms.READ, ids, req.path);
        this.watch(session.id, req.path, req.mode === "persistent" ? "persistent" : "recursive");
        return ok();
      }
      case "addAuth": {
        // The protocol layer has verified the credentials and turned them into identities.
        session.identities = withSuper(mergeIdentities(session.identities, req.identities), this.config.superDigest);
        if (session.id !== "") this.store.putSession(session);
        return ok();
      }
      case "removeWatches":
      case "checkWatches": {
        validatePath(req.path);
        const kinds: WatchKind[] = {
          1: ["child"],
          2: ["data"],
          3: ["child", "data", "persistent", "recursive"],
          4: ["persistent"],
          5: ["recursive"],
        }[req.type] as WatchKind[];
        const mine = kinds.filter((k) => this.watches.has(session.id, req.path, k));
        if (mine.length === 0) throw new ZkError(Code.NOWATCHER, `no watch of type ${req.type} on ${req.path}`);
        if (req.op === "removeWatches") for (const k of mine) this.watches.remove(session.id, req.path, k);
        return ok();
      }
      case "setWatches": {
        if (req.lastZxid > this.lastZxid)
          throw new ZkError(Code.BADARGUMENTS, `lastZxid ${req.lastZxid} is ahead of the server (${this.lastZxid})`);
        this.checkWatchSet(req.watches, this.watches.countOf(session.id), (path, kind) => this.watches.has(session.id, path, kind));
        const { replay, resync } = this.replay(session.id, req.lastZxid, req.watches);
        const deliveries = replay.map((event) => ({ session: session.id, event }));
        return ok(resync ? { resync } : undefined, this.lastZxid, deliveries);
      }
      case "ping":
        return ok();
      case "close": {
        const { zxid, deliveries } = this.close(session.id, now);
        return { ...ok(undefined, zxid, deliveries), closed: true };
      }
    }
  }

  private read(session: SessionRecord, req: MultiReadOp): Record<string, unknown> {
    validatePath(req.path);
    checkPathLimits(req.path, this.config);
    const ids = session.identities;
    switch (req.op) {
      case "exists": {
        const node = this.store.getNode(req.path);
        if (node) checkAcl(node, Perms.READ, ids, req.path);
        if (req.watch) this.watch(session.id, req.path, "data");
        return { stat: node ? node.stat : null };
      }
      case "getData": {
        const node = mustGet(this.store, req.path);
        checkAcl(node, Perms.READ, ids, req.path);
        if (req.watch) this.watch(session.id, req.path, "data");
        return { data: node.data, stat: node.stat };
      }
      case "getChildren": {
        const node = mustGet(this.store, req.path);
        checkAcl(node, Perms.READ, ids, req.path);
        if (req.limit !== undefined && (!Number.isInteger(req.limit) || req.limit < 1 || req.limit > this.config.maxChildrenPage))
          throw new ZkError(Code.BADARGUMENTS, `limit must be an integer in 1..${this.config.maxChildrenPage}`);
        const limit = req.limit;
        const names = this.store.childNames(req.path, req.cursor, limit === undefined ? undefined : limit + 1);
        if (req.watch) this.watch(session.id, req.path, "child");
        const more = limit !== undefined && names.length > limit;
        const children = more ? names.slice(0, limit) : names;
        return more ? { children, stat: node.stat, cursor: children[children.length - 1] } : { children, stat: node.stat };
      }
    }
  }

  private multi(session: SessionRecord, ops: MultiOp[], now: number): Outcome {
    try {
      const { value, zxid, deliveries } = this.write(session, now, (tx) =>
        ops.map((op, i) => {
          try {
            checkPathLimits(op.path, this.config);
            switch (op.op) {
              case "create":
                return { op: "create", ...applyCreate(tx, op) };
              case "delete":
                applyDelete(tx, op);
                return { op: "delete" };
              case "setData":
                return { op: "setData", ...applySetData(tx, op) };
              case "check":
                applyCheck(this.store, op, tx.identities);
                return { op: "check" };
            }
          } catch (e) {
            if (e instanceof ZkError) throw new MultiAbort(i, e);
            throw e;
          }
        }),
      );
      return { zxid, result: { results: value }, deliveries };
    } catch (e) {
      if (!(e instanceof MultiAbort)) throw e;
      const results = ops.map((_, i) =>
        i < e.index ? { err: 0 } : i === e.index ? errorResult(e.error) : { err: Code.RUNTIMEINCONSISTENCY },
      );
      return { zxid: this.lastZxid, error: e.error, result: { results }, deliveries: [] };
    }
  }

  // ---------------------------------------------------------------- introspection

  /** Current Stat of a node, for tests and admin views. */
  stat(path: string): Stat | undefined {
    return this.store.getNode(path)?.stat;
  }

  /** Changes in the retained log after `zxid` (for HTTP watches and auditing). */
  changesAfter(zxid: number): Change[] {
    return this.store.changesAfter(zxid);
  }
}

/**
 * A container is removed once it has no children left and ever had one (ZooKeeper's
 * ContainerManager: the stored cversion, i.e. child creates, above 0).
 */
function isEmptiedContainer(node: ZNode): boolean {
  return isContainer(node.mode) && node.stat.numChildren === 0 && childCreates(node.stat) > 0;
}

function errorResult(e: ZkError) {
  return { err: e.code, code: codeName(e.code), message: e.message };
}

function mergeIdentities(a: readonly Id[], b: readonly Id[]): Id[] {
  const out = [...a];
  for (const i of b) if (!out.some((o) => o.scheme === i.scheme && o.id === i.id)) out.push(i);
  return out;
}
