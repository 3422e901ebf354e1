import type { IRequest } from "itty-router";
import * as v from "valibot";
import { Code, ZkError } from "../../core/errors.js";
import { isSequential } from "../../core/create-mode.js";
import type { Stat } from "../../core/stat.js";
import type { NodeRequest } from "../../protocol/api.js";
import { encodeBase64 } from "../../protocol/base64.js";
import { decodeRequest } from "../../protocol/frames.js";
import {
  answer,
  badRequest,
  bodyBytes,
  bodyJson,
  call,
  callerOf,
  etagOf,
  failed,
  handler,
  HttpError,
  idempotencyKey,
  ifMatchVersion,
  isJson,
  json,
  namespaceOf,
  queryInt,
  settingsOf,
  statHeaders,
  wantsJson,
} from "./context.js";

/**
 * /v1/namespaces/:ns/nodes/<path> — znodes (docs/http.md, "Nodes").
 *
 * - GET: the data, raw (`application/octet-stream`, Stat in headers, ETag = "<version>"), or with
 *   `Accept: application/json` the envelope `{path, data (base64), stat}`. `?children` lists the
 *   children instead (sorted; `limit` and `cursor` page through them).
 * - HEAD: exists — 200 with the Stat headers, or 404.
 * - PUT: create (201), or — with If-Match — set the data (412 on a version mismatch).
 * - PATCH: set the data (If-Match optional). POST: a sequential create under the prefix.
 * - DELETE: delete (If-Match optional).
 *
 * The body of PUT/PATCH/POST is the node's data as raw bytes (any Content-Type but JSON), or with
 * `Content-Type: application/json` the envelope `{data (base64) | text, mode, ttl, acl}`.
 * Requests are checked by the WebSocket protocol's own schemas (decodeRequest), so both
 * protocols accept and refuse the same things.
 */

const NODES = /^\/v1\/namespaces\/[^/]+\/nodes/;

/** The znode path a URL names: what follows /nodes, percent-decoded ("" and "/" are the root). */
export function znodePath(url: URL): string {
  const rest = url.pathname.replace(NODES, "");
  let path: string;
  try {
    path = decodeURIComponent(rest);
  } catch {
    throw badRequest("the node path is not valid percent-encoding");
  }
  return path === "" ? "/" : path;
}

/** Decodes a request as the WebSocket protocol would (the same schemas and limits). */
function decode(frame: Record<string, unknown>): NodeRequest {
  const d = decodeRequest({ xid: 0, ...frame });
  if ("error" in d) throw d.error;
  return d.request as NodeRequest;
}

const Envelope = v.strictObject({
  data: v.optional(v.nullable(v.string())),
  text: v.optional(v.string()),
  mode: v.optional(v.union([v.string(), v.number()])),
  ttl: v.optional(v.number()),
  acl: v.optional(v.array(v.unknown())),
});
const SetEnvelope = v.strictObject({ data: v.optional(v.nullable(v.string())), text: v.optional(v.string()) });

interface Body {
  /** Raw data, or undefined when it travels base64 in `frame.data`. */
  bytes?: Uint8Array;
  frame: Record<string, unknown>;
}

/** The data and options of a write: raw bytes + query, or the JSON envelope. */
async function readBody(request: Request, env: Env, url: URL, create: boolean): Promise<Body> {
  const settings = settingsOf(env);
  const frame: Record<string, unknown> = {};
  if (create) {
    const mode = url.searchParams.get("mode");
    if (mode !== null) frame.mode = /^\d+$/.test(mode) ? Number(mode) : mode;
    const ttl = queryInt(url, "ttl", -1, Number.MAX_SAFE_INTEGER);
    if (ttl !== undefined) frame.ttl = ttl;
    const acl = url.searchParams.get("acl");
    if (acl !== null) {
      try {
        frame.acl = JSON.parse(acl);
      } catch {
        throw badRequest('acl must be a JSON array, e.g. acl=[{"perms":31,"scheme":"world","id":"anyone"}] (URL-encoded)');
      }
    }
  }
  if (!isJson(request)) return { bytes: await bodyBytes(request, settings.namespace.maxDataBytes), frame };
  const parsed = v.safeParse(create ? Envelope : SetEnvelope, await bodyJson(request, env));
  if (!parsed.success) {
    const i = parsed.issues[0];
    const where = i.path?.map((p) => String(p.key)).join(".");
    throw badRequest(
      `a JSON body is the envelope {data (base64) | text${create ? ", mode, ttl, acl" : ""}}; ${where ? `${where}: ` : ""}${i.message}. ` +
        "To store JSON as the node's data, send it with another Content-Type (e.g. application/octet-stream).",
    );
  }
  const e = parsed.output as v.InferOutput<typeof Envelope>;
  if (e.data != null && e.text !== undefined) throw badRequest("give either data (base64) or text, not both");
  for (const k of ["mode", "ttl", "acl"] as const) if (e[k] !== undefined) frame[k] = e[k];
  if (e.text !== undefined) {
    const bytes = new TextEncoder().encode(e.text);
    if (bytes.byteLength > settings.namespace.maxDataBytes)
      throw new HttpError(413, Code.BADARGUMENTS, `data of ${bytes.byteLength} bytes exceeds the ${settings.namespace.maxDataBytes}-byte limit`);
    return { bytes, frame };
  }
  frame.data = e.data ?? "";
  return { frame };
}

