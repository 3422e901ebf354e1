import { exports } from "cloudflare:workers";
import { parseSse } from "../../src/protocol/sse.js";

/**
 * A thin HTTP client for the HTTP API tests: requests go through the Worker's own fetch
 * handler (exports.default.fetch), so they take the production path: router → route →
 * typed RPC → the namespace's Durable Object.
 */

export const worker = (exports as unknown as { default: Fetcher }).default;
export const ORIGIN = "http://edgekeeper.test";

export interface Reply {
  status: number;
  headers: Headers;
  /** The parsed JSON body (null when there is none or it is not JSON). */
  body: any;
  text: string;
  bytes: Uint8Array;
}

export interface Options {
  /** A JSON body (sent as application/json unless contentType says otherwise). */
  json?: unknown;
  /** A raw body. */
  raw?: string | Uint8Array;
  contentType?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export async function send(method: string, url: string, o: Options = {}): Promise<Reply> {
  const headers = new Headers(o.headers ?? {});
  let body: BodyInit | undefined;
  if (o.json !== undefined) {
    body = JSON.stringify(o.json);
    headers.set("Content-Type", o.contentType ?? "application/json");
  } else if (o.raw !== undefined) {
    body = o.raw;
    headers.set("Content-Type", o.contentType ?? "application/octet-stream");
  }
  const res = await worker.fetch(url.startsWith("http") ? url : ORIGIN + url, { method, headers, body, signal: o.signal });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const text = new TextDecoder().decode(bytes);
  let parsed: unknown = null;
  if ((res.headers.get("Content-Type") ?? "").includes("application/json") && text !== "") parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed, text, bytes };
}

/** The API of one namespace. */
export function api(ns: string) {
  const base = `/v1/namespaces/${ns}`;
  const call = (method: string, path: string, o?: Options) => send(method, base + path, o);
  const lh = (lease?: string): Record<string, string> => (lease ? { "Edgekeeper-Lease": lease } : {});
  return {
    ns,
    base,
    call,
    get: (path: string, o?: Options) => call("GET", path, o),
    post: (path: string, json?: unknown, o: Options = {}) => call("POST", path, { json, ...o }),
    /** PUT /nodes<path> with raw data. */
    create: (path: string, data = "", o: Options & { query?: string; lease?: string } = {}) =>
      call("PUT", `/nodes${path}${o.query ? "?" + o.query : ""}`, { raw: data, ...o, headers: { ...lh(o.lease), ...(o.headers ?? {}) } }),
    read: (path: string, o?: Options) => call("GET", `/nodes${path}`, o),
    lease: async (ttl = 30_000): Promise<{ leaseId: string; lease: string; ttl: number; secret: string }> => {
      const r = await call("POST", "/leases", { json: { ttl } });
      if (r.status !== 201) throw new Error(`lease: ${r.status} ${r.text}`);
      return r.body;
    },
    acquire: (kind: "locks" | "semaphores", body: Record<string, unknown>, o: Options & { lease?: string } = {}) =>
      call("POST", `/${kind}/acquire`, { json: body, ...o, headers: { ...lh(o.lease), ...(o.headers ?? {}) } }),
    release: (kind: "locks" | "semaphores", body: Record<string, unknown>, lease: string) => call("POST", `/${kind}/release`, { json: body, headers: lh(lease) }),
    refresh: (kind: "locks" | "semaphores", body: Record<string, unknown>, lease: string) => call("POST", `/${kind}/refresh`, { json: body, headers: lh(lease) }),
  };
}

/** Reads an SSE response incrementally. */
export class SseReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private buffer = "";
  readonly messages: Array<{ event: string; data?: string; id?: string }> = [];
  /** Raw text received so far. */
  raw = "";

  constructor(readonly response: Response) {
    this.reader = response.body!.getReader();
  }

  /** Reads until `pred` holds for some message (returns it), or throws after `ms`. */
  async until(pred: (m: { event: string; data?: string; id?: string }) => boolean, ms = 5000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.messages.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`SSE: timed out; got ${JSON.stringify(this.messages).slice(0, 2000)}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([
        this.reader.read(),
        new Promise<null>((r) => (timer = setTimeout(() => r(null), left))),
      ]);
      clearTimeout(timer);
      if (chunk === null) continue;
      if (chunk.done) throw new Error(`SSE: stream ended; got ${JSON.stringify(this.messages).slice(0, 2000)}`);
      const text = new TextDecoder().decode(chunk.value);
      this.raw += text;
      this.buffer += text;
      const end = this.buffer.lastIndexOf("\n\n");
      if (end >= 0) {
        this.messages.push(...parseSse(this.buffer.slice(0, end + 2)));
        this.buffer = this.buffer.slice(end + 2);
      }
    }
  }

  /** Watch events received so far (unnamed messages), parsed. */
  events(): Array<{ event: string; path: string; zxid: number }> {
    return this.messages.filter((m) => m.event === "message" && m.data).map((m) => {
      const e = JSON.parse(m.data!);
      return { event: e.event, path: e.path, zxid: e.zxid };
    });
  }

  async close(): Promise<void> {
    await this.reader.cancel().catch(() => {});
  }
}

/** Opens an SSE stream through the Worker; throws unless it is 200. */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const res = await worker.fetch(ORIGIN + url, { headers });
  if (res.status !== 200) throw new Error(`SSE ${url}: ${res.status} ${await res.text()}`);
  return new SseReader(res);
}
