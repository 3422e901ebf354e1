import { summarySamples, type LatencySummary, type MetricFamily, type Sample, type Tallied } from "../core/metrics.js";
import type { WatchKind } from "../core/store.js";
import type { ApiError } from "./api.js";

/**
 * The admin contract between the admin routes (src/routes/admin.ts, in the edge Worker) and the
 * namespace's Durable Object (src/objects/admin.ts), over typed RPC: ZooKeeper's four-letter
 * words / AdminServer commands for one namespace (docs/admin.md). Field names follow
 * ZooKeeper's mntr, cons, wchc and wchp where they have one, in their snake_case.
 */

export type AdminCall =
  | { op: "ruok" }
  | { op: "monitor" }
  | { op: "sessions"; limit: number }
  | { op: "watches"; by: "session" | "path"; limit: number };

export type AdminReply<R = unknown> = { ok: true; zxid: number; result: R } | ApiError;

/** The RPC surface the object offers the admin routes. Answering never writes to storage. */
export interface AdminTarget {
  admin(call: AdminCall): Promise<AdminReply>;
}

export interface Monitor {
  /** ZooKeeper's server_state: one object is a standalone server. */
  server_state: "standalone";
  /** ms since this instance of the namespace's object started: every count below starts then. */
  uptime: number;
  /** When this instance started (ms since the epoch). */
  started_at: number;
  /** The last committed transaction. */
  zxid: number;
  /** Every znode, the root and /zookeeper's included (as ZooKeeper counts them). */
  znode_count: number;
  ephemerals_count: number;
  /** ZooKeeper's approximate_data_size: the sum over znodes of path length + data bytes. */
  approximate_data_size: number;
  /** The sum of the znodes' data bytes. */
  data_bytes: number;
  /** Open WebSockets. */
  num_alive_connections: number;
  /** Open WebSockets that have not completed a handshake. */
  connections_without_session: number;
  /** Sessions of any kind (ZooKeeper's global_sessions). */
  global_sessions: number;
  sessions: {
    /** WebSocket sessions with a socket. */
    connected: number;
    /** WebSocket sessions whose socket went, alive until their timeout (they may resume). */
    disconnected: number;
    /** HTTP leases (those made for one lock, semaphore or election grant included). */
    leases: number;
  };
  /** Watches of WebSocket sessions (ZooKeeper's watch_count). */
  watch_count: number;
  watches: Record<WatchKind, number>;
  /** HTTP requests held by the object (lock, semaphore and election waiters; long-polls). */
  http_held_requests: number;
  /** Open Server-Sent Events streams (watches, election observers). */
  http_streams: number;
  /** Frames queued for the next group commit plus held HTTP requests. */
  outstanding_requests: number;
  /** WebSocket frames received (a batch frame is one), handshakes included. */
  ws_frames: number;
  /** ZooKeeper's avg/min/max_latency over every timed frame and call (ms). */
  avg_latency: number;
  min_latency: number;
  max_latency: number;
  /** Frames and calls that wrote (arrival → durable commit) and those that did not (arrival → reply), ms. */
  latency: { write: LatencySummary; read: LatencySummary };
  /** Requests by operation: WebSocket requests (and `connect` handshakes, `invalid` undecodable requests), HTTP calls. */
  requests: { ws: Record<string, Tallied>; http: Record<string, Tallied> };
  changelog: {
    /** A resume or watch from any zxid at or after this one is replayed exactly; before it: resync. */
    oldest_replayable_zxid: number;
    /** The lowest and highest zxid in the log (0 when it is empty). */
    first_zxid: number;
    last_zxid: number;
    /** Rows in the log (a multi or a session close writes several). */
    rows: number;
  };
  /** The in-memory cache of hot znodes in front of SQLite (hits and misses since start). */
  node_cache: { entries: number; bytes: number; max_entries: number; max_bytes: number; hits: number; misses: number };
}

export interface SessionInfo {
  session_id: string;
  /** "ws", "zk" (ZooKeeper's binary protocol), "lease", or "lease:grant" (a lease made for one grant, revoked with it). */
  kind: string;
  state: "connected" | "disconnected" | "lease";
  /** The address of its socket (connected), else the ip identity it was created with. */
  remote_socket_address: string | null;
  /** Its identities (scheme and id; never a secret). */
  identities: Array<{ scheme: string; id: string }>;
  /** The negotiated timeout (a lease: its TTL), ms. */
  session_timeout: number;
  /** Last sign of life the server knows of (ms since the epoch). */
  last_heard: number;
  /** When it expires unless heard from (ms since the epoch); null while a socket carries it. */
  expires_at: number | null;
  /** Its watches (WebSocket sessions) and ephemeral nodes. */
  watches: number;
  ephemerals: number;
}

export interface SessionList {
  /** Sessions in the namespace; `sessions` lists the first `limit` by id. */
  count: number;
  truncated: boolean;
  sessions: SessionInfo[];
}

