import type { WatchSet } from "../core/requests.js";
import { Code } from "../core/errors.js";
import {
  ClosedError,
  ConnectionLossError,
  errorFor,
  OperationTimeoutError,
  SessionExpiredError,
  SessionMovedError,
  type ZooKeeperError,
} from "./errors.js";
import type { WatchEvent } from "./watchers.js";
import { OncePerTick } from "./once-per-tick.js";
import { SUBPROTOCOL } from "../protocol/wire.js";

/**
 * Connection states, after ZooKeeper's KeeperState: `suspended` is ZooKeeper's Disconnected
 * (the session may still be alive and is being resumed); `expired`, `closed` and
 * `authFailed` are final.
 */
export type State = "connecting" | "connected" | "suspended" | "expired" | "closed" | "authFailed";

/** The part of a WebSocket the client uses; browsers, Workers and Node 22 all provide it. */
export interface SocketLike {
  readonly readyState: number;
  /** `requests`: how many requests the frame holds (a shared socket's channel uses it to keep frames within the server's batch limit; WebSockets ignore it). */
  send(data: string, requests?: number): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "message" | "close" | "error", listener: (ev: any) => void): void;
}
/** Opens a WebSocket; `protocols` as in `new WebSocket(url, protocols)` (it carries the bearer token). */
export type SocketFactory = (url: string, protocols: string[]) => SocketLike;


/** A bearer token, or a function that returns a fresh one (called before every connection). */
export type TokenSource = string | (() => string | Promise<string>);

export interface ConnectionOptions {
  url: string;
  sessionTimeout: number;
  /** Give up an unanswered request after this long (ms; 0 = never). */
  requestTimeout: number;
  /** Reconnect backoff: full jitter between 0 and min(max, base * 2^attempt) ms. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Send the requests of one tick as one frame (default). Off: one frame per request. */
  coalesce: boolean;
  socket: SocketFactory;
  /** The bearer token (JWT) for every connection; a function is asked again before each reconnect. */
  token?: TokenSource;
  /** addAuth credentials, sent with every handshake (ZooKeeper's client re-sends them too). */
  auth: () => Array<{ scheme: string; auth: string }>;
  /** The watches to re-register on resume. */
  watches: () => WatchSet;
  onEvent: (e: WatchEvent) => void;
  onState: (s: State, previous: State) => void;
  onResync: (info: { lastZxid: number; oldestZxid: number }) => void;
}

export interface RequestOptions {
  /** Retry across a reconnect instead of failing with ConnectionLoss (safe only for idempotent requests). */
  retry?: boolean;
  signal?: AbortSignal;
  timeout?: number;
  /**
   * Runs synchronously when a successful response is read, before any later message of the
   * same frame is handled: a watch must be registered locally before the events that follow
   * its response (a promise continuation would run too late).
   */
  onResult?: (m: Record<string, any>) => void;
}

type Msg = Record<string, any>;

interface Pending {
  xid: number;
  frame: Msg;
  retry: boolean;
  onResult?: (m: Msg) => void;
  resolve: (m: Msg) => void;
  reject: (e: unknown) => void;
  cleanup: () => void;
}

const OPEN = 1;
/**
 * Coalescing stops before a frame would exceed this many characters (a single larger request
 * still goes alone): the server rejects a frame over its limit (4 MiB by default) as a whole.
 */
export const FRAME_BUDGET = 1024 * 1024;
/** Requests per frame: the server's default batch limit (EDGEKEEPER_MAX_BATCH). */
export const MAX_BATCH = 1000;

/** What a frame (a connection's, or a shared socket's) stays within: requests and characters. */
export interface Limits {
  maxBatch: number;
  frameBudget: number;
}

/**
 * The limits a handshake's `connected` reply announces, kept well inside: at most its batch
 * limit, and a quarter of its frame limit (a frame's JSON may grow a little in UTF-8 bytes
 * over its length in characters), never above the defaults. A limit the reply leaves out
 * stays as in `previous`.
 */
export function limitsFrom(
  hello: { maxBatch?: unknown; maxFrameBytes?: unknown },
  previous: Limits = { maxBatch: MAX_BATCH, frameBudget: FRAME_BUDGET },
): Limits {
  return {
    maxBatch: typeof hello.maxBatch === "number" ? Math.min(MAX_BATCH, hello.maxBatch) : previous.maxBatch,
    frameBudget: typeof hello.maxFrameBytes === "number" ? Math.min(FRAME_BUDGET, Math.floor(hello.maxFrameBytes / 4)) : previous.frameBudget,
  };
}

