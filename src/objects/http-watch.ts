import { leaderOf } from "../core/contenders.js";
import { checkAcl, Perms } from "../core/acl.js";
import { Code, ZkError } from "../core/errors.js";
import type { WatchEvent } from "../core/events.js";
import type { Namespace } from "../core/namespace.js";
import { checkPathLimits } from "../core/limits.js";
import { parentOf, validatePath } from "../core/paths.js";
import type { Stat } from "../core/stat.js";
import type { Change } from "../core/store.js";
import { mustGet } from "../core/tree.js";
import { WatchCursor } from "../core/watch-cursor.js";
import type { ApiCall, ApiReply, ApiStreamCall, ApiStreamReply, Caller, Resync } from "../protocol/api.js";
import { eventMessage } from "../protocol/encode.js";
import { sseBytes, sseEvents, sseMessage } from "../protocol/sse.js";
import type { ApiHost } from "./http-api.js";

type PollCall = Extract<ApiCall, { op: "poll" }>;
type WatchCall = Extract<ApiStreamCall, { op: "watch" }>;
type ObserveCall = Extract<ApiStreamCall, { op: "observe" }>;

/** One open Server-Sent Events stream. */
interface Stream {
  /** Writes in order, each once the writes before it are durable. */
  send(text: string): void;
  close(): void;
}

interface WatchStream extends Stream {
  cursor: WatchCursor;
  /** The zxid last sent as an SSE id (events or heartbeat). */
  sentId: number;
}

interface Observer extends Stream {
  base: string;
  /** The leader last reported: its node and mzxid ("" when there was none). */
  last: string;
}

interface Poll {
  id: string;
  cursor: WatchCursor;
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve: (r: ApiReply) => void;
}

const ok = (zxid: number, result: Record<string, unknown>): ApiReply => ({ ok: true, zxid, result });
const resyncError = (r: Resync): ApiReply => ({
  ok: false,
  zxid: r.zxid,
  err: Code.BADARGUMENTS,
  code: "BADARGUMENTS",
  message: `history compacted: events after zxid ${r.fromZxid} are no longer in the change log (it starts after zxid ${r.oldestZxid}); re-read what you cache, then watch from zxid ${r.zxid}`,
  resync: r,
});

const decoder = new TextDecoder();

/**
 * Watches for HTTP callers, over the change log: Server-Sent Events streams and long-polls of
 * one path (optionally recursive) from a zxid, and election observers. Each is a WatchCursor
 * (src/core/watch-cursor.ts): the missed part is replayed from the log, then the object hands
 * every commit here (onCommit) and the same trigger matrix picks the live events, so HTTP
 * callers see exactly the events of a WebSocket persistent or recursive watch.
 *
 * Stream writes wait until the writes before them are durable (storage.sync()), so no event
 * leaves for a write that could still be lost; held long-polls answer through RPC replies,
 * which the output gate holds the same way.
 */
export class HttpWatches {
  private readonly streams = new Set<WatchStream>();
  private readonly observers = new Set<Observer>();
  private readonly polls = new Map<string, Poll>();

  constructor(private readonly host: ApiHost) {}

  private get ns(): Namespace {
    return this.host.ns;
  }

  get active(): boolean {
    return this.streams.size > 0 || this.observers.size > 0 || this.polls.size > 0;
  }

  /** Held long-polls and open streams (admin views). */
  get counts(): { held: number; streams: number } {
    return { held: this.polls.size, streams: this.streams.size + this.observers.size };
  }

  /** Where a watch from `fromZxid` starts: the replay, or a resync when the log no longer reaches back. */
  private start(caller: Caller, path: string, recursive: boolean, fromZxid: number | undefined): { resync?: Resync; events: WatchEvent[]; cursor: WatchCursor } {
    validatePath(path);
    checkPathLimits(path, this.ns.config);
    const zxid = this.ns.zxid;
    const from = fromZxid ?? zxid;
    if (from > zxid) throw new ZkError(Code.BADARGUMENTS, `fromZxid ${from} is ahead of the namespace (zxid ${zxid})`);
    // Reading the events of a path needs READ on it, when it exists (as exists does).
    const node = this.ns.store.getNode(path);
    if (node) checkAcl(node, Perms.READ, caller.identities, path);
    const cursor = new WatchCursor(path, recursive, zxid, (change) => this.ns.mayReadAs(caller.identities, change));
    if (from < this.ns.oldestReplayableZxid) return { resync: { fromZxid: from, oldestZxid: this.ns.oldestReplayableZxid, zxid }, events: [], cursor };
    const events = from === zxid ? [] : cursor.replay(this.ns.changesAfter(from).filter((c) => c.zxid <= zxid));
    return { events, cursor };
  }

