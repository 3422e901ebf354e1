import { Code, ZkError } from "../core/errors.js";
import type { Delivery } from "../core/events.js";
import type { Namespace, Outcome } from "../core/namespace.js";
import type { Request } from "../core/requests.js";
import { connectError, eventMessage, responseMessage } from "./encode.js";
import { decodeConnect, decodeRequest, PROTOCOL_VERSION } from "./frames.js";
import { identitiesOf, WRITE_OPS, type Grant } from "./grant.js";
import { authIdentities } from "./digest.js";
import { InFlight } from "./in-flight.js";
import { RateLimiter } from "./rate-limit.js";
import { Outbox } from "./outbox.js";
import { MAX_CHANNELS } from "./wire.js";
import { utf8Length } from "../core/limits.js";

/**
 * A client connection as the protocol sees it, whatever runtime carries it. The Durable
 * Object adapts hibernatable WebSockets to this; a test can adapt anything else.
 */
export interface Connection {
  /** The session bound to this connection by its handshake, if any. */
  readonly session: string | undefined;
  /** The client's address, its first identity (ZooKeeper's ip scheme). */
  readonly ip: string;
  /** What the caller's token allows (src/protocol/grant.ts), established by the Worker at the upgrade. */
  readonly grant: Grant;
  bind(session: string): void;
  /** A frame arrived now: remember it where it outlives hibernation. */
  heard(now: number): void;
  send(text: string): void;
  close(code: number, reason: string): void;
  /**
   * A connection that speaks another encoding (ZooKeeper's binary protocol, src/protocol/jute)
   * writes the messages the Outbox collected for it itself, in order, instead of one JSON frame.
   */
  write?(messages: unknown[]): void;

  // A shared socket carries channels, each a Connection with its own session (docs/protocol.md §10).
  /** This socket is shared: its frames are envelopes of channel frames. */
  readonly shared?: boolean;
  /** A shared socket's channel `ch`. */
  channel?(ch: number): Connection;
  /** A shared socket's channels that have a session. */
  channels?(): Connection[];
  /** For a channel: the socket that carries it, its number, and how it forgets its session. */
  readonly carrier?: Connection;
  readonly ch?: number;
  unbind?(): void;
}

/**
 * Runs one request for either protocol. A failure that is not a ZooKeeper error (a storage
 * fault, a bug) rolls the request back and is reported as SYSTEMERROR; it never takes the
 * object or other clients down with it.
 */
export function executeSafely(ns: Namespace, session: string, request: Request, now: number): Outcome {
  try {
    return ns.execute(session, request, now);
  } catch (e) {
    console.error("edgekeeper: request failed", request.op, e);
    ns.recover();
    return { zxid: ns.zxid, error: new ZkError(Code.SYSTEMERROR, `internal error while applying ${request.op}`), deliveries: [] };
  }
}

/** Requests in a frame: a batch's length, else one. */
const requestCount = (msg: unknown): number => (Array.isArray(msg) ? msg.length : 1);

/** Requests in a shared socket's frame, all envelopes together. */
const sharedRequestCount = (msg: unknown): number =>
  (Array.isArray(msg) ? msg : [msg]).reduce((n: number, e) => n + ((e as { f?: unknown } | null)?.f === undefined ? 0 : requestCount((e as { f: unknown }).f)), 0);

/** Refuses a handshake: a connect-error with the versions this server speaks, then close 4000+|code|. */
function refuseHandshake(out: Outbox, conn: Connection, err: number, message: string, reason: string): void {
  out.push(conn, connectError(err, message, { versions: [PROTOCOL_VERSION] }));
  out.closeAfter(conn, CloseCode.error(err), reason);
}

/**
 * A session moves to `conn` (a handshake opened or resumed it there, in either protocol): the
 * connection that carried it before is told and closed (4118), and `conn` carries it now.
 */
export function attachSession(conns: ConnectionDirectory, conn: Connection, id: string, out: Outbox): void {
  const previous = conns.of(id);
  if (previous && previous !== conn) {
    out.push(previous, { type: "session", state: "moved" });
    out.closeAfter(previous, CloseCode.moved, "session moved to another connection");
  }
  conn.bind(id);
  conns.set(id, conn);
}

/**
 * `conn` stops carrying its session (it is being closed, or a channel is done): if it still is
 * the session's connection, the session is detached and counts down its timeout.
 */
