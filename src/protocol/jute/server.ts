import type { ACL } from "../../core/acl.js";
import { CreateMode } from "../../core/create-mode.js";
import { Code, ZkError, type CodeNumber } from "../../core/errors.js";
import type { WatchEvent } from "../../core/events.js";
import type { Namespace, Outcome } from "../../core/namespace.js";
import type { MultiOp, MultiReadOp, Request, WatcherType } from "../../core/requests.js";
import type { Stat } from "../../core/stat.js";
import { authIdentities } from "../digest.js";
import { identitiesOf, WRITE_OPS } from "../grant.js";
import { RateLimiter } from "../rate-limit.js";
import { attachSession, CloseCode, executeSafely, releaseSession, type Connection, type ConnectionDirectory, type Limits, type SessionServer } from "../session-server.js";
import { Outbox } from "../outbox.js";
import { JuteError, JuteReader, JuteWriter } from "./io.js";
import {
  connectResponse,
  notification,
  OpCode,
  readAcl,
  readConnectRequest,
  replyHeader,
  secretFromBytes,
  secretToBytes,
  sessionIdFromLong,
  sessionIdToLong,
  writeAcl,
  writeMultiHeader,
  writeStat,
} from "./records.js";

/** The header by which the Worker tells the object an upgrade is for the binary protocol (set by the Worker only). */
export const WIRE_HEADER = "Edgekeeper-Wire";

/**
 * A message for a jute connection as it goes on the wire, or undefined for what ZooKeeper's
 * protocol has no packet for (the JSON protocol's session notices: a jute client learns of an
 * expired or moved session from the close, and from its next connect). Packets the JuteServer
 * built are bytes already; watch events routed by the SessionServer become notifications.
 */
export function juteMessage(m: unknown): Uint8Array | undefined {
  if (m instanceof Uint8Array) return m;
  const e = m as { type?: unknown } & WatchEvent;
  if (e?.type === "event") return notification(e);
  return undefined;
}

/** What a request becomes in the core, and how its result is written back. */
interface Decoded {
  request: Request;
  /** Writes the reply body for a successful outcome (nothing for bodiless replies). */
  body?: (w: JuteWriter, result: Record<string, unknown>) => void;
  /** exists: ZooKeeper answers a missing node with NONODE and no body. */
  exists?: boolean;
}

/**
 * ZooKeeper's binary client protocol over binary WebSocket messages, one packet per message
 * without the TCP length prefix (docs/zookeeper-compat.md). The first packet is a
 * ConnectRequest; every later one a RequestHeader and its record. Requests go to the same
 * core as the JSON protocol's, and events reach a jute session through the SessionServer's
 * routing (the connection's `write` turns them into WatcherEvent notifications), so a session
 * sees the same nodes and watches from either protocol.
 */
export class JuteServer {

  /** Told of every request answered, with its code (0 for ok): metrics. */
  onRequest: ((op: string, err: number) => void) | undefined;

  constructor(
    private readonly ns: Namespace,
    private readonly conns: ConnectionDirectory,
    private readonly sessions: SessionServer,
    private readonly limits: Limits,
  ) {}

  /** A session's request rate is one bucket, kept (and forgotten at its end) by the SessionServer. */
  private get rates(): RateLimiter {
    return this.sessions.rates;
  }

  /** Handles one packet. Nothing in it can take the object or another client down. */
  onPacket(conn: Connection, raw: string | ArrayBuffer, now: number): void {
    const out = new Outbox();
    try {
      this.handle(conn, raw, now, out);
    } catch (e) {
      console.error("edgekeeper: zookeeper packet failed", e);
      this.ns.recover();
      this.drop(conn, out, CloseCode.error(Code.SYSTEMERROR), "internal error", now);
    } finally {
      out.flush();
    }
  }

  /** Ends a connection the way ZooKeeper does on a bad packet: closed; its session counts down its timeout. */
  private drop(conn: Connection, out: Outbox, code: number, reason: string, now: number): void {
    releaseSession(this.ns, this.conns, conn, now);
    out.closeAfter(conn, code, reason.slice(0, 120));
  }

