import type { IRequest } from "itty-router";
import { settingsFrom, type Settings } from "../../config.js";
import { Code, codeName, ZkError, type CodeNumber } from "../../core/errors.js";
import type { Stat } from "../../core/stat.js";
import type { NamespaceObject } from "../../objects/namespace-object.js";
import type { ApiCall, ApiError, ApiOk, ApiReply, ApiStreamCall, ApiStreamReply, Caller, LeaseCredential } from "../../protocol/api.js";
import { isNamespaceName } from "../names.js";
import { grantOf } from "../../auth/authenticate.js";
import { identitiesOf } from "../../protocol/grant.js";
import { httpStatus } from "./status.js";

/**
 * What every HTTP route shares (docs/http.md): the namespace's object, the caller (its IP and
 * lease), bounded body reading, JSON replies carrying the zxid, and errors as
 * `{err, code, message}` with the status mapped from the ZooKeeper code. Routes stay thin: they
 * validate the request into a typed call (src/protocol/api.ts), send it to the object over RPC,
 * and shape the reply.
 */

export type Stub = DurableObjectStub<NamespaceObject>;

/** The header that carries a lease's credentials: `<leaseId>.<secret>`. */
export const LEASE_HEADER = "Edgekeeper-Lease";
const LEASE_RE = /^([0-9a-f]{16})\.([0-9a-f]{1,128})$/;
const IDEMPOTENCY_RE = /^[\x21-\x7e]{1,64}$/;

/** A request that cannot go on: answered with its status and `{err, code, message}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly err: CodeNumber,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, Code.BADARGUMENTS, message);

export function errorBody(err: number, message: string, extra: Record<string, unknown> = {}) {
  return { err, code: codeName(err), message, ...extra };
}

/** A JSON response; `zxid` also goes into the Edgekeeper-Zxid header. */
export function json(status: number, body: unknown, zxid?: number, headers: Record<string, string> = {}): Response {
  const h = new Headers({ "Content-Type": "application/json", ...headers });
  if (zxid !== undefined) h.set("Edgekeeper-Zxid", String(zxid));
  return new Response(JSON.stringify(body), { status, headers: h });
}

/** The response for a failed call: status from the code (410 for a resync), the code in the body. */
export function failed(r: ApiError): Response {
  const status = r.resync ? 410 : httpStatus(r.err);
  const extra: Record<string, unknown> = {};
  if (r.results) extra.results = r.results;
  if (r.resync) extra.resync = r.resync;
  return json(status, { err: r.err, code: r.code, message: r.message, ...extra, zxid: r.zxid }, r.zxid);
}

/** Shapes a reply: `onOk` for success, the error response otherwise. */
export function answer(r: ApiReply, onOk: (r: ApiOk) => Response): Response {
  return r.ok ? onOk(r) : failed(r);
}

/** Wraps a handler: HttpErrors and ZkErrors become error responses; anything else a 500. */
export function handler<A extends unknown[]>(fn: (request: IRequest, env: Env, ctx: ExecutionContext, ...rest: A) => Promise<Response> | Response) {
  return async (request: IRequest, env: Env, ctx: ExecutionContext, ...rest: A): Promise<Response> => {
    try {
      return await fn(request, env, ctx, ...rest);
    } catch (e) {
      if (e instanceof HttpError) return json(e.status, errorBody(e.err, e.message, e.extra));
      if (e instanceof ZkError) return json(httpStatus(e.code), errorBody(e.code, e.message));
      console.error("edgekeeper: HTTP route failed", request.method, request.url, e);
      return json(500, errorBody(Code.SYSTEMERROR, "internal error in the edge Worker"));
    }
  };
}

let cached: { env: Env; settings: Settings } | undefined;
export function settingsOf(env: Env): Settings {
  if (cached?.env !== env) cached = { env, settings: settingsFrom(env as unknown as Record<string, string>) };
  return cached.settings;
}

