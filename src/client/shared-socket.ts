import { FRAME_BUDGET, globalWebSocket, limitsFrom, MAX_BATCH, type Limits, type SocketFactory, type SocketLike } from "./connection.js";
import { MAX_CHANNELS, SHARED_SUBPROTOCOL, SUBPROTOCOL } from "../protocol/wire.js";
import { OncePerTick } from "./once-per-tick.js";

/**
 * Many sessions of one process over one WebSocket (docs/protocol.md, "Shared sockets").
 *
 * Why: every WebSocket message that reaches the namespace's object costs the runtime about as
 * much as applying a write does (docs/benchmarks.md). A process that holds several sessions —
 * a server with one session per user, a worker pool, a page with several widgets — pays that
 * per session and per message. Over one shared socket the requests of all its sessions that
 * are issued in the same tick leave as one message, the object applies them in one event (one
 * storage commit), and everything it has for those sessions — responses and watch events —
 * comes back as one message.
 *
 * Each session is a *channel* of the shared socket. A channel looks like a WebSocket to the
 * session's Connection (SocketLike), so sessions keep their own handshake, heartbeat, resume
 * and watch replay; only the carrying is shared. Frames travel in envelopes:
 * client → server `[{"ch":1,"f":<frame>}, {"ch":2,"close":true}, …]`,
 * server → client `[{"ch":1,"m":<message or array>}, {"ch":2,"close":[code, reason]}, …]`.
 * A channel that closes detaches its session (which then counts down its timeout, as after a
 * socket close); when the shared socket drops, every channel sees its own close and each
 * session reconnects and resumes — over a new shared socket.
 */


type Listener = (ev: any) => void;

/** One session's view of a shared socket. */
class Channel implements SocketLike {
  readyState = 0;
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(
    private readonly carrier: Carrier,
    readonly ch: number,
  ) {}

  addEventListener(type: string, l: Listener): void {
    let s = this.listeners.get(type);
    if (!s) this.listeners.set(type, (s = new Set()));
    s.add(l);
  }

  emit(type: string, ev: unknown): void {
    for (const l of this.listeners.get(type) ?? []) l(ev);
  }

  opened(): void {
    if (this.readyState !== 0) return;
    this.readyState = 1;
    this.emit("open", {});
  }

  /** The channel ended from the other side (or the shared socket went away). */
  ended(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.emit("close", { code, reason });
  }

  send(text: string, requests = 1): void {
    if (this.readyState !== 1) throw new Error("channel not open");
    this.carrier.send(this.ch, text, requests);
  }

  close(): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.carrier.detach(this.ch);
  }
}

/** One real WebSocket carrying channels. */
class Carrier {
  private readonly ws: SocketLike;
  private readonly channels = new Map<number, Channel>();
  private nextCh = 1;
  private out: string[] = [];
  /** Requests and characters in `out`: a shared frame stays within the server's batch and frame limits. */
  private outRequests = 0;
  private outChars = 0;
  /** The server's limits, as its handshakes announce them (per shared frame, as per frame of a connection). */
  private limits: Limits = { maxBatch: MAX_BATCH, frameBudget: FRAME_BUDGET };
  private ping = false;
  private readonly flushing = new OncePerTick(() => this.flush());
  /** No new channels: the socket is closing or closed. */
  done = false;

  constructor(factory: SocketFactory, url: string, protocols: string[], private readonly onDone: (c: Carrier) => void) {
    this.ws = factory(
      url,
      protocols.map((p) => (p === SUBPROTOCOL ? SHARED_SUBPROTOCOL : p)),
    );
    this.ws.addEventListener("open", () => {
      for (const c of [...this.channels.values()]) c.opened();
    });
    this.ws.addEventListener("message", (ev: { data: unknown }) => this.receive(ev.data));
    this.ws.addEventListener("close", (ev: { code?: number; reason?: string }) => this.end(ev.code ?? 1006, ev.reason ?? ""));
    this.ws.addEventListener("error", () => this.end(1006, "error"));
  }

  get size(): number {
    return this.channels.size;
  }

