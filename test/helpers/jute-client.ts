import { exports } from "cloudflare:workers";
import { JuteReader, JuteWriter } from "../../src/protocol/jute/io.js";
import { OpCode } from "../../src/protocol/jute/records.js";
import type { Stat } from "../../src/core/stat.js";

/**
 * A deliberately thin ZooKeeper binary-protocol client for tests: jute packets, one per binary
 * WebSocket message, over the Worker's /zk route (docs/zookeeper-compat.md).
 */
export interface Reply {
  xid: number;
  zxid: number;
  err: number;
  /** The body after the ReplyHeader. */
  r: JuteReader;
  bytes: Uint8Array;
}
export interface Notification {
  type: number;
  state: number;
  path: string;
  zxid: number;
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;
const defaultFetch: Fetch = (input, init) => (exports as unknown as { default: Fetcher }).default.fetch(input, init);

export class JuteClient {
  /** Every binary message received, in order. */
  readonly packets: Uint8Array[] = [];
  /** Text messages (there should be none). */
  readonly texts: string[] = [];
  closed: { code: number; reason: string } | null = null;
  sessionId = 0n;
  passwd: Uint8Array = new Uint8Array(16);
  timeout = 0;
  /** Packets from this index on are ReplyHeader packets (after the ConnectResponse). */
  private start = 1;
  private xid = 1;
  private waiters: Array<() => void> = [];