  private handle(conn: Connection, raw: string | ArrayBuffer, now: number, out: Outbox): void {
    if (typeof raw === "string") return this.drop(conn, out, CloseCode.error(Code.MARSHALLINGERROR), "the zookeeper protocol is binary: one packet per binary message", now);
    if (raw.byteLength > this.limits.maxFrameBytes)
      return this.drop(conn, out, CloseCode.error(Code.MARSHALLINGERROR), `packet of ${raw.byteLength} bytes exceeds the ${this.limits.maxFrameBytes}-byte limit (EDGEKEEPER_MAX_FRAME_BYTES)`, now);
    const r = new JuteReader(new Uint8Array(raw));
    const session = conn.session;
    if (session === undefined) return this.connect(conn, r, now, out);
    if (this.ns.getSession(session) === undefined) {
      this.conns.delete(session);
      out.closeAfter(conn, CloseCode.expired, "session expired");
      return;
    }
    if (conn.grant.expiresAt !== undefined && conn.grant.expiresAt <= now) {
      this.sessions.tokenExpired(conn, now);
      return;
    }
    this.ns.touch(session, now);
    conn.heard(now);
    let xid: number;
    let type: number;
    try {
      xid = r.int();
      type = r.int();
    } catch {
      return this.drop(conn, out, CloseCode.error(Code.MARSHALLINGERROR), "packet too short for a request header", now);
    }
    const reply = (err: number, zxid = this.ns.zxid, body?: (w: JuteWriter) => void) => {
      const w = replyHeader(xid, zxid, err);
      if (err === 0) body?.(w);
      out.push(conn, w.bytes());
    };
    if (type === OpCode.ping) return reply(0);
    if (type === OpCode.closeSession) {
      const outcome = this.execute(session, { op: "close" }, now);
      this.sessions.route(outcome.deliveries, out);
      reply(outcome.error?.code ?? 0, outcome.zxid);
      this.conns.delete(session);
      this.rates.forget(session);
      out.closeAfter(conn, CloseCode.normal, "session closed");
      return;
    }
    const wait = this.rates.take(session, now);
    if (wait > 0) return reply(Code.THROTTLEDOP);
    let decoded: Decoded;
    try {
      decoded = decode(type, r);
    } catch (e) {
      if (e instanceof JuteError) {
        this.onRequest?.("invalid", Code.MARSHALLINGERROR);
        return reply(Code.MARSHALLINGERROR);
      }
      if (e instanceof ZkError) {
        this.onRequest?.("invalid", e.code);
        if (type === OpCode.auth) return this.authFailed(conn, xid, out);
        return reply(e.code);
      }
      throw e;
    }
    const { request } = decoded;
    if (WRITE_OPS.has(request.op) && !conn.grant.write) return reply(Code.NOAUTH);
    const outcome = this.execute(session, request, now);
    this.onRequest?.(request.op, outcome.error?.code ?? 0);
    // Events first: a client sees a change's event before any response that reflects it.
    this.sessions.route(outcome.deliveries, out);
    if (type === OpCode.auth && outcome.error) return this.authFailed(conn, xid, out);
    if (request.op === "multi" && outcome.result?.results) {
      // ZooKeeper answers a failed multi with err 0 in the header and the errors in its results.
      const results = outcome.result.results as Array<Record<string, unknown>>;
      return reply(0, outcome.zxid, (w) => writeMultiResults(w, request.ops, results));
    }
    if (outcome.error) return reply(outcome.error.code, outcome.zxid);
    const result = outcome.result ?? {};
    if (decoded.exists && result.stat === null) return reply(Code.NONODE, outcome.zxid);
    reply(0, outcome.zxid, decoded.body && ((w) => decoded.body!(w, result)));
  }

  /** ZooKeeper answers bad credentials with AUTHFAILED and closes the connection. */
  private authFailed(conn: Connection, xid: number, out: Outbox): void {
    out.push(conn, replyHeader(xid, 0, Code.AUTHFAILED).bytes());
    releaseSession(this.ns, this.conns, conn, Date.now());
    out.closeAfter(conn, CloseCode.error(Code.AUTHFAILED), "authentication failed");
  }

  private execute(session: string, request: Request, now: number): Outcome {
    return executeSafely(this.ns, session, request, now);
  }