  // ---------------------------------------------------------------- long-poll

  /** Held requests (counted with the grants' by the host) and open streams are bounded per namespace (429 THROTTLEDOP beyond). */
  private room(kind: "held" | "stream"): void {
    if (kind === "held") return this.host.roomToHold();
    const { maxStreams } = this.host.limits;
    if (this.streams.size + this.observers.size >= maxStreams)
      throw new ZkError(Code.THROTTLEDOP, `too many open streams in this namespace (EDGEKEEPER_MAX_HTTP_STREAMS = ${maxStreams}); retry later`);
  }

  poll(call: PollCall): ApiReply | Promise<ApiReply> {
    this.room("held");
    const s = this.start(call.caller, call.path, call.recursive, call.fromZxid);
    if (s.resync) return resyncError(s.resync);
    const { events, cursor } = s;
    if (events.length > 0) {
      // Whole transactions only: cut before the transaction that crosses the limit (a single
      // transaction larger than the limit goes whole).
      if (events.length > call.limit) {
        let end = call.limit;
        while (end > 0 && events[end].zxid === events[end - 1].zxid) end--;
        if (end === 0) end = events.findIndex((e) => e.zxid !== events[0].zxid);
        if (end > 0) {
          const kept = events.slice(0, end);
          return ok(this.ns.zxid, { events: kept.map(eventMessage), zxid: kept[kept.length - 1].zxid, more: true });
        }
      }
      return ok(this.ns.zxid, { events: events.map(eventMessage), zxid: cursor.zxid, more: false });
    }
    if (call.timeout <= 0) return ok(this.ns.zxid, { events: [], zxid: cursor.zxid, more: false });
    return new Promise<ApiReply>((resolve) => {
      const p: Poll = { id: call.waiter, cursor, timer: undefined, resolve };
      p.timer = setTimeout(() => this.endPoll(p, ok(this.ns.zxid, { events: [], zxid: p.cursor.zxid, more: false })), call.timeout);
      this.polls.set(p.id, p);
    });
  }

  private endPoll(p: Poll, reply: ApiReply): void {
    if (this.polls.get(p.id) !== p) return;
    this.polls.delete(p.id);
    if (p.timer) clearTimeout(p.timer);
    p.resolve(reply);
  }

  abandon(id: string): boolean {
    const p = this.polls.get(id);
    if (!p) return false;
    this.endPoll(p, ok(this.ns.zxid, { events: [], zxid: p.cursor.zxid, more: false }));
    return true;
  }

  // ---------------------------------------------------------------- Server-Sent Events

  watch(call: WatchCall): ApiStreamReply {
    this.room("stream");
    const s = this.start(call.caller, call.path, call.recursive, call.fromZxid);
    const zxid = this.ns.zxid;
    const base = this.open(call.heartbeatMs, call.caller.expiresAt, () => this.streams.delete(stream), () => {
      // A heartbeat moves the client's Last-Event-ID up to what this stream has seen.
      if (stream.cursor.zxid > stream.sentId) {
        stream.sentId = stream.cursor.zxid;
        return { comment: "heartbeat", id: stream.sentId };
      }
      return { comment: "heartbeat" };
    });
    const mode = call.recursive ? "recursive" : "persistent";
    const stream: WatchStream = { ...base, cursor: s.cursor, sentId: call.fromZxid ?? zxid };
    stream.send(sseMessage({ comment: `edgekeeper: ${mode} watch on ${call.path}` }) + "retry: 1000\n\n");
    if (s.resync) {
      stream.sentId = zxid;
      stream.send(sseMessage({ event: "resync", data: s.resync, id: zxid }));
    } else if (s.events.length > 0) {
      stream.send(sseEvents(s.events));
      stream.sentId = s.events[s.events.length - 1].zxid;
    }
    // Everything up to zxid has been looked at: the ready message's id says so.
    stream.send(sseMessage({ event: "ready", data: { zxid }, id: zxid }));
    stream.sentId = zxid;
    this.streams.add(stream);
    return { ok: true, zxid, stream: base.readable };
  }