export function releaseSession(ns: Namespace, conns: ConnectionDirectory, conn: Connection, now: number): void {
  const session = conn.session;
  if (session !== undefined && conns.of(session) === conn) {
    conns.delete(session);
    ns.detach(session, now);
  }
}


/** Finds the live connection of a session, if it has one. */
export interface ConnectionDirectory {
  of(session: string): Connection | undefined;
  set(session: string, conn: Connection): void;
  delete(session: string): void;
  /** When the session's connection last showed life outside any frame (auto-answered pings), ms or 0. */
  heardFrom?(session: string): number;
}

export interface Limits {
  maxFrameBytes: number;
  maxBatch: number;
  /** Share one storage commit among frames from several connections (see accept). */
  groupCommit: boolean;
  /** Open WebSockets per namespace; the object refuses the upgrade beyond it (docs/limits.md). */
  maxConnections: number;
  /** Requests queued for a group commit per connection (src/protocol/in-flight.ts). */
  maxInFlight: number;
  /** Requests per second per session, and the burst above it (src/protocol/rate-limit.ts). */
  requestRate: number;
  requestBurst: number;
}

/** A client frame as read: its JSON, or why it could not be read. */
type Frame = { msg: unknown } | { error: ZkError };

/** WebSocket close codes: 4000 + |ZooKeeper code| for session ends, like the handshake's. */
export const CloseCode = {
  normal: 1000,
  expired: 4000 - Code.SESSIONEXPIRED,
  moved: 4000 - Code.SESSIONMOVED,
  error: (code: number) => 4000 - code,
} as const;

/**
 * The JSON WebSocket protocol over a Namespace: handshakes, batches, responses and events.
 * Every frame is handled synchronously from start to finish, so a batch is one storage
 * commit; all messages for a connection produced by one frame leave as one frame, events
 * always ahead of the responses that reflect them.
 */
export class SessionServer {
  private readonly inflight: InFlight<Connection>;
  /** Request rate per session (docs/limits.md), whichever protocol the session speaks. */
  readonly rates: RateLimiter;

  constructor(
    private readonly ns: Namespace,
    private readonly conns: ConnectionDirectory,
    private readonly limits: Limits,
  ) {
    this.inflight = new InFlight(limits.maxInFlight);
    this.rates = new RateLimiter(limits.requestRate, limits.requestBurst);
  }

  /** Frames waiting for the next group commit, in arrival order, with how many of their requests may run. */
  private pending: Array<{ conn: Connection; frame: Frame; admitted: number }> = [];

  /** How many frames wait for the next group commit. */
  get queued(): number {
    return this.pending.length;
  }

  /** Told of every request answered (handshakes as "connect", undecodable ones as "invalid") with its code, 0 for ok: metrics. */
  onRequest: ((op: string, err: number) => void) | undefined;

  /**
   * Takes a frame from a connection. A frame that may write is queued for the next group
   * commit (and so is anything behind it, to keep every connection's order); the caller
   * must then call `drain` soon, in a later event — returns true when it has to schedule
   * one. A frame that only reads, with nothing queued, is answered at once.
   *
   * Why: every event of a Durable Object that writes ends with its own synchronous SQLite
   * commit, and each WebSocket message is its own event. Frames from independent sessions
   * would each pay a commit; queued, all the frames that arrive while one drain is pending
   * share one — ZooKeeper's group commit, across sessions (docs/benchmarks.md).
   */
  accept(conn: Connection, raw: string | ArrayBuffer, now: number): boolean {
    if (this.pending.length === 0 && (conn.session !== undefined || conn.shared) && (!this.limits.groupCommit || !mayWrite(raw) || !this.contended(conn, now))) {
      this.onMessage(conn, raw, now);
      return false;
    }
    const frame = this.read(raw);
    let admitted = Infinity;
    if ("msg" in frame && conn.shared) {
      // A shared socket is one connection: its channels' requests count together.
      const n = sharedRequestCount(frame.msg);
      if (n <= this.limits.maxBatch) admitted = this.inflight.admit(conn, n);
    } else if ("msg" in frame && conn.session !== undefined) {
      const n = requestCount(frame.msg);
      if (n <= this.limits.maxBatch) admitted = this.inflight.admit(conn, n);
      // Refused outright: keep only what its answers need, not the requests.
      if (admitted === 0) frame.msg = Array.isArray(frame.msg) ? frame.msg.map((m) => ({ xid: xidOf(m) })) : { xid: xidOf(frame.msg) };
    }
    this.pending.push({ conn, frame, admitted });
    return this.pending.length === 1;
  }