/** The namespace's Durable Object, after checking its name. */
export function namespaceOf(request: IRequest, env: Env): Stub {
  let name: string;
  try {
    name = decodeURIComponent(request.params.ns);
  } catch {
    throw badRequest("the namespace name is not valid percent-encoding");
  }
  if (!isNamespaceName(name))
    throw badRequest(`bad namespace name "${name.slice(0, 80)}": use 1-63 of [A-Za-z0-9._-], not starting with . or -`);
  return env.NAMESPACE.get(env.NAMESPACE.idFromName(name)) as unknown as Stub;
}

/** The lease named by the Edgekeeper-Lease header, if any. */
export function leaseOf(request: Request): LeaseCredential | undefined {
  const raw = request.headers.get(LEASE_HEADER);
  if (raw === null) return undefined;
  const m = LEASE_RE.exec(raw.trim());
  if (!m) throw badRequest(`${LEASE_HEADER} must be <leaseId>.<secret> as POST /leases returned it (16 and 32 hex digits)`);
  return { id: m[1], secret: m[2] };
}

/** Who calls: its identities (address, token subject, super: see src/protocol/grant.ts) and its lease, if it names one. */
export function callerOf(request: Request): Caller {
  const lease = leaseOf(request);
  const grant = grantOf(request);
  const caller: Caller = { identities: identitiesOf(grant, request.headers.get("CF-Connecting-IP") ?? "127.0.0.1") };
  if (lease) caller.lease = lease;
  if (grant.expiresAt !== undefined) caller.expiresAt = grant.expiresAt;
  return caller;
}

/** The caller, who must name a lease. */
export function leaseCaller(request: Request): Caller & { lease: LeaseCredential } {
  const caller = callerOf(request);
  if (!caller.lease) throw badRequest(`this call needs the ${LEASE_HEADER}: <leaseId>.<secret> header`);
  return caller as Caller & { lease: LeaseCredential };
}

/** The Idempotency-Key header: the request id of a create (per lease; namespace-wide without one). */
export function idempotencyKey(request: Request): string | undefined {
  const raw = request.headers.get("Idempotency-Key");
  if (raw === null) return undefined;
  if (!IDEMPOTENCY_RE.test(raw)) throw badRequest("Idempotency-Key must be 1-64 printable ASCII characters");
  return raw;
}

/** The body's bytes, refusing more than `limit` (413). */
export async function bodyBytes(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("Content-Length") ?? "0");
  if (declared > limit) throw new HttpError(413, Code.BADARGUMENTS, `body of ${declared} bytes exceeds the ${limit}-byte limit`);
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > limit) throw new HttpError(413, Code.BADARGUMENTS, `body of ${bytes.byteLength} bytes exceeds the ${limit}-byte limit`);
  return bytes;
}

/** The body as JSON (whatever its Content-Type; empty = `{}`), within the frame limit. */
export async function bodyJson(request: Request, env: Env): Promise<unknown> {
  const bytes = await bodyBytes(request, settingsOf(env).limits.maxFrameBytes);
  if (bytes.byteLength === 0) return {};
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new HttpError(400, Code.MARSHALLINGERROR, "the body is not valid JSON");
  }
}

/** Whether the request's Content-Type is JSON. */
export const isJson = (request: Request): boolean => /^application\/json\b/i.test(request.headers.get("Content-Type") ?? "");

/** Whether the client prefers a JSON envelope over raw bytes. */
export const wantsJson = (request: Request): boolean => /application\/json/i.test(request.headers.get("Accept") ?? "");

/** A random id for a held call, so the route can withdraw it when its client goes away. */
export const newWaiterId = (): string => crypto.randomUUID();

/**
 * Sends a call the object may hold (an acquire, a long-poll). If the client goes away first
 * (request.signal, with the `enable_request_signal` compatibility flag), the object is told to
 * withdraw it, so a waiter's contender node is deleted and nothing is orphaned.
 */