/** The default SocketFactory: the global WebSocket (browsers, Workers, Node 22). */
export const globalWebSocket: SocketFactory = (url, protocols) => {
  if (typeof WebSocket === "undefined") throw new Error("no global WebSocket: pass a factory (options.WebSocket, or new SocketShare(factory))");
  return new WebSocket(url, protocols);
};

/**
 * One logical connection to a namespace: a session that outlives sockets. It opens a
 * WebSocket, performs the handshake (new or resumed session), coalesces the requests of one
 * tick into one frame, matches responses by xid, heartbeats with `ping`, notices a dead
 * socket after 2/3 of the session timeout (like ZooKeeper's read timeout), and reconnects
 * with jittered backoff, resuming the session and re-registering its watches.
 */
export class Connection {
  state: State = "connecting";
  sessionId: string | undefined;
  private secret: string | undefined;
  negotiatedTimeout: number;
  /** Highest zxid seen in any response or event. */
  lastZxid = 0;

  private ws: SocketLike | undefined;
  private readonly inflight = new Map<number, Pending>();
  private queue: Pending[] = [];
  private readonly flushing = new OncePerTick(() => this.flush());
  /** The xids of each frame sent on the current socket and not yet answered, oldest first. */
  private unanswered: number[][] = [];
  private nextXid = 1;
  /** The server's limits, as the last handshake announced them. */
  private limits: Limits = { maxBatch: MAX_BATCH, frameBudget: FRAME_BUDGET };
  private attempt = 0;
  private lastRecv = 0;
  private lastSent = 0;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private firstConnect: { resolve: () => void; reject: (e: unknown) => void } | undefined;

  constructor(private readonly opts: ConnectionOptions) {
    this.negotiatedTimeout = opts.sessionTimeout;
  }

