/**
 * A tiny raw-frame client for end-to-end tests: JSON frames of docs/protocol.md over a real
 * WebSocket (Node 22's global WebSocket). Deliberately minimal — the real client library is
 * separate work; this one shows exactly what goes over the wire.
 */
export type Msg = Record<string, any>;

export const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
export const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class WireClient {
  /** Every message received, in order (array frames flattened; "pong" as {type:"pong"}). */
  readonly received: Msg[] = [];
  closed: { code: number; reason: string } | null = null;
  /** The `connected` message of the handshake (empty until then). */
  hello: Msg = {};
  private xid = 1;
  private wakers: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (e) => {
      if (typeof e.data !== "string") throw new Error("unexpected binary frame");
      if (e.data === "pong") this.received.push({ type: "pong" });
      else {
        const parsed = JSON.parse(e.data);
        for (const m of Array.isArray(parsed) ? parsed : [parsed]) this.received.push(m);
      }
      this.wake();
    });
    ws.addEventListener("close", (e) => {
      this.closed = { code: e.code, reason: e.reason };
      this.wake();
    });
  }

  /** Opens a WebSocket (no handshake yet). */
  static open(url: string, timeoutMs = 10_000): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const t = setTimeout(() => {
        ws.close();
        reject(new Error(`WebSocket ${url} did not open within ${timeoutMs} ms`));
      }, timeoutMs);
      const client = new WireClient(ws);
      ws.addEventListener("open", () => {
        clearTimeout(t);
        resolve(client);
      });
      ws.addEventListener("error", () => {
        clearTimeout(t);
        reject(new Error(`WebSocket ${url} failed to open`));
      });
    });
  }

  /** Opens a socket and sends `connect`; resolves with the reply (connected or connect-error). */
  static async handshake(url: string, hello: Msg = {}): Promise<{ client: WireClient; reply: Msg }> {
    const client = await WireClient.open(url);
    client.send({ type: "connect", v: 1, timeout: 30_000, lastZxid: 0, ...hello });
    const reply = await client.waitFor((m) => m.type === "connected" || m.type === "connect-error");
    if (reply.type === "connected") client.hello = reply;
    return { client, reply };
  }

  /** Opens a socket and completes the handshake; throws if it is refused. */
  static async connect(url: string, hello: Msg = {}): Promise<WireClient> {
    const { client, reply } = await WireClient.handshake(url, hello);
    if (reply.type !== "connected") throw new Error(`handshake refused: ${JSON.stringify(reply)}`);
    return client;
  }

  get sessionId(): string {
    return this.hello.sessionId;
  }
  get secret(): string {
    return this.hello.secret;
  }

  /** The highest zxid seen on this socket: what a client sends as `lastZxid` when it resumes. */
  get lastZxid(): number {
    let z = 0;
    for (const m of this.received) if (typeof m.zxid === "number" && m.zxid > z) z = m.zxid;
    return z;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Sends one request and resolves with its response. */
  async request(op: string, fields: Msg = {}): Promise<Msg> {
    const xid = this.xid++;
    const from = this.received.length;
    this.send({ xid, op, ...fields });
    return this.waitFor((m) => m.xid === xid && m.type === undefined, from);
  }

  /** Resolves with the first message (from index `from`) matching `pred`. */
  async waitFor(pred: (m: Msg) => boolean, from = 0, timeoutMs = 10_000): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.received.length; i++) if (pred(this.received[i])) return this.received[i];
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}); received: ${JSON.stringify(this.received.slice(from)).slice(0, 2000)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; received: ${JSON.stringify(this.received.slice(from)).slice(0, 2000)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wakers.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Events received (from message index `from`). */
  events(from = 0): Msg[] {
    return this.received.slice(from).filter((m) => m.type === "event");
  }

  /** Waits until the server closes the socket. */
  async waitClosed(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("socket was not closed");
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.wakers.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.closed;
  }

  /** Closes the socket from this side (the session lives on until its timeout). */
  close(): void {
    try {
      this.ws.close(1000, "bye");
    } catch {
      // Already closed.
    }
  }

  private wake(): void {
    const w = this.wakers;
    this.wakers = [];
    for (const f of w) f();
  }
}