export async function held(request: Request, ctx: ExecutionContext, stub: Stub, call: ApiCall & { waiter: string }): Promise<ApiReply> {
  const signal = request.signal;
  const abandon = () => ctx.waitUntil(stub.apiAbandon(call.waiter).catch(() => {}));
  signal?.addEventListener("abort", abandon, { once: true });
  try {
    return await rpc(() => stub.api(call) as Promise<ApiReply>);
  } finally {
    signal?.removeEventListener("abort", abandon);
  }
}

/** Sends an immediate call. */
export async function call(stub: Stub, c: ApiCall): Promise<ApiReply> {
  return rpc(() => stub.api(c) as Promise<ApiReply>);
}

/**
 * An RPC to the namespace's object. If it fails (the object restarted, was redeployed or could
 * not be reached) the outcome is unknown: 503 CONNECTIONLOSS, like a ZooKeeper client's
 * connection loss. A held waiter's contender goes with its lease's TTL.
 */
export async function rpc<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    console.error("edgekeeper: RPC to the namespace object failed", e);
    throw new HttpError(503, Code.CONNECTIONLOSS, "the namespace's object was unavailable or restarted during the call; its outcome is unknown: retry (creates safely, with an Idempotency-Key)");
  }
}

// ------------------------------------------------------------------ query parameters

export function queryInt(url: URL, name: string, min: number, max: number, fallback: number): number;
export function queryInt(url: URL, name: string, min: number, max: number, fallback?: number): number | undefined;
export function queryInt(url: URL, name: string, min: number, max: number, fallback?: number): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return fallback;
  if (!/^-?\d{1,16}$/.test(raw)) throw badRequest(`${name} must be an integer`);
  const n = Number(raw);
  if (n < min || n > max) throw badRequest(`${name} must be in ${min}..${max}`);
  return n;
}

/** A boolean flag: absent = false; present with no value, 1 or true = true; 0 or false = false. */
export function queryFlag(url: URL, name: string): boolean {
  const raw = url.searchParams.get(name);
  if (raw === null) return false;
  if (raw === "" || raw === "1" || raw === "true") return true;
  if (raw === "0" || raw === "false") return false;
  throw badRequest(`${name} must be 1, true, 0 or false`);
}

// ------------------------------------------------------------------ node headers

/** ETag of a node: its data version, quoted. */
export const etagOf = (stat: Stat): string => `"${stat.version}"`;

/** Stat headers of a node read: ETag, Edgekeeper-Stat (JSON), Last-Modified. */
export function statHeaders(stat: Stat): Record<string, string> {
  return {
    ETag: etagOf(stat),
    "Edgekeeper-Stat": JSON.stringify(stat),
    "Last-Modified": new Date(stat.mtime).toUTCString(),
  };
}

/**
 * The version an If-Match header asks for: `"3"` (or W/"3", or 3) → 3, `*` → -1 (any), absent →
 * undefined.
 */
export function ifMatchVersion(request: Request): number | undefined {
  const raw = request.headers.get("If-Match");
  if (raw === null) return undefined;
  const v = raw.trim();
  if (v === "*") return -1;
  const m = /^(?:W\/)?"?(-?\d{1,10})"?$/.exec(v);
  if (!m) throw badRequest(`If-Match must be one ETag ("<version>") or *`);
  const n = Number(m[1]);
  if (n < -1 || n > 2 ** 31 - 1) throw badRequest("If-Match version out of range");
  return n;
}

// ------------------------------------------------------------------ streams

/** SSE heartbeat interval: `?heartbeat=<ms>` (1000..60000), default 15 s. */
export const heartbeatOf = (url: URL): number => queryInt(url, "heartbeat", 1000, 60_000, 15_000);

/** Opens a Server-Sent Events stream in the object; an error before it opens is a normal error response. */
export async function sse(stub: Stub, c: ApiStreamCall): Promise<Response> {
  const r = await rpc(() => stub.apiStream(c) as Promise<ApiStreamReply>);
  if (!r.ok) return failed(r);
  return new Response(r.stream, {
    status: 200,
    headers: {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      "Edgekeeper-Zxid": String(r.zxid),
      "X-Accel-Buffering": "no",
    },
  });
}