  /** An election's leadership, as a stream: the current leader, then every change of it. */
  observe(call: ObserveCall): ApiStreamReply {
    this.room("stream");
    validatePath(call.path);
    checkAcl(mustGet(this.ns.store, call.path), Perms.READ, call.caller.identities, call.path);
    const base = this.open(call.heartbeatMs, call.caller.expiresAt, () => this.observers.delete(o), () => ({ comment: "heartbeat" }));
    const o: Observer = { ...base, base: call.path, last: "\0" };
    this.report(o);
    this.observers.add(o);
    return { ok: true, zxid: this.ns.zxid, stream: base.readable };
  }

  private report(o: Observer): void {
    const leader = leaderOf(this.ns.store, o.base);
    const key = leader ? `${leader.path}@${leader.stat.mzxid}` : "";
    if (key === o.last) return;
    o.last = key;
    const json = leader ? leaderJson(leader.path, leader.data, leader.stat) : null;
    o.send(sseMessage({ event: "leader", data: { path: o.base, leader: json, zxid: this.ns.zxid } }));
  }

  /**
   * A stream whose writes go out in order, each after storage.sync(), with heartbeats; it ends
   * with an `expired` event when the caller's token expires (reconnect with a fresh one and
   * Last-Event-ID to go on without a gap).
   */
  private open(heartbeatMs: number, expiresAt: number | undefined, onClose: () => void, heartbeat: () => { comment: string; id?: number }) {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let closed = false;
    let chain: Promise<void> = Promise.resolve();
    let timer: ReturnType<typeof setInterval> | undefined;
    let expiry: ReturnType<typeof setTimeout> | undefined;
    const close = () => {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      if (expiry) clearTimeout(expiry);
      onClose();
      try {
        controller.close();
      } catch {
        // Already closed or errored.
      }
    };
    const readable = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
      cancel: () => close(),
    });
    const send = (text: string) => {
      if (closed) return;
      const bytes = sseBytes(text);
      chain = chain
        .then(() => this.host.durable())
        .then(() => {
          if (!closed) controller.enqueue(bytes);
        })
        .catch(() => close());
    };
    timer = setInterval(() => send(sseMessage(heartbeat())), heartbeatMs);
    if (expiresAt !== undefined)
      expiry = setTimeout(() => {
        send(sseMessage({ event: "expired", data: { err: Code.AUTHFAILED, code: "AUTHFAILED", message: "the bearer token has expired: reconnect with a fresh one (and Last-Event-ID)" } }));
        chain = chain.then(close);
      }, Math.max(0, expiresAt - Date.now()));
    return { send, close, readable };
  }

  // ---------------------------------------------------------------- the commit feed

  /** After a commit: live events for streams and polls, leadership for observers. */
  onCommit(changes: readonly Change[], upTo: number, resync: Resync | undefined): void {
    for (const s of this.streams) {
      if (resync) {
        s.cursor.zxid = upTo;
        s.sentId = upTo;
        s.send(sseMessage({ event: "resync", data: resync, id: upTo }));
        continue;
      }
      const events = s.cursor.advance(changes, upTo);
      if (events.length > 0) {
        s.send(sseEvents(events));
        s.sentId = events[events.length - 1].zxid;
      }
    }
    for (const p of [...this.polls.values()]) {
      if (resync) {
        this.endPoll(p, resyncError({ ...resync, fromZxid: p.cursor.zxid }));
        continue;
      }
      const events: WatchEvent[] = p.cursor.advance(changes, upTo);
      if (events.length > 0) this.endPoll(p, ok(this.ns.zxid, { events: events.map(eventMessage), zxid: p.cursor.zxid, more: false }));
    }
    for (const o of this.observers) {
      if (resync || changes.some((c) => c.path === o.base || (c.path !== "/" && parentOf(c.path) === o.base))) this.report(o);
    }
  }
}

/** A leader as the election API shows it: its node, value (UTF-8), fencing token and lease. */
export function leaderJson(node: string, data: Uint8Array, stat: Stat) {
  return { node, value: decoder.decode(data), token: stat.czxid, leaseId: stat.ephemeralOwner, mzxid: stat.mzxid };
}
