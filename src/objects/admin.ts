import { Code, codeName, ZkError } from "../core/errors.js";
import { isLeaseKind } from "../core/leases.js";
import type { Namespace } from "../core/namespace.js";
import { NO_OWNER } from "../core/stat.js";
import type { WatchKind } from "../core/store.js";
import type { AdminCall, AdminReply, Monitor, SessionInfo, SessionList, WatchesByPath, WatchesBySession } from "../protocol/admin.js";
import type { SessionServer } from "../protocol/session-server.js";
import type { HttpApi } from "./http-api.js";
import type { SocketDirectory } from "./sockets.js";
import type { SqlStore } from "./sql-store.js";
import type { Telemetry } from "./telemetry.js";

/** What the admin views read from their Durable Object. */
export interface AdminHost {
  readonly ns: Namespace;
  readonly store: SqlStore;
  readonly sql: SqlStorage;
  readonly sockets: SocketDirectory;
  readonly server: SessionServer;
  readonly http: HttpApi;
  readonly telemetry: Telemetry;
  /** The object's open WebSockets. */
  webSockets(): WebSocket[];
}

type Row = Record<string, SqlStorageValue>;

interface TreeTotals {
  znodes: number;
  dataBytes: number;
  pathChars: number;
  ephemerals: number;
}

interface LogWindow {
  rows: number;
  first: number;
  last: number;
}

/**
 * ZooKeeper's four-letter words for one namespace (docs/admin.md): ruok, mntr, cons, wchc and
 * wchp, answered from memory and from read-only SQL. Nothing here writes to storage or touches
 * the alarm: reading metrics leaves the namespace exactly as it was.
 *
 * The tree's totals (znodes, data bytes, ephemerals) take one aggregate over the znodes table,
 * and the change log's window one over the log; both are remembered until the next commit, so a
 * scrape of a quiet namespace reads nothing, and the write path pays nothing at all.
 */
export class Admin {
  private tree: { zxid: number; totals: TreeTotals } | undefined;
  private log: { key: string; window: LogWindow } | undefined;

  constructor(private readonly host: AdminHost) {}

  admin(call: AdminCall): AdminReply {
    const { ns } = this.host;
    try {
      switch (call.op) {
        case "ruok":
          return { ok: true, zxid: ns.zxid, result: { imok: true } };
        case "monitor":
          return { ok: true, zxid: ns.zxid, result: this.monitor(Date.now()) };
        case "sessions":
          return { ok: true, zxid: ns.zxid, result: this.sessions(call.limit, Date.now()) };
        case "watches":
          return { ok: true, zxid: ns.zxid, result: call.by === "session" ? this.bySession(call.limit) : this.byPath(call.limit) };
      }
    } catch (e) {
      console.error("edgekeeper: admin call failed", call.op, e);
      const err = e instanceof ZkError ? e : new ZkError(Code.SYSTEMERROR, `internal error while answering ${call.op}`);
      return { ok: false, zxid: ns.zxid, err: err.code, code: codeName(err.code), message: err.message };
    }
  }

  private rows(query: string, ...args: unknown[]): Row[] {
    return this.host.sql.exec<Row>(query, ...args).toArray();
  }

  private treeTotals(): TreeTotals {
    const zxid = this.host.ns.zxid;
    if (this.tree?.zxid !== zxid) {
      const r = this.rows(
        `SELECT count(*) AS n, total(length(data)) AS data, total(length(path)) AS paths, total(owner <> ?) AS eph FROM znodes`,
        NO_OWNER,
      )[0];
      this.tree = { zxid, totals: { znodes: r.n as number, dataBytes: r.data as number, pathChars: r.paths as number, ephemerals: r.eph as number } };
    }
    return this.tree.totals;
  }

  private logWindow(): LogWindow {
    const { ns } = this.host;
    const key = `${ns.zxid}/${ns.oldestReplayableZxid}`;
    if (this.log?.key !== key) {
      const r = this.rows(`SELECT count(*) AS n, min(zxid) AS lo, max(zxid) AS hi FROM change_log`)[0];
      this.log = { key, window: { rows: r.n as number, first: (r.lo as number | null) ?? 0, last: (r.hi as number | null) ?? 0 } };
    }
    return this.log.window;
  }

  /** Sessions by kind and whether a socket carries them, as persisted (one grouped count). */
  private sessionCounts(): Monitor["sessions"] {
    const out = { connected: 0, disconnected: 0, leases: 0 };
    for (const r of this.rows(`SELECT kind, connected, count(*) AS n FROM sessions GROUP BY kind, connected`)) {
      const n = r.n as number;
      if (isLeaseKind(r.kind as string)) out.leases += n;
      else if (r.connected === 1) out.connected += n;
      else out.disconnected += n;
    }
    return out;
  }

