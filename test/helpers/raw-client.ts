import { env, exports } from "cloudflare:workers";
import { afterEach, expect } from "vitest";

/**
 * A deliberately thin protocol client for tests: it speaks raw frames (docs/protocol.md)
 * over a real WebSocket to the Worker, so tests see exactly what goes on the wire.
 */
export type Msg = Record<string, any>;

let counter = 0;
/** A fresh namespace name per call, so tests never share state. */
export const freshNamespace = (prefix = "t") => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

export const b64 = (s: string) => btoa(s);
export const unb64 = (s: string) => atob(s);

export class RawClient {
  /** Every message received, in order (arrays flattened). */
  readonly received: Msg[] = [];
  /** Raw frames as received (to check batching). */
  readonly frames: unknown[] = [];
  private waiters: Array<() => void> = [];
  private xid = 1;
  closed: { code: number; reason: string } | null = null;
  hello: Msg | null = null;

  private constructor(
    readonly ws: WebSocket,
    readonly namespace: string,
  ) {
    ws.addEventListener("message", (e) => {
      if (typeof e.data !== "string") return;
      if (e.data === "pong") {
        this.received.push({ type: "pong" });
      } else {
        const parsed = JSON.parse(e.data);
        this.frames.push(parsed);
        for (const m of Array.isArray(parsed) ? parsed : [parsed]) this.received.push(m);
      }
      this.wake();
    });
    ws.addEventListener("close", (e) => {
      this.closed = { code: e.code, reason: e.reason };
      this.wake();
    });
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Opens a socket without a handshake. */
  static async open(namespace: string): Promise<RawClient> {
    const res = await (exports as unknown as { default: Fetcher }).default.fetch(`http://edgekeeper.test/v1/namespaces/${namespace}/ws`, { headers: { Upgrade: "websocket" } });
    if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade failed: ${res.status} ${await res.text()}`);
    const ws = res.webSocket;
    ws.accept();
    return new RawClient(ws, namespace);
  }

  /** Opens a socket and performs the handshake; throws if it is refused. */
  static async connect(namespace: string, hello: Msg = {}): Promise<RawClient> {
    const c = await RawClient.open(namespace);
    const reply = await c.handshake(hello);
    if (reply.type !== "connected") throw new Error(`handshake refused: ${JSON.stringify(reply)}`);
    return c;
  }

  async handshake(hello: Msg = {}): Promise<Msg> {
    const start = this.received.length;
    this.send({ type: "connect", v: 1, timeout: 30_000, lastZxid: 0, ...hello });
    const reply = await this.waitFor((m) => m.type === "connected" || m.type === "connect-error", start);
    if (reply.type === "connected") this.hello = reply;
    return reply;
  }

  get sessionId(): string {
    return this.hello!.sessionId;
  }
  get secret(): string {
    return this.hello!.secret;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  nextXid(): number {
    return this.xid++;
  }

  /** Sends one request and resolves with its response. */
  async request(op: string, fields: Msg = {}): Promise<Msg> {
    const xid = this.nextXid();
    const start = this.received.length;
    this.send({ xid, op, ...fields });
    return this.waitFor((m) => m.xid === xid && m.type === undefined, start);
  }

  /** Sends requests as one batch frame and resolves with their responses, in order. */
  async batch(requests: Msg[]): Promise<Msg[]> {
    const start = this.received.length;
    const xids = requests.map(() => this.nextXid());
    this.send(requests.map((r, i) => ({ xid: xids[i], ...r })));
    const out: Msg[] = [];
    for (const xid of xids) out.push(await this.waitFor((m) => m.xid === xid && m.type === undefined, start));
    return out;
  }

  /** Sends a binary frame as-is (`send` JSON-encodes anything that is not a string). */
  sendBinary(bytes: Uint8Array | ArrayBuffer): void {
    this.ws.send(bytes);
  }

  /**
   * Sends a frame exactly as given (text or binary, no xid added) and resolves with the next
   * server message that is not an event: for a lone request, its response or error.
   */
  async sendRaw(frame: string | Uint8Array | ArrayBuffer): Promise<Msg> {
    const start = this.received.length;
    this.ws.send(frame);
    return this.waitFor((m) => m.type !== "event" && m.type !== "pong", start);
  }

  /** The namespace's last committed zxid, as a read reports it. */
  async currentZxid(): Promise<number> {
    const r = await this.request("exists", { path: "/" });
    if (r.err !== 0) throw new Error(`exists / failed: ${JSON.stringify(r)}`);
    return r.zxid;
  }

  /** Resolves with the first message (from index `from`) matching `pred`. */
  async waitFor(pred: (m: Msg) => boolean, from = 0, timeoutMs = 5000): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.received.length; i++) if (pred(this.received[i])) return this.received[i];
      if (this.closed && !this.received.slice(from).some(pred)) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting; received: ${JSON.stringify(this.received.slice(from)).slice(0, 2000)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Events received so far (optionally only those after message index `from`). */
  events(from = 0): Msg[] {
    return this.received.slice(from).filter((m) => m.type === "event");
  }

  /** Waits until the socket is closed by the server. */
  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("socket not closed");
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.closed;
  }

  close(): void {
    try {
      this.ws.close(1000, "bye");
    } catch {
      // already closed
    }
  }
}

/** The namespace's Durable Object stub, for runInDurableObject, alarms and eviction. */
export function stubFor(namespace: string) {
  return env.NAMESPACE.get(env.NAMESPACE.idFromName(namespace));
}

// ------------------------------------------------------------------ helpers for session, watch and timer tests

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The highest zxid a client has seen on its socket (handshake, responses, events): its `lastZxid`. */
export function lastZxidOf(c: RawClient): number {
  let z = 0;
  for (const m of c.received) if (typeof m.zxid === "number" && m.zxid > z) z = m.zxid;
  return z;
}

/**
 * A barrier: a round trip on `c`. Everything the server sent this client before handling the
 * ping (events caused by other clients' earlier writes included) has arrived when it resolves.
 */
export async function roundTrip(c: RawClient): Promise<void> {
  const r = await c.request("ping");
  if (r.err !== 0) throw new Error(`ping failed: ${JSON.stringify(r)}`);
}

/** Opens a socket and sends a connect frame; resolves with the reply (connected or connect-error) and the client. */
export async function tryConnect(namespace: string, hello: Msg = {}): Promise<{ client: RawClient; reply: Msg }> {
  const client = await RawClient.open(namespace);
  const reply = await client.handshake(hello);
  return { client, reply };
}

/** Resumes `c`'s session on a new socket (the old one is left as it is). */
export function resume(c: RawClient, hello: Msg = {}): Promise<RawClient> {
  return RawClient.connect(c.namespace, { sessionId: c.sessionId, secret: c.secret, lastZxid: lastZxidOf(c), ...hello });
}

/** Closes a client's socket from the client side and waits until the close has gone through. */
export async function disconnect(c: RawClient): Promise<void> {
  c.close();
  await c.waitClosed(1000).catch(() => undefined);
  // Let the object run webSocketClose before the test goes on.
  await sleep(20);
}

/** `{event, path, zxid}` of the events a client received (from message index `from`), for compact assertions. */
export function eventsOf(c: RawClient, from = 0): Array<{ event: string; path: string; zxid: number }> {
  return c.events(from).map((e) => ({ event: e.event, path: e.path, zxid: e.zxid }));
}

/**
 * For a test file: returns `client(ns?)`, which connects a RawClient (in a fresh namespace by
 * default) that is closed after the test that opened it.
 */
export function useClients(prefix = "t"): (ns?: string) => Promise<RawClient> {
  const opened: RawClient[] = [];
  afterEach(() => {
    for (const c of opened.splice(0)) c.close();
  });
  return async (ns = freshNamespace(prefix)) => {
    const c = await RawClient.connect(ns);
    opened.push(c);
    return c;
  };
}

/** Asserts a response succeeded (showing it when not) and returns it. */
export function ok(r: Msg): Msg {
  expect(r.err, JSON.stringify(r).slice(0, 500)).toBe(0);
  return r;
}
