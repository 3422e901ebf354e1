import { EdgeKeeper, type ConnectOptions, type SocketFactory, type SocketLike } from "../../src/client/index.js";
import { vi } from "vitest";

type Listener = (ev: any) => void;
type Msg = Record<string, any>;

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

/**
 * An in-memory stand-in for a WebSocket, driven by the test: nothing happens until the test
 * opens it, pushes server messages or closes it. Everything the client sends is recorded.
 */
export class FakeSocket implements SocketLike {
  readyState = CONNECTING;
  /** Raw text frames the client sent, in order. */
  readonly sent: string[] = [];
  /** Set when the client called close(). */
  closedByClient: { code?: number; reason?: string } | undefined;
  /**
   * Optional auto-responder: called for every request the client sends (not the handshake,
   * not pings); what it returns (messages, possibly events before the response) is pushed
   * back as one frame per client frame.
   */
  server: ((req: Msg) => Msg[] | undefined) | undefined;
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(
    readonly url: string,
    readonly protocols: string[] = [],
  ) {}

  // ---------------------------------------------------------------- SocketLike

  send(data: string): void {
    if (this.readyState !== OPEN) throw new Error(`send on a socket in state ${this.readyState}`);
    this.sent.push(data);
    const server = this.server;
    if (!server || data === "ping") return;
    const parsed = JSON.parse(data) as Msg | Msg[];
    const out = (Array.isArray(parsed) ? parsed : [parsed]).flatMap((m) => (m.type === "connect" ? [] : (server(m) ?? [])));
    // Like the server: one answer frame per request frame, a little later.
    if (out.length > 0) queueMicrotask(() => this.readyState === OPEN && this.push(Array.isArray(parsed) ? out : out.length === 1 ? out[0] : out));
  }

  close(code?: number, reason?: string): void {
    if (this.readyState === CLOSED) return;
    this.closedByClient = { code, reason };
    this.readyState = CLOSED;
    // Like a real WebSocket, the close event comes later.
    queueMicrotask(() => this.emit("close", { code: code ?? 1000, reason: reason ?? "", wasClean: true }));
  }

  addEventListener(type: string, listener: Listener): void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener);
  }

  // ---------------------------------------------------------------- test side

  /** The connection is established: fires `open`. */
  open(): void {
    this.readyState = OPEN;
    this.emit("open", {});
  }

  /** Pushes one server frame: an object or an array of objects (or raw text). */
  push(frame: Msg | Msg[] | string): void {
    if (this.readyState !== OPEN) throw new Error("push on a socket that is not open");
    this.emit("message", { data: typeof frame === "string" ? frame : JSON.stringify(frame) });
  }

  /** The server closes the socket cleanly (e.g. 4112 after an expiry notice). */
  serverClose(code = 1000, reason = ""): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.emit("close", { code, reason, wasClean: true });
  }

  /** The network fails: `error` then `close` 1006. */
  networkFail(): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.emit("error", {});
    this.emit("close", { code: 1006, reason: "", wasClean: false });
  }

  /** Every frame sent, parsed: JSON frames as objects/arrays, `ping` as the string. */
  get frames(): unknown[] {
    return this.sent.map((s) => (s === "ping" ? s : JSON.parse(s)));
  }

  /** JSON frames only (no pings), parsed. */
  get jsonFrames(): Array<Msg | Msg[]> {
    return this.sent.filter((s) => s !== "ping").map((s) => JSON.parse(s));
  }

  /** Every request sent (batches flattened), excluding the handshake and pings. */
  get requests(): Msg[] {
    return this.jsonFrames.flatMap((f) => (Array.isArray(f) ? f : [f])).filter((m) => m.type !== "connect");
  }

  /** The handshake frame (the first frame sent). */
  get hello(): Msg | undefined {
    const first = this.sent[0];
    return first === undefined || first === "ping" ? undefined : JSON.parse(first);
  }

  get pings(): number {
    return this.sent.filter((s) => s === "ping").length;
  }

  /** Answers the handshake with a `connected` message (after opening the socket if needed). */
  accept(fields: Partial<Connected> = {}): Connected {
    if (this.readyState === CONNECTING) this.open();
    const msg: Connected = { ...connectedMsg(), ...fields };
    this.push(msg);
    return msg;
  }

  private emit(type: string, ev: unknown): void {
    for (const l of [...(this.listeners.get(type) ?? [])]) l(ev);
  }
}

export interface Connected {
  type: "connected";
  v: 1;
  sessionId: string;
  secret: string;
  timeout: number;
  zxid: number;
  resumed: boolean;
  ttlEnabled: boolean;
  maxDataBytes: number;
  [k: string]: unknown;
}

export function connectedMsg(fields: Partial<Connected> = {}): Connected {
  return {
    type: "connected",
    v: 1,
    sessionId: "0100000000000001",
    secret: "0123456789abcdef0123456789abcdef",
    timeout: 30000,
    zxid: 0,
    resumed: false,
    ttlEnabled: true,
    maxDataBytes: 1048576,
    ...fields,
  };
}

/** A response message for `req`. */
export function ok(req: Msg, fields: Msg = {}, zxid = 1): Msg {
  return { xid: req.xid, zxid, err: 0, ...fields };
}

/** An error response for `req`. */
export function fail(req: Msg, err: number, code: string, fields: Msg = {}, zxid = 1): Msg {
  return { xid: req.xid, zxid, err, code, message: `${code} (test)`, ...fields };
}

export function event(type: string, path: string, zxid: number): Msg {
  const eventType = { NodeCreated: 1, NodeDeleted: 2, NodeDataChanged: 3, NodeChildrenChanged: 4 }[type];
  return { type: "event", event: type, eventType, path, zxid };
}

/** A SocketFactory that records every socket it makes. */
export class FakeSockets {
  readonly all: FakeSocket[] = [];
  readonly factory: SocketFactory = (url, protocols) => {
    const s = new FakeSocket(url, protocols);
    this.all.push(s);
    return s;
  };

  /** The most recently created socket. */
  get last(): FakeSocket {
    const s = this.all[this.all.length - 1];
    if (!s) throw new Error("no socket was created");
    return s;
  }

  get count(): number {
    return this.all.length;
  }
}

/** Lets queued microtasks (the client's same-tick flush, promise continuations) run. */
export async function tick(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

/** Fakes the clock (timers and Date) but leaves microtasks real, so the client's same-tick flush still works. */
export function useFakeClock(): void {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
}

/** A client on fake sockets, not yet connected. */
export function fakeClient(options: Partial<ConnectOptions> = {}): { zk: EdgeKeeper; sockets: FakeSockets } {
  const sockets = new FakeSockets();
  const zk = new EdgeKeeper("http://edgekeeper.test", { namespace: "ns", WebSocket: sockets.factory, ...options });
  return { zk, sockets };
}

/** A client on fake sockets whose first socket has been accepted (the session is established). */
export async function connectedClient(
  options: Partial<ConnectOptions> = {},
  connected: Partial<Connected> = {},
): Promise<{ zk: EdgeKeeper; sockets: FakeSockets; s: FakeSocket }> {
  const { zk, sockets } = fakeClient(options);
  const s = sockets.last;
  s.accept(connected);
  await zk.ready;
  return { zk, sockets, s };
}