  /**
   * The handshake: a ConnectRequest opens or resumes a session. As ZooKeeper does, a resume of
   * an unknown or expired session (or with the wrong password) is answered with a
   * ConnectResponse of timeout 0 and session id 0, then the connection is closed; a client
   * that has seen a later zxid than the server's is closed without an answer.
   */
  private connect(conn: Connection, r: JuteReader, now: number, out: Outbox): void {
    if (!conn.grant.read) {
      out.closeAfter(conn, CloseCode.error(Code.NOAUTH), "this connection's token grants nothing on this namespace");
      return;
    }
    if (conn.grant.expiresAt !== undefined && conn.grant.expiresAt <= now) {
      out.closeAfter(conn, CloseCode.error(Code.AUTHFAILED), "token expired");
      return;
    }
    let req;
    try {
      req = readConnectRequest(r);
    } catch (e) {
      if (!(e instanceof JuteError)) throw e;
      this.onRequest?.("connect", Code.MARSHALLINGERROR);
      out.closeAfter(conn, CloseCode.error(Code.MARSHALLINGERROR), `not a ConnectRequest: ${e.message}`.slice(0, 120));
      return;
    }
    const resume = req.sessionId !== 0n;
    const id = resume ? sessionIdFromLong(req.sessionId) : undefined;
    try {
      const opened = this.ns.open(
        {
          timeout: req.timeOut,
          sessionId: id,
          secret: resume ? secretFromBytes(req.passwd) : undefined,
          lastZxid: req.lastZxidSeen,
          identities: identitiesOf(conn.grant, conn.ip),
          kind: "zk",
          heardAt: id === undefined ? undefined : this.conns.heardFrom?.(id),
        },
        now,
      );
      const sid = opened.session.id;
      attachSession(this.conns, conn, sid, out);
      this.onRequest?.("connect", 0);
      out.push(conn, connectResponse(opened.session.timeout, sessionIdToLong(sid), secretToBytes(opened.session.secret), req.hasReadOnly));
    } catch (e) {
      if (!(e instanceof ZkError)) throw e;
      this.onRequest?.("connect", e.code);
      if (e.code === Code.SESSIONEXPIRED) out.push(conn, connectResponse(0, 0n, new Uint8Array(16), req.hasReadOnly));
      out.closeAfter(conn, CloseCode.error(e.code), e.message.slice(0, 120));
    }
  }
}

// ------------------------------------------------------------------ requests

const writeStatOf = (w: JuteWriter, result: Record<string, unknown>) => writeStat(w, result.stat as Stat);
const writeStrings = (w: JuteWriter, list: readonly string[]) => void w.vector(list, (x, s) => x.ustring(s));

function readMode(flags: number): CreateMode {
  if (!Number.isInteger(flags) || flags < 0 || flags > 6) throw new ZkError(Code.BADARGUMENTS, `unknown create mode flags ${flags}`);
  return flags as CreateMode;
}

/** CreateRequest (or CreateTTLRequest) as the core's create. */
function readCreate(type: number, r: JuteReader): MultiOp {
  const path = r.string("path");
  const data = r.buffer() ?? new Uint8Array(0);
  const acl: ACL[] = r.vector(readAcl) ?? [];
  const mode = readMode(r.int());
  if (type === OpCode.createContainer && mode !== CreateMode.CONTAINER) throw new ZkError(Code.BADARGUMENTS, "createContainer needs the CONTAINER mode");
  if (type === OpCode.createTTL) {
    const ttl = r.long();
    if (ttl > BigInt(Number.MAX_SAFE_INTEGER) || ttl < -1n) throw new ZkError(Code.BADARGUMENTS, `ttl ${ttl} is out of range`);
    return { op: "create", path, data, acl, mode, ttl: Number(ttl) };
  }
  return { op: "create", path, data, acl, mode };
}

const readPathWatch = (r: JuteReader) => ({ path: r.string("path"), watch: r.bool() });