/** Builds a write from its body (raw bytes replace the empty base64 placeholder). */
function withData(body: Body, frame: Record<string, unknown>): NodeRequest {
  const req = decode({ ...body.frame, ...frame, data: body.bytes ? "" : body.frame.data }) as NodeRequest & { data: Uint8Array };
  if (body.bytes) req.data = body.bytes;
  return req;
}

const location = (url: URL, path: string) => `${url.pathname.match(NODES)![0]}${path.split("/").map(encodeURIComponent).join("/")}`;

type Written = { path?: string; stat: Stat };

export const nodesRoute = handler(async (request: IRequest, env: Env) => {
  const url = new URL(request.url);
  const stub = namespaceOf(request, env);
  const caller = callerOf(request);
  const path = znodePath(url);

  switch (request.method) {
    case "GET": {
      if (url.searchParams.has("children")) {
        const limit = queryInt(url, "limit", 1, settingsOf(env).namespace.maxChildrenPage);
        const cursor = url.searchParams.get("cursor") ?? undefined;
        const r = await call(stub, { op: "execute", caller, request: decode({ op: "getChildren", path, limit, cursor }) });
        return answer(r, (r) => json(200, { path, ...r.result, zxid: r.zxid }, r.zxid));
      }
      const r = await call(stub, { op: "execute", caller, request: decode({ op: "getData", path }) });
      return answer(r, (r) => {
        const { data, stat } = r.result as { data: Uint8Array; stat: Stat };
        const headers = { ...statHeaders(stat), "Edgekeeper-Zxid": String(r.zxid) };
        const inm = request.headers.get("If-None-Match");
        if (inm !== null && inm.split(",").some((t) => t.trim() === etagOf(stat) || t.trim() === "*"))
          return new Response(null, { status: 304, headers });
        if (wantsJson(request)) return json(200, { path, data: encodeBase64(data), stat, zxid: r.zxid }, r.zxid, statHeaders(stat));
        return new Response(data, { status: 200, headers: { ...headers, "Content-Type": "application/octet-stream" } });
      });
    }
    case "HEAD": {
      const r = await call(stub, { op: "execute", caller, request: decode({ op: "exists", path }) });
      if (!r.ok) return failed(r);
      const stat = (r.result as { stat: Stat | null }).stat;
      if (!stat) return failed({ ok: false, zxid: r.zxid, err: Code.NONODE, code: "NONODE", message: `no node ${path}` });
      return new Response(null, { status: 200, headers: { ...statHeaders(stat), "Edgekeeper-Zxid": String(r.zxid) } });
    }
    case "PUT":
    case "PATCH": {
      const version = ifMatchVersion(request);
      if (request.method === "PUT" && version === undefined) {
        // Create.
        const body = await readBody(request, env, url, true);
        const req = withData(body, { op: "create", path, requestId: idempotencyKey(request) });
        if (req.op === "create" && isSequential(req.mode)) throw badRequest("sequential modes create with POST (the name is chosen by the server)");
        return created(url, await call(stub, { op: "execute", caller, request: req }));
      }
      const body = await readBody(request, env, url, false);
      const req = withData(body, { op: "setData", path, version: version ?? -1 });
      const r = await call(stub, { op: "execute", caller, request: req });
      return answer(r, (r) => {
        const { stat } = r.result as Written;
        return json(200, { path, stat, zxid: r.zxid }, r.zxid, { ETag: etagOf(stat) });
      });
    }
    case "POST": {
      const body = await readBody(request, env, url, true);
      if (body.frame.mode === undefined) body.frame.mode = "persistent_sequential";
      const req = withData(body, { op: "create", path, requestId: idempotencyKey(request) });
      if (req.op === "create" && !isSequential(req.mode)) throw badRequest("POST creates sequential nodes: use a *_sequential mode, or PUT for a named node");
      return created(url, await call(stub, { op: "execute", caller, request: req }));
    }
    case "DELETE": {
      const r = await call(stub, { op: "execute", caller, request: decode({ op: "delete", path, version: ifMatchVersion(request) ?? -1 }) });
      return answer(r, (r) => json(200, { path, zxid: r.zxid }, r.zxid));
    }
    default:
      throw new ZkError(Code.BADARGUMENTS, `method ${request.method} is not supported on nodes`);
  }
});

function created(url: URL, r: Awaited<ReturnType<typeof call>>): Response {
  return answer(r, (r) => {
    const { path, stat } = r.result as Required<Written>;
    return json(201, { path, stat, zxid: r.zxid }, r.zxid, { ETag: etagOf(stat), Location: location(url, path) });
  });
}