export interface WatchesBySession {
  watch_count: number;
  truncated: boolean;
  /** ZooKeeper's wchc: session → watched path → the kinds of watch on it. */
  session_id_to_watched_paths: Record<string, Record<string, WatchKind[]>>;
}

export interface WatchesByPath {
  watch_count: number;
  truncated: boolean;
  /** ZooKeeper's wchp: path → watching session → the kinds of watch on it. */
  path_to_session_ids: Record<string, Record<string, WatchKind[]>>;
}

// ------------------------------------------------------------------ Prometheus

const P = "edgekeeper_";

const gauge = (name: string, help: string, value: number | Sample[]): MetricFamily => ({
  name: P + name,
  help,
  type: "gauge",
  samples: typeof value === "number" ? [{ value }] : value,
});

const counter = (name: string, help: string, samples: Sample[]): MetricFamily => ({ name: P + name, help, type: "counter", samples });

/** The families of GET …/admin/metrics: the monitor's numbers, under edgekeeper_* names (latency in seconds). */
export function monitorFamilies(m: Monitor): MetricFamily[] {
  const byOp = (pick: (t: Tallied) => number): Sample[] =>
    (["ws", "http"] as const).flatMap((transport) => Object.entries(m.requests[transport]).map(([op, t]) => ({ labels: { transport, op }, value: pick(t) })));
  const kinds = ["write", "read"] as const;
  return [
    gauge("uptime_seconds", "Seconds since this instance of the namespace's Durable Object started (counters start from zero then).", m.uptime / 1000),
    gauge("start_time_seconds", "When this instance of the namespace's Durable Object started, seconds since the epoch.", m.started_at / 1000),
    gauge("zxid", "The last committed transaction's zxid.", m.zxid),
    gauge("znode_count", "Znodes, the root and /zookeeper included.", m.znode_count),
    gauge("ephemerals_count", "Ephemeral znodes.", m.ephemerals_count),
    gauge("approximate_data_size", "Sum over znodes of path length and data bytes (ZooKeeper's approximate_data_size).", m.approximate_data_size),
    gauge("data_bytes", "Sum of the znodes' data bytes.", m.data_bytes),
    gauge("num_alive_connections", "Open WebSockets.", m.num_alive_connections),
    gauge("connections_without_session", "Open WebSockets without a completed handshake.", m.connections_without_session),
    gauge("sessions", "Sessions by state: WebSocket sessions with a socket (connected) or waiting to resume (disconnected), HTTP leases (lease).", [
      { labels: { state: "connected" }, value: m.sessions.connected },
      { labels: { state: "disconnected" }, value: m.sessions.disconnected },
      { labels: { state: "lease" }, value: m.sessions.leases },
    ]),
    gauge("watch_count", "Watches of WebSocket sessions.", m.watch_count),
    gauge("watches", "Watches of WebSocket sessions by kind.", Object.entries(m.watches).map(([kind, value]) => ({ labels: { kind }, value }))),
    gauge("http_held_requests", "HTTP requests held by the object (lock, semaphore and election waiters, long-polls).", m.http_held_requests),
    gauge("http_streams", "Open Server-Sent Events streams.", m.http_streams),
    gauge("outstanding_requests", "WebSocket frames queued for the next group commit plus held HTTP requests.", m.outstanding_requests),
    counter("ws_frames_total", "WebSocket frames received since the instance started (a batch is one frame).", [{ value: m.ws_frames }]),
    counter("requests_total", "Requests since the instance started, by transport and operation.", byOp((t) => t.count)),
    counter("request_errors_total", "Requests answered with a ZooKeeper error code, by transport and operation.", byOp((t) => t.errors)),
    {
      name: P + "latency_seconds",
      help: "Frames and HTTP calls from arrival at the object to their durable commit (kind=write) or reply (kind=read).",
      type: "summary",
      samples: summarySamples(kinds.map((kind) => ({ labels: { kind }, summary: m.latency[kind] })), 1 / 1000),
    },
    gauge("latency_max_seconds", "Longest latency since the instance started.", kinds.map((kind) => ({ labels: { kind }, value: m.latency[kind].max / 1000 }))),
    gauge("changelog_oldest_replayable_zxid", "Resumes and watches from this zxid on are replayed exactly; from before it they get a resync.", m.changelog.oldest_replayable_zxid),
    gauge("changelog_first_zxid", "Lowest zxid in the change log (0 when empty).", m.changelog.first_zxid),
    gauge("changelog_last_zxid", "Highest zxid in the change log (0 when empty).", m.changelog.last_zxid),
    gauge("changelog_rows", "Rows in the change log.", m.changelog.rows),
    gauge("node_cache_entries", "Znodes in the in-memory node cache.", m.node_cache.entries),
    gauge("node_cache_bytes", "Estimated bytes held by the node cache.", m.node_cache.bytes),
    counter("node_cache_hits_total", "Node cache lookups that hit since the instance started.", [{ value: m.node_cache.hits }]),
    counter("node_cache_misses_total", "Node cache lookups that missed (read SQLite) since the instance started.", [{ value: m.node_cache.misses }]),
  ];
}