function decode(type: number, r: JuteReader): Decoded {
  switch (type) {
    case OpCode.create:
      return { request: readCreate(type, r), body: (w, res) => void w.ustring(res.path as string) };
    case OpCode.create2:
    case OpCode.createContainer:
    case OpCode.createTTL:
      return { request: readCreate(type, r), body: (w, res) => (w.ustring(res.path as string), writeStatOf(w, res)) };
    case OpCode.delete:
      return { request: { op: "delete", path: r.string("path"), version: r.int() } };
    case OpCode.exists:
      return { request: { op: "exists", ...readPathWatch(r) }, exists: true, body: writeStatOf };
    case OpCode.getData:
      return { request: { op: "getData", ...readPathWatch(r) }, body: (w, res) => (w.buffer(res.data as Uint8Array), writeStatOf(w, res)) };
    case OpCode.setData:
      return { request: { op: "setData", path: r.string("path"), data: r.buffer() ?? new Uint8Array(0), version: r.int() }, body: writeStatOf };
    case OpCode.getACL:
      return { request: { op: "getACL", path: r.string("path") }, body: (w, res) => (w.vector(res.acl as ACL[], writeAcl), writeStatOf(w, res)) };
    case OpCode.setACL:
      return { request: { op: "setACL", path: r.string("path"), acl: r.vector(readAcl) ?? [], version: r.int() }, body: writeStatOf };
    case OpCode.getChildren:
      return { request: { op: "getChildren", ...readPathWatch(r) }, body: (w, res) => writeStrings(w, res.children as string[]) };
    case OpCode.getChildren2:
      return { request: { op: "getChildren", ...readPathWatch(r) }, body: (w, res) => (writeStrings(w, res.children as string[]), writeStatOf(w, res)) };
    case OpCode.sync:
      return { request: { op: "sync", path: r.string("path") }, body: (w, res) => void w.ustring(res.path as string) };
    case OpCode.check:
      return { request: { op: "check", path: r.string("path"), version: r.int() } };
    case OpCode.multi:
      return { request: { op: "multi", ops: readMulti(r) } };
    case OpCode.multiRead: {
      const ops = readMultiRead(r);
      return { request: { op: "multiRead", ops }, body: (w, res) => writeMultiReadResults(w, ops, res.results as Array<Record<string, unknown>>) };
    }
    case OpCode.checkWatches:
    case OpCode.removeWatches: {
      const path = r.string("path");
      const t = r.int();
      if (t < 1 || t > 5) throw new ZkError(Code.BADARGUMENTS, `unknown watcher type ${t}`);
      return { request: { op: type === OpCode.checkWatches ? "checkWatches" : "removeWatches", path, type: t as WatcherType } };
    }
    case OpCode.addWatch: {
      const path = r.string("path");
      const mode = r.int();
      if (mode !== 0 && mode !== 1) throw new ZkError(Code.BADARGUMENTS, `unknown addWatch mode ${mode}`);
      // ZooKeeper answers addWatch with an ErrorResponse(0).
      return { request: { op: "addWatch", path, mode: mode === 0 ? "persistent" : "persistentRecursive" }, body: (w) => void w.int(0) };
    }
    case OpCode.getEphemerals:
      return { request: { op: "getEphemerals", path: r.ustring() ?? "/" }, body: (w, res) => writeStrings(w, res.paths as string[]) };
    case OpCode.getAllChildrenNumber:
      return { request: { op: "getAllChildrenNumber", path: r.string("path") }, body: (w, res) => void w.int(res.count as number) };
    case OpCode.whoAmI:
      return {
        request: { op: "whoAmI" },
        body: (w, res) => void w.vector(res.identities as Array<{ scheme: string; id: string }>, (x, i) => x.ustring(i.scheme).ustring(i.id)),
      };
    case OpCode.auth: {
      r.int(); // AuthPacket.type, unused by ZooKeeper
      const scheme = r.string("scheme");
      const auth = r.buffer() ?? new Uint8Array(0);
      return { request: { op: "addAuth", identities: authIdentities(scheme, new TextDecoder().decode(auth)) } };
    }
    case OpCode.setWatches:
    case OpCode.setWatches2: {
      const lastZxid = r.safeLong("relativeZxid");
      const data = r.stringVector("path");
      const exist = r.stringVector("path");
      const child = r.stringVector("path");
      const persistent = type === OpCode.setWatches2 ? r.stringVector("path") : [];
      const persistentRecursive = type === OpCode.setWatches2 ? r.stringVector("path") : [];
      return { request: { op: "setWatches", lastZxid, watches: { data, exist, child, persistent, persistentRecursive } } };
    }
    default:
      // reconfig, sasl, deleteContainer (server-internal), createSession and anything unknown.
      throw new ZkError(Code.UNIMPLEMENTED, `operation ${type} is not implemented`);
  }
}