  monitor(now: number): Monitor {
    const { ns, server, http, telemetry: t, store } = this.host;
    const tree = this.treeTotals();
    const log = this.logWindow();
    const sessions = this.sessionCounts();
    const open = this.host.webSockets().filter((ws) => ws.readyState === WebSocket.OPEN);
    // A socket has a session when it carries one: its own, or (shared) a channel's.
    const withSession = open.filter((ws) => this.host.sockets.sessionsOn(ws).length > 0).length;
    const watches = ns.watches.countByKind();
    const { held, streams } = http.counts();
    const write = t.latency.write.summary();
    const read = t.latency.read.summary();
    const timed = write.count + read.count;
    return {
      server_state: "standalone",
      uptime: Math.max(0, now - t.startedAt),
      started_at: t.startedAt,
      zxid: ns.zxid,
      znode_count: tree.znodes,
      ephemerals_count: tree.ephemerals,
      approximate_data_size: tree.pathChars + tree.dataBytes,
      data_bytes: tree.dataBytes,
      num_alive_connections: open.length,
      connections_without_session: open.length - withSession,
      global_sessions: sessions.connected + sessions.disconnected + sessions.leases,
      sessions,
      watch_count: watches.data + watches.child + watches.persistent + watches.recursive,
      watches,
      http_held_requests: held,
      http_streams: streams,
      outstanding_requests: server.queued + held,
      ws_frames: t.frames,
      avg_latency: timed ? (write.sum + read.sum) / timed : 0,
      min_latency: timed ? Math.min(write.count ? write.min : Infinity, read.count ? read.min : Infinity) : 0,
      max_latency: Math.max(write.max, read.max),
      latency: { write, read },
      requests: { ws: t.requests.ws.toJSON(), http: t.requests.http.toJSON() },
      changelog: { oldest_replayable_zxid: ns.oldestReplayableZxid, first_zxid: log.first, last_zxid: log.last, rows: log.rows },
      node_cache: store.cacheStats(),
    };
  }

  /** ZooKeeper's cons, for every kind of session: the first `limit` by id. */
  sessions(limit: number, now: number): SessionList {
    const { ns, sockets, http, store } = this.host;
    const all = store.listSessions();
    const ephemerals = new Map<string, number>();
    for (const r of this.rows(`SELECT owner, count(*) AS n FROM znodes WHERE owner <> ? GROUP BY owner`, NO_OWNER)) ephemerals.set(r.owner as string, r.n as number);
    const watches = new Map<string, number>();
    for (const w of ns.watches.entries()) watches.set(w.session, (watches.get(w.session) ?? 0) + 1);
    const live = sockets.liveSessions();
    const list: SessionInfo[] = all.slice(0, limit).map((s) => {
      const lease = isLeaseKind(s.kind);
      const connected = !lease && live.has(s.id);
      const lastHeard = Math.max(s.lastSeen, ns.lastHeard(s.id), sockets.heardFrom(s.id), http.heardFrom(s.id));
      return {
        session_id: s.id,
        kind: s.kind,
        state: lease ? "lease" : connected ? "connected" : "disconnected",
        remote_socket_address: (connected ? sockets.of(s.id)?.ip : undefined) ?? s.identities.find((i) => i.scheme === "ip")?.id ?? null,
        identities: s.identities.map((i) => ({ scheme: i.scheme, id: i.id })),
        session_timeout: s.timeout,
        last_heard: lastHeard,
        expires_at: connected ? null : Math.max(now, lastHeard + s.timeout),
        watches: watches.get(s.id) ?? 0,
        ephemerals: ephemerals.get(s.id) ?? 0,
      };
    });
    return { count: all.length, truncated: all.length > limit, sessions: list };
  }

  /** Every watch, sorted by (first, second) key, cut after `limit` watches. */
  private grouped(limit: number, first: "session" | "path"): { total: number; truncated: boolean; map: Record<string, Record<string, WatchKind[]>> } {
    const second = first === "session" ? "path" : "session";
    const all = this.host.ns.watches.entries();
    all.sort((a, b) => cmp(a[first], b[first]) || cmp(a[second], b[second]) || cmp(a.kind, b.kind));
    const map: Record<string, Record<string, WatchKind[]>> = {};
    for (const w of all.slice(0, limit)) ((map[w[first]] ??= {})[w[second]] ??= []).push(w.kind);
    return { total: all.length, truncated: all.length > limit, map };
  }

  /** ZooKeeper's wchc: watches by session. */
  bySession(limit: number): WatchesBySession {
    const g = this.grouped(limit, "session");
    return { watch_count: g.total, truncated: g.truncated, session_id_to_watched_paths: g.map };
  }

  /** ZooKeeper's wchp: watches by path. */
  byPath(limit: number): WatchesByPath {
    const g = this.grouped(limit, "path");
    return { watch_count: g.total, truncated: g.truncated, path_to_session_ids: g.map };
  }
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