  channel(): Channel {
    const c = new Channel(this, this.nextCh++);
    this.channels.set(c.ch, c);
    if (this.ws.readyState === 1) queueMicrotask(() => c.opened());
    return c;
  }

  send(ch: number, text: string, requests: number): void {
    // Heartbeats are the socket's: one `ping` answers for every channel (the runtime replies
    // without waking the object, and the pong is handed to every channel).
    if (text === "ping") this.ping = true;
    else {
      // The server's batch limit counts a shared frame's requests together: send what is
      // collected first if this channel's frame would take it over (or over the size budget).
      if (this.out.length > 0 && (this.outRequests + requests > this.limits.maxBatch || this.outChars + text.length > this.limits.frameBudget)) this.sendCollected();
      this.out.push(`{"ch":${ch},"f":${text}}`);
      this.outRequests += requests;
      this.outChars += text.length + 16;
    }
    this.flushing.schedule();
  }

  detach(ch: number): void {
    if (!this.channels.delete(ch)) return;
    this.out.push(`{"ch":${ch},"close":true}`);
    this.flushing.schedule();
  }

  private sendCollected(): void {
    if (this.out.length === 0 || this.ws.readyState !== 1) return;
    try {
      this.ws.send(`[${this.out.join(",")}]`);
    } catch {
      // The socket is going away; its close event ends the channels.
    }
    this.out = [];
    this.outRequests = 0;
    this.outChars = 0;
  }

  private flush(): void {
    if (this.ws.readyState !== 1) return;
    this.sendCollected();
    try {
      if (this.ping) this.ws.send("ping");
    } catch {
      // As above.
    }
    this.ping = false;
    if (this.channels.size === 0) this.retire(1000, "no channels");
  }

  private receive(data: unknown): void {
    if (typeof data !== "string") return;
    if (data === "pong") {
      for (const c of this.channels.values()) c.emit("message", { data: "pong" });
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    if (!Array.isArray(parsed)) {
      // Not an envelope: the Worker refusing the socket itself (a connect-error for everyone).
      for (const c of this.channels.values()) c.emit("message", { parsed });
      return;
    }
    for (const env of parsed as Array<{ ch?: number; m?: unknown; close?: [number, string] }>) {
      const c = env.ch === undefined ? undefined : this.channels.get(env.ch);
      if (!c) continue;
      if (env.m !== undefined) {
        const hello = env.m as { type?: string; maxBatch?: unknown; maxFrameBytes?: unknown };
        if (hello.type === "connected") this.limits = limitsFrom(hello, this.limits);
        c.emit("message", { parsed: env.m });
      }
      if (env.close) {
        this.channels.delete(c.ch);
        c.ended(env.close[0], env.close[1]);
      }
    }
    if (this.channels.size === 0 && !this.flushing.pending) this.retire(1000, "no channels");
  }

  private retire(code: number, reason: string): void {
    if (this.done) return;
    this.done = true;
    this.onDone(this);
    try {
      this.ws.close(code, reason);
    } catch {
      // already closed
    }
  }

  private end(code: number, reason: string): void {
    this.done = true;
    this.onDone(this);
    for (const c of [...this.channels.values()]) c.ended(code, reason);
    this.channels.clear();
  }
}

/**
 * Shares WebSockets among the sessions that use it: `connect(url, { namespace, share })`.
 * Sessions of the same namespace URL ride one socket (a new one after MAX_CHANNELS); the
 * first session's token opens it, so share only among sessions with the same token.
 */
export class SocketShare {
  private readonly carriers = new Map<string, Set<Carrier>>();

  constructor(private readonly factory: SocketFactory = globalWebSocket) {}

  /** A SocketFactory whose sockets are channels of shared sockets. */
  readonly socket: SocketFactory = (url, protocols) => {
    let set = this.carriers.get(url);
    if (!set) this.carriers.set(url, (set = new Set()));
    for (const c of set) if (!c.done && c.size < MAX_CHANNELS) return c.channel();
    const carrier = new Carrier(this.factory, url, protocols, (c) => set!.delete(c));
    set.add(carrier);
    return carrier.channel();
  };
}