  private lastWriter: Connection | undefined;
  private lastWriteAt = 0;

  /**
   * Whether writes are arriving from more than one connection at once — only then is there
   * anything to share a commit with. A lone writer is applied at once, so its latency never
   * pays for the wait.
   */
  private contended(conn: Connection, now: number): boolean {
    const busy = this.lastWriter !== undefined && this.lastWriter !== conn && now - this.lastWriteAt <= CONTENTION_WINDOW_MS;
    this.lastWriter = conn;
    this.lastWriteAt = now;
    return busy;
  }

  /** Applies every queued frame, in arrival order, in this one event: one storage commit. */
  drain(now: number): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.inflight.clear();
    const out = new Outbox();
    try {
      for (const f of batch) this.handleSafely(f.conn, f.frame, now, out, f.admitted);
    } finally {
      out.flush();
    }
  }

  /** Handles one frame at once (used when nothing is queued ahead of it). */
  onMessage(conn: Connection, raw: string | ArrayBuffer, now: number): void {
    const out = new Outbox();
    try {
      this.handleSafely(conn, this.read(raw), now, out, Infinity);
    } finally {
      out.flush();
    }
  }

  /**
   * A frame that fails in an unexpected way (a storage fault, a bug) is answered with
   * SYSTEMERROR and changes nothing; the frames around it, and other clients, carry on.
   */
  private handleSafely(conn: Connection, frame: Frame, now: number, out: Outbox, admitted: number): void {
    try {
      this.handle(conn, frame, now, out, admitted);
    } catch (e) {
      console.error("edgekeeper: frame failed", e);
      this.ns.recover();
      out.push(conn, responseMessage(null, this.ns.zxid, undefined, new ZkError(Code.SYSTEMERROR, "internal error while handling this frame")));
    }
  }

  /** Reads a frame: its JSON, or the error for a frame too large, binary or not JSON. */
  private read(raw: string | ArrayBuffer): Frame {
    // The limit is in UTF-8 bytes; a string can only exceed it once 3 × its length does.
    const size =
      typeof raw !== "string" ? raw.byteLength : raw.length * 3 <= this.limits.maxFrameBytes ? raw.length : utf8Length(raw);
    if (size > this.limits.maxFrameBytes)
      return { error: new ZkError(Code.MARSHALLINGERROR, `frame of ${size} bytes exceeds the ${this.limits.maxFrameBytes}-byte limit (EDGEKEEPER_MAX_FRAME_BYTES)`) };
    if (typeof raw !== "string") return { error: new ZkError(Code.MARSHALLINGERROR, "binary frames are not part of protocol v1; send JSON text") };
    try {
      return { msg: JSON.parse(raw) };
    } catch {
      return { error: new ZkError(Code.MARSHALLINGERROR, "frame is not valid JSON") };
    }
  }

  private handle(conn: Connection, frame: Frame, now: number, out: Outbox, admitted: number): void {
    if (conn.shared && !("error" in frame)) return this.handleShared(conn, frame.msg, now, out, admitted);
    if ("error" in frame) {
      out.push(conn, responseMessage(null, this.ns.zxid, undefined, frame.error));
      return;
    }
    const msg = frame.msg;
    const session = conn.session;
    if (session === undefined) return this.handshake(conn, msg, now, out);
    if (this.ns.getSession(session) === undefined) {
      out.push(conn, { type: "session", state: "expired" });
      out.closeAfter(conn, CloseCode.expired, "session expired");
      return;
    }
    if (conn.grant.expiresAt !== undefined && conn.grant.expiresAt <= now) return this.endExpiredToken(conn, out, now);
    this.ns.touch(session, now);
    conn.heard(now);
    const items = Array.isArray(msg) ? msg : [msg];
    if (items.length > this.limits.maxBatch) {
      out.push(conn, responseMessage(null, this.ns.zxid, undefined, new ZkError(Code.THROTTLEDOP, `a batch holds at most ${this.limits.maxBatch} requests (EDGEKEEPER_MAX_BATCH); this one has ${items.length}`)));
      return;
    }
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (i >= admitted) {
        out.push(conn, responseMessage(xidOf(item), this.ns.zxid, undefined, this.inflight.refusal()));
        continue;
      }
      const op = (item as { op?: unknown } | null)?.op;
      if (op !== "ping" && op !== "close") {
        const wait = this.rates.take(session, now);
        if (wait > 0) {
          out.push(conn, responseMessage(xidOf(item), this.ns.zxid, { retryAfterMs: wait }, this.rates.refusal(wait)));
          continue;
        }
      }
      if ((item as { type?: unknown })?.type === "connect") {
        out.push(conn, responseMessage(null, this.ns.zxid, undefined, new ZkError(Code.BADARGUMENTS, "this connection already has a session")));
        continue;
      }
      const decoded = decodeRequest(item);
      if ("error" in decoded) {
        this.onRequest?.("invalid", decoded.error.code);
        out.push(conn, responseMessage(decoded.xid, this.ns.zxid, undefined, decoded.error));
        continue;
      }
      if (WRITE_OPS.has(decoded.request.op) && !conn.grant.write) {
        out.push(conn, responseMessage(decoded.xid, this.ns.zxid, undefined, new ZkError(Code.NOAUTH, `${decoded.request.op} needs the write right, which this connection's token does not grant`)));
        continue;
      }
      const outcome = this.execute(session, decoded.request, now);
      this.onRequest?.(decoded.request.op, outcome.error?.code ?? 0);
      this.route(outcome.deliveries, out);
      out.push(conn, responseMessage(decoded.xid, outcome.zxid, outcome.result, outcome.error));
      if (outcome.closed) {
        this.conns.delete(session);
        this.rates.forget(session);
        out.closeAfter(conn, CloseCode.normal, "session closed");
        return;
      }
    }
  }

  /**
   * A shared socket's frame: envelopes `{"ch": n, "f": <frame>}` (a channel's frame, handled
   * exactly as if it had arrived on a socket of its own) and `{"ch": n, "close": true}` (the
   * channel is done: its session is detached, as when a socket closes). All of it is one event,
   * so one storage commit, and everything for the socket's channels leaves in one message.
   */
  private handleShared(conn: Connection, msg: unknown, now: number, out: Outbox, admitted: number): void {
    const envelopes = Array.isArray(msg) ? msg : [msg];
    // The batch and in-flight limits hold for the whole shared frame: its envelopes' requests together.
    const requests = sharedRequestCount(msg);
    if (requests > this.limits.maxBatch) {
      out.push(conn, responseMessage(null, this.ns.zxid, undefined, new ZkError(Code.THROTTLEDOP, `a shared frame holds at most ${this.limits.maxBatch} requests (EDGEKEEPER_MAX_BATCH) across its envelopes; this one has ${requests}`)));
      return;
    }
    for (const env of envelopes as Array<{ ch?: unknown; f?: unknown; close?: unknown }>) {
      const ch = env?.ch;
      if (typeof ch !== "number" || !Number.isSafeInteger(ch) || ch < 1 || (env.f === undefined) === (env.close !== true)) {
        out.push(conn, responseMessage(null, this.ns.zxid, undefined, new ZkError(Code.BADARGUMENTS, 'a shared socket carries envelopes {"ch": <positive integer>, "f": <frame>} or {"ch": n, "close": true}')));
        continue;
      }
      const chan = conn.channel!(ch);
      if (env.close === true) {
        this.detachChannel(chan, now);
        continue;
      }
      if (chan.session === undefined && conn.channels!().length >= MAX_CHANNELS) {
        refuseHandshake(out, chan, Code.THROTTLEDOP, `a shared socket carries at most ${MAX_CHANNELS} sessions; open another socket`, "too many channels");
        continue;
      }
      this.handle(chan, { msg: env.f }, now, out, admitted);
      admitted = Math.max(0, admitted - requestCount(env.f));
    }
  }

  /** A channel's session leaves it (the client closed the channel): detached, counting down its timeout. */
  private detachChannel(chan: Connection, now: number): void {
    releaseSession(this.ns, this.conns, chan, now);
    chan.unbind?.();
  }

  private execute(session: string, request: Request, now: number): Outcome {
    return executeSafely(this.ns, session, request, now);
  }

  private handshake(conn: Connection, msg: unknown, now: number, out: Outbox): void {
    if ((msg as { type?: unknown } | null)?.type !== "connect") {
      const xid = (msg as { xid?: unknown } | null)?.xid;
      out.push(conn, responseMessage(typeof xid === "number" && Number.isSafeInteger(xid) && xid >= 0 ? xid : null, this.ns.zxid, undefined, new ZkError(Code.BADARGUMENTS, "handshake required: send a connect frame first")));
      return;
    }
    if (!conn.grant.read) {
      refuseHandshake(out, conn, Code.NOAUTH, "this connection's token grants nothing on this namespace", "no rights");
      return;
    }
    if (conn.grant.expiresAt !== undefined && conn.grant.expiresAt <= now) return this.endExpiredToken(conn, out, now);
    try {
      const hello = decodeConnect(msg);
      const identities = identitiesOf(conn.grant, conn.ip);
      for (const a of hello.auth ?? []) identities.push(...authIdentities(a.scheme, a.auth));
      const opened = this.ns.open(
        {
          timeout: hello.timeout,
          sessionId: hello.sessionId,
          secret: hello.secret,
          lastZxid: hello.lastZxid,
          watches: hello.watches,
          identities,
          heardAt: hello.sessionId === undefined ? undefined : this.conns.heardFrom?.(hello.sessionId),
        },
        now,
      );
      const id = opened.session.id;
      attachSession(this.conns, conn, id, out);
      out.push(conn, {
        type: "connected",
        v: PROTOCOL_VERSION,
        sessionId: id,
        secret: opened.session.secret,
        timeout: opened.session.timeout,
        zxid: opened.zxid,
        resumed: opened.resumed,
        ttlEnabled: this.ns.config.ttlEnabled,
        maxDataBytes: this.ns.config.maxDataBytes,
        maxFrameBytes: this.limits.maxFrameBytes,
        maxBatch: this.limits.maxBatch,
      });
      this.onRequest?.("connect", 0);
      if (opened.resync) out.push(conn, { type: "resync", ...opened.resync, zxid: opened.zxid });
      for (const event of opened.replay) out.push(conn, eventMessage(event));
    } catch (e) {
      if (!(e instanceof ZkError)) throw e;
      this.onRequest?.("connect", e.code);
      refuseHandshake(out, conn, e.code, e.message, e.message.slice(0, 120));
    }
  }

  /** Sends events to the sessions they are for; sessions without a connection replay them on resume. */
  route(deliveries: readonly Delivery[], out: Outbox): void {
    // One message object per event, shared by every session it goes to, so the Outbox
    // serializes it once however wide the fan-out.
    let last: Delivery["event"] | undefined;
    let message: unknown;
    for (const d of deliveries) {
      const c = this.conns.of(d.session);
      if (!c) continue;
      if (d.event !== last) (last = d.event), (message = eventMessage(d.event));
      out.push(c, message);
    }
  }

  /**
   * The token a connection was opened with has expired: the client is told, and the socket is
   * closed with 4115 (AUTHFAILED). The session is not ended — it counts down its timeout like
   * any session whose socket went away, so a client that reconnects with a fresh token resumes
   * it with its ephemeral nodes and watches.
   */
  tokenExpired(conn: Connection, now: number): void {
    const out = new Outbox();
    for (const chan of conn.channels?.() ?? []) this.endExpiredToken(chan, out, now);
    this.endExpiredToken(conn, out, now);
    out.flush();
  }

  private endExpiredToken(conn: Connection, out: Outbox, now: number): void {
    releaseSession(this.ns, this.conns, conn, now);
    out.push(conn, { type: "session", state: "token-expired", err: Code.AUTHFAILED, code: "AUTHFAILED", message: "the connection's bearer token has expired: reconnect with a fresh one to resume the session" });
    out.closeAfter(conn, CloseCode.error(Code.AUTHFAILED), "token expired");
  }

  /** Delivers events and session ends that happened outside any frame (timers). */
  deliver(deliveries: readonly Delivery[], expired: readonly string[]): void {
    const out = new Outbox();
    this.route(deliveries, out);
    for (const id of expired) {
      const c = this.conns.of(id);
      this.rates.forget(id);
      if (!c) continue;
      this.conns.delete(id);
      out.push(c, { type: "session", state: "expired" });
      out.closeAfter(c, CloseCode.expired, "session expired");
    }
    out.flush();
  }
}

/** The xid of a request as the client sent it, if it is a usable one. */
function xidOf(item: unknown): number | null {
  const x = (item as { xid?: unknown } | null)?.xid;
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0 ? x : null;
}

/** Writes from two connections this close together (ms) mean a group commit pays off. */
const CONTENTION_WINDOW_MS = 2;

/** The ops that write (WRITE_OPS), and `close`, which ends a session in a transaction. */
const WRITE_OP = new RegExp(`"op"\\s*:\\s*"(?:${[...WRITE_OPS, "close"].join("|")})"`);

/** Whether a raw frame may contain a write (false positives only cost a short wait). */
function mayWrite(raw: string | ArrayBuffer): boolean {
  return typeof raw !== "string" || WRITE_OP.test(raw);
}