  /** Connects for the first time; resolves once the session is established. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.firstConnect = { resolve, reject };
      this.open();
    });
  }

  private setState(s: State): void {
    if (s === this.state) return;
    const prev = this.state;
    this.state = s;
    this.opts.onState(s, prev);
  }

  private get final(): boolean {
    return this.state === "expired" || this.state === "closed" || this.state === "authFailed";
  }

  // ------------------------------------------------------------------ sockets

  private open(): void {
    const source = this.opts.token;
    if (typeof source !== "function") return this.openSocket(source);
    // A token provider is asked before every connection, so a reconnect carries a fresh token.
    let token: Promise<string>;
    try {
      token = Promise.resolve(source());
    } catch (e) {
      token = Promise.reject(e);
    }
    token.then(
      (t) => {
        if (!this.final) this.openSocket(t);
      },
      () => this.scheduleReconnect(),
    );
  }

  private openSocket(token: string | undefined): void {
    let ws: SocketLike;
    try {
      ws = this.opts.socket(this.opts.url, token ? [SUBPROTOCOL, `bearer.${token}`] : [SUBPROTOCOL]);
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.unanswered = [];
    // The dead-socket check also covers a socket that never opens or whose handshake is
    // never answered; otherwise a reconnect could hang in `suspended` indefinitely.
    this.lastRecv = Date.now();
    this.startHeartbeat();
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      const hello: Msg = { type: "connect", v: 1, timeout: this.opts.sessionTimeout, lastZxid: this.lastZxid };
      const auth = this.opts.auth();
      if (auth.length > 0) hello.auth = auth;
      if (this.sessionId) {
        hello.sessionId = this.sessionId;
        hello.secret = this.secret;
        hello.watches = this.opts.watches();
      }
      this.lastRecv = Date.now();
      this.sendRaw(JSON.stringify(hello));
    });
    // `parsed`: a shared socket's channel hands over messages it has already parsed.
    ws.addEventListener("message", (ev: { data?: unknown; parsed?: unknown }) => {
      if (ws !== this.ws) return;
      this.lastRecv = Date.now();
      let parsed = ev.parsed;
      if (parsed === undefined) {
        if (typeof ev.data !== "string" || ev.data === "pong") return;
        try {
          parsed = JSON.parse(ev.data);
        } catch {
          return;
        }
      }
      for (const m of Array.isArray(parsed) ? parsed : [parsed]) this.onMessage(m as Msg);
    });
    const lost = () => {
      if (ws !== this.ws) return;
      this.ws = undefined;
      this.onSocketLost();
    };
    ws.addEventListener("close", lost);
    ws.addEventListener("error", lost);
  }

  private sendRaw(text: string, requests = 1): void {
    this.lastSent = Date.now();
    this.ws?.send(text, requests);
  }

  private onMessage(m: Msg): void {
    if (typeof m.zxid === "number" && m.zxid > this.lastZxid) this.lastZxid = m.zxid;
    switch (m.type) {
      case "connected":
        return this.onConnected(m);
      case "connect-error":
        return this.onConnectError(m);
      case "event":
        this.opts.onEvent({ type: m.event, path: m.path, zxid: m.zxid });
        return;
      case "resync":
        this.opts.onResync({ lastZxid: m.lastZxid, oldestZxid: m.oldestZxid });
        return;
      case "session":
        if (m.state === "expired") return this.expire();
        if (m.state === "moved") return this.terminate("closed", new SessionMovedError("another connection resumed this session"));
        // The connection's token expired (the server closes the socket next). A token provider
        // gives a fresh one on the reconnect that follows, resuming the session; a fixed token
        // cannot, so that is final.
        if (m.state === "token-expired" && typeof this.opts.token !== "function")
          return this.terminate("authFailed", errorFor(m.err ?? Code.AUTHFAILED, m.message ?? "token expired"));
        return;
    }
    if (m.xid === null && typeof m.err === "number" && m.err !== 0) return this.onFrameRejected(m);
    if (typeof m.xid !== "number") return;
    // The server answers frames in order, each in one message; a socket's frames carry
    // increasing xids, so the frames starting at or before this xid are answered.
    while (this.unanswered.length > 0 && this.unanswered[0][0] <= m.xid) this.unanswered.shift();
    const p = this.inflight.get(m.xid);
    if (!p) return;
    this.inflight.delete(m.xid);
    p.cleanup();
    if (m.err === 0) {
      p.onResult?.(m);
      p.resolve(m);
    } else p.reject(errorFor(m.err, m.message ?? m.code ?? "error", m.results));
  }

  /** An error with `xid: null` rejects a whole frame (too large, too many requests): the oldest unanswered one. */
  private onFrameRejected(m: Msg): void {
    for (const xid of this.unanswered.shift() ?? []) {
      const p = this.inflight.get(xid);
      if (!p) continue;
      this.inflight.delete(xid);
      p.cleanup();
      p.reject(errorFor(m.err, m.message ?? m.code ?? "frame rejected"));
    }
  }

  private onConnected(m: Msg): void {
    this.sessionId = m.sessionId;
    this.secret = m.secret;
    this.negotiatedTimeout = m.timeout;
    // The server announces its limits; stay well inside them.
    this.limits = limitsFrom(m, this.limits);
    this.attempt = 0;
    this.startHeartbeat();
    this.setState("connected");
    this.firstConnect?.resolve();
    this.firstConnect = undefined;
    this.flush();
  }

  private onConnectError(m: Msg): void {
    const err = errorFor(m.err, m.message ?? "handshake refused");
    if (m.err === Code.SESSIONEXPIRED) return this.expire();
    if (m.err === Code.AUTHFAILED || m.err === Code.NOAUTH) return this.terminate("authFailed", err);
    if (m.err === Code.CONNECTIONLOSS) return; // server behind us: the close follows, we retry
    if (m.err === Code.THROTTLEDOP) return; // the namespace holds all the sessions it may: retry with backoff
    this.terminate("closed", err);
  }