  private constructor(
    readonly ws: WebSocket,
    readonly namespace: string,
    readonly protocol: string | null,
  ) {
    // Binary messages may arrive as Blobs: read them in arrival order.
    let chain = Promise.resolve();
    ws.addEventListener("message", (e) => {
      const data = e.data as string | ArrayBuffer | Blob;
      chain = chain.then(async () => {
        if (typeof data === "string") this.texts.push(data);
        else this.packets.push(new Uint8Array(data instanceof ArrayBuffer ? data : await data.arrayBuffer()));
        this.wake();
      });
    });
    ws.addEventListener("close", (e) => {
      chain = chain.then(() => {
        this.closed = { code: e.code, reason: e.reason };
        this.wake();
      });
    });
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static async open(namespace: string, o: { fetch?: Fetch; protocols?: string[] } = {}): Promise<JuteClient> {
    const headers: Record<string, string> = { Upgrade: "websocket" };
    const protocols = o.protocols ?? ["zookeeper"];
    if (protocols.length) headers["Sec-WebSocket-Protocol"] = protocols.join(", ");
    const res = await (o.fetch ?? defaultFetch)(`http://edgekeeper.test/v1/namespaces/${namespace}/zk`, { headers });
    if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade failed: ${res.status} ${await res.text()}`);
    const ws = res.webSocket;
    ws.accept();
    return new JuteClient(ws, namespace, res.headers.get("Sec-WebSocket-Protocol"));
  }

  /** Opens a socket and connects a new session (or resumes one). */
  static async connect(namespace: string, o: Parameters<JuteClient["handshake"]>[0] = {}, open: { fetch?: Fetch } = {}): Promise<JuteClient> {
    const c = await JuteClient.open(namespace, open);
    const hello = await c.handshake(o);
    if (hello.timeOut <= 0) throw new Error("handshake refused");
    return c;
  }

  async until(pred: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; ${this.packets.length} packets, closed ${JSON.stringify(this.closed)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends a ConnectRequest; resolves with the ConnectResponse's fields. */
  async handshake(o: { sessionId?: bigint; passwd?: Uint8Array; lastZxid?: number; timeout?: number; readOnly?: boolean | null } = {}) {
    const w = new JuteWriter().int(0).long(o.lastZxid ?? 0).int(o.timeout ?? 30_000).long(o.sessionId ?? 0n).buffer(o.passwd ?? new Uint8Array(16));
    if (o.readOnly !== null) w.bool(o.readOnly ?? false);
    const at = this.packets.length;
    this.sendRaw(w.bytes());
    await this.until(() => this.packets.length > at || this.closed !== null);
    if (this.packets.length === at) throw new Error(`closed without a ConnectResponse: ${JSON.stringify(this.closed)}`);
    const bytes = this.packets[at];
    const r = new JuteReader(bytes);
    const hello = { protocolVersion: r.int(), timeOut: r.int(), sessionId: r.long(), passwd: r.buffer()!, readOnly: r.remaining > 0 ? r.bool() : undefined, bytes };
    this.start = at + 1;
    if (hello.timeOut > 0) {
      this.sessionId = hello.sessionId;
      this.passwd = hello.passwd;
      this.timeout = hello.timeOut;
    }
    return hello;
  }

  sendRaw(bytes: Uint8Array | string): void {
    this.ws.send(bytes);
  }

  /** Reply packets received so far (not notifications), decoded. */
  private replyAt(i: number): Reply {
    const bytes = this.packets[i];
    const r = new JuteReader(bytes);
    return { xid: r.int(), zxid: Number(r.long()), err: r.int(), r, bytes };
  }

  /** Sends a request (RequestHeader + body) and resolves with its reply. */
  async request(type: number, body: (w: JuteWriter) => void = () => {}, xid = this.xid++): Promise<Reply> {
    const w = new JuteWriter().int(xid).int(type);
    body(w);
    return this.send(w.bytes(), xid);
  }

  /** Sends a packet and waits for the reply with `xid`. */
  async send(bytes: Uint8Array, xid: number): Promise<Reply> {
    const from = this.packets.length;
    this.sendRaw(bytes);
    let found: Reply | undefined;
    await this.until(() => {
      for (let i = Math.max(from, this.start); i < this.packets.length; i++) {
        const rep = this.replyAt(i);
        if (rep.xid === xid) return (found = rep), true;
      }
      if (this.closed) throw new Error(`closed (${this.closed.code} ${this.closed.reason}) while waiting for xid ${xid}`);
      return false;
    });
    return found!;
  }

  nextXid(): number {
    return this.xid++;
  }

  /** Notifications received (from packet index `from`). */
  notifications(from = 0): Notification[] {
    const out: Notification[] = [];
    for (let i = Math.max(from, this.start); i < this.packets.length; i++) {
      const rep = this.replyAt(i);
      if (rep.xid !== -1) continue;
      out.push({ zxid: rep.zxid, type: rep.r.int(), state: rep.r.int(), path: rep.r.string("path") });
    }
    return out;
  }

  /** A round trip (ping): everything sent to this client before it has arrived. */
  async ping(): Promise<Reply> {
    return this.request(OpCode.ping, () => {}, -2);
  }

  close(): void {
    try {
      this.ws.close(1000, "bye");
    } catch {
      // already closed
    }
  }
}

// ------------------------------------------------------------------ record helpers

export const OPEN_ACL = [{ perms: 31, scheme: "world", id: "anyone" }];
export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

export function writeAcls(w: JuteWriter, acl: Array<{ perms: number; scheme: string; id: string }>): void {
  w.vector(acl, (x, a) => x.int(a.perms).ustring(a.scheme).ustring(a.id));
}

/** A CreateRequest body (CreateTTLRequest when ttl is given). */
export const createBody = (path: string, data = "", flags = 0, acl = OPEN_ACL, ttl?: number) => (w: JuteWriter) => {
  w.ustring(path).buffer(enc(data));
  writeAcls(w, acl);
  w.int(flags);
  if (ttl !== undefined) w.long(ttl);
};

export function readStat(r: JuteReader): Stat {
  const czxid = Number(r.long());
  const mzxid = Number(r.long());
  const ctime = Number(r.long());
  const mtime = Number(r.long());
  const version = r.int();
  const cversion = r.int();
  const aversion = r.int();
  const ephemeralOwner = BigInt.asUintN(64, r.long()).toString(16).padStart(16, "0");
  const dataLength = r.int();
  const numChildren = r.int();
  const pzxid = Number(r.long());
  return { czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner, dataLength, numChildren, pzxid };
}

export const readStrings = (r: JuteReader) => r.vector((x) => x.string("s")) ?? [];
export const readAclList = (r: JuteReader) => r.vector((x) => ({ perms: x.int(), scheme: x.string("scheme"), id: x.string("id") })) ?? [];

/** A MultiResponse / multiRead response, as {type, err, r} per result (the reader positioned at its record). */
export function readMultiHeaders(r: JuteReader, readRecord: (type: number, r: JuteReader) => unknown): Array<{ type: number; err: number; value: unknown }> {
  const out: Array<{ type: number; err: number; value: unknown }> = [];
  for (;;) {
    const type = r.int();
    const done = r.bool();
    const err = r.int();
    if (done) {
      if (type !== -1 || err !== -1) throw new Error(`bad end marker ${type} ${err}`);
      return out;
    }
    out.push({ type, err, value: type === -1 ? r.int() : readRecord(type, r) });
  }
}

export const multiHeader = (w: JuteWriter, type: number, done = false, err = -1) => void w.int(type).bool(done).int(err);