/** A MultiOperationRecord: MultiHeader(type, false, -1) + record per op, then MultiHeader(-1, true, -1). */
function readMulti(r: JuteReader): Array<MultiOp & { type: number }> {
  const ops: Array<MultiOp & { type: number }> = [];
  for (;;) {
    const type = r.int();
    const done = r.bool();
    r.int(); // err, unused in requests
    if (done) return ops;
    if (ops.length >= 1000) throw new ZkError(Code.BADARGUMENTS, "a multi holds at most 1000 ops");
    switch (type) {
      case OpCode.create:
      case OpCode.create2:
      case OpCode.createContainer:
      case OpCode.createTTL:
        ops.push({ ...readCreate(type, r), type } as MultiOp & { type: number });
        break;
      case OpCode.delete:
        ops.push({ op: "delete", path: r.string("path"), version: r.int(), type });
        break;
      case OpCode.setData:
        ops.push({ op: "setData", path: r.string("path"), data: r.buffer() ?? new Uint8Array(0), version: r.int(), type });
        break;
      case OpCode.check:
        ops.push({ op: "check", path: r.string("path"), version: r.int(), type });
        break;
      default:
        throw new ZkError(Code.BADARGUMENTS, `op type ${type} cannot be part of a multi`);
    }
  }
}

function readMultiRead(r: JuteReader): MultiReadOp[] {
  const ops: MultiReadOp[] = [];
  for (;;) {
    const type = r.int();
    const done = r.bool();
    r.int();
    if (done) return ops;
    if (ops.length >= 1000) throw new ZkError(Code.BADARGUMENTS, "a multiRead holds at most 1000 ops");
    if (type === OpCode.getData) ops.push({ op: "getData", path: readPathWatch(r).path });
    else if (type === OpCode.getChildren) ops.push({ op: "getChildren", path: readPathWatch(r).path });
    else throw new ZkError(Code.BADARGUMENTS, `op type ${type} cannot be part of a multiRead`);
  }
}

/** ErrorResult: MultiHeader(-1, false, err) + ErrorResponse(err). */
function writeErrorResult(w: JuteWriter, err: number): void {
  writeMultiHeader(w, OpCode.error, false, err);
  w.int(err);
}

/** A MultiResponse: per op its result (or, for a failed multi, every op's ErrorResult), then the end marker. */
function writeMultiResults(w: JuteWriter, ops: ReadonlyArray<MultiOp>, results: Array<Record<string, unknown>>): void {
  results.forEach((res, i) => {
    if (typeof res.err === "number") return writeErrorResult(w, res.err);
    const type = (ops[i] as MultiOp & { type: number }).type;
    switch (res.op) {
      case "create":
        if (type === OpCode.create) {
          writeMultiHeader(w, OpCode.create, false, 0);
          w.ustring(res.path as string);
        } else {
          writeMultiHeader(w, OpCode.create2, false, 0);
          w.ustring(res.path as string);
          writeStatOf(w, res);
        }
        return;
      case "delete":
        return writeMultiHeader(w, OpCode.delete, false, 0);
      case "setData":
        writeMultiHeader(w, OpCode.setData, false, 0);
        return writeStatOf(w, res);
      case "check":
        return writeMultiHeader(w, OpCode.check, false, 0);
    }
  });
  writeMultiHeader(w, -1, true, -1);
}

function writeMultiReadResults(w: JuteWriter, ops: readonly MultiReadOp[], results: Array<Record<string, unknown>>): void {
  results.forEach((res, i) => {
    if (typeof res.err === "number") return writeErrorResult(w, res.err as CodeNumber);
    if (ops[i].op === "getData") {
      writeMultiHeader(w, OpCode.getData, false, 0);
      w.buffer(res.data as Uint8Array);
      writeStatOf(w, res);
    } else {
      writeMultiHeader(w, OpCode.getChildren, false, 0);
      writeStrings(w, res.children as string[]);
    }
  });
  writeMultiHeader(w, -1, true, -1);
}