  private onSocketLost(): void {
    this.stopHeartbeat();
    if (this.final) return;
    // In-flight requests may or may not have been applied: fail them, except the ones
    // that are safe to send again (idempotent creates carry a request id).
    for (const p of [...this.inflight.values()]) {
      this.inflight.delete(p.xid);
      if (p.retry) this.queue.unshift(p);
      else {
        p.cleanup();
        p.reject(new ConnectionLossError());
      }
    }
    this.queue.sort((a, b) => a.xid - b.xid);
    if (this.sessionId) this.setState("suspended");
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.final || this.reconnectTimer) return;
    const cap = Math.min(this.opts.backoffMaxMs, this.opts.backoffBaseMs * 2 ** this.attempt++);
    const delay = Math.random() * cap;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.final) this.open();
    }, delay);
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    const t = this.negotiatedTimeout;
    this.heartbeat = setInterval(() => {
      const now = Date.now();
      if (now - this.lastRecv > (t * 2) / 3) {
        // Nothing heard for too long: the socket is dead even if it has not said so.
        const ws = this.ws;
        this.ws = undefined;
        try {
          ws?.close(4000, "read timeout");
        } catch {
          // ignore
        }
        this.onSocketLost();
        return;
      }
      if (now - this.lastSent >= t / 3 - 50 && this.ws?.readyState === OPEN) this.sendRaw("ping");
    }, Math.max(50, Math.floor(t / 6)));
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private expire(): void {
    this.terminate("expired", new SessionExpiredError());
  }

  /** Enters a final state: every pending request fails with `error`. */
  private terminate(state: State, error: ZooKeeperError): void {
    if (this.final) return;
    this.stopHeartbeat();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const ws = this.ws;
    this.ws = undefined;
    try {
      ws?.close(1000, state);
    } catch {
      // ignore
    }
    for (const p of [...this.inflight.values(), ...this.queue]) {
      p.cleanup();
      p.reject(error);
    }
    this.inflight.clear();
    this.queue = [];
    this.setState(state);
    this.firstConnect?.reject(error);
    this.firstConnect = undefined;
  }

  // ------------------------------------------------------------------ requests

  /** Sends a request (coalesced with others of the same tick) and resolves with its response. */
  request(frame: Msg, options: RequestOptions = {}): Promise<Msg> {
    if (this.final) return Promise.reject(this.state === "expired" ? new SessionExpiredError() : new ClosedError());
    return new Promise<Msg>((resolve, reject) => {
      const xid = this.nextXid++;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => {
        this.forget(p);
        reject(options.signal?.reason ?? new DOMException("aborted", "AbortError"));
      };
      const p: Pending = {
        xid,
        frame: { xid, ...frame },
        retry: options.retry ?? false,
        onResult: options.onResult,
        resolve,
        reject,
        cleanup: () => {
          if (timer) clearTimeout(timer);
          options.signal?.removeEventListener("abort", onAbort);
        },
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      const timeout = options.timeout ?? this.opts.requestTimeout;
      if (timeout > 0)
        timer = setTimeout(() => {
          this.forget(p);
          reject(new OperationTimeoutError(`${frame.op} got no answer within ${timeout} ms; its outcome is unknown`));
        }, timeout);
      this.queue.push(p);
      this.flushing.schedule();
    });
  }

  private forget(p: Pending): void {
    p.cleanup();
    this.inflight.delete(p.xid);
    const i = this.queue.indexOf(p);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** Sends everything queued as one frame (an array when there is more than one request). */
  private flush(): void {
    if (this.state !== "connected" || !this.ws || this.ws.readyState !== OPEN || this.queue.length === 0) return;
    if (!this.opts.coalesce) {
      for (const p of this.queue.splice(0)) {
        this.inflight.set(p.xid, p);
        this.unanswered.push([p.xid]);
        this.sendRaw(JSON.stringify(p.frame));
      }
      return;
    }
    const texts: string[] = [];
    let size = 2;
    for (const p of this.queue) {
      if (texts.length === this.limits.maxBatch) break;
      const text = JSON.stringify(p.frame);
      if (texts.length > 0 && size + text.length + 1 > this.limits.frameBudget) break;
      texts.push(text);
      size += text.length + 1;
    }
    const batch = this.queue.splice(0, texts.length);
    for (const p of batch) this.inflight.set(p.xid, p);
    this.unanswered.push(batch.map((p) => p.xid));
    this.sendRaw(texts.length === 1 ? texts[0] : `[${texts.join(",")}]`, texts.length);
    if (this.queue.length > 0) this.flushing.schedule();
  }

  /** Closes the session on the server (its ephemerals go) and the socket. */
  async close(): Promise<void> {
    if (this.final) return;
    if (this.state === "connected") {
      try {
        await this.request({ op: "close" }, { timeout: 5000 });
      } catch {
        // The session will expire on its own.
      }
    }
    this.terminate("closed", new ClosedError());
  }

  /** Drops the socket as if the network failed (tests, and `suspend()` for apps going offline). */
  dropSocket(): void {
    const ws = this.ws;
    if (!ws) return;
    this.ws = undefined;
    try {
      ws.close(4000, "dropped by client");
    } catch {
      // ignore
    }
    this.onSocketLost();
  }
}
