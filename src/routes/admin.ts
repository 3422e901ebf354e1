import type { IRequest } from "itty-router";
import { Code } from "../core/errors.js";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "../core/metrics.js";
import { monitorFamilies, type AdminCall, type AdminReply, type Monitor, type SessionList, type WatchesByPath, type WatchesBySession } from "../protocol/admin.js";
import { zkErrorResponse } from "./errors.js";
import { failed, handler, json, namespaceOf, queryInt, rpc } from "./http/context.js";

/**
 * Admin routes (docs/admin.md): ZooKeeper's four-letter words for one namespace, read from its
 * Durable Object over typed RPC (`admin`, src/objects/admin.ts) and rendered here as JSON or
 * Prometheus text. They read only: no admin call writes to storage. Rights are checked in front
 * of them, at the router (src/index.ts registers every admin route in one block).
 */

/** The commands under /v1/namespaces/:ns/admin/, all GET. */
export const ADMIN_COMMANDS = ["ruok", "mntr", "metrics", "sessions", "watches", "watches_by_path"] as const;

const DEFAULT_LIMIT = 1000;
const MAX_LIMIT = 100_000;

const NO_STORE = { "Cache-Control": "no-store" };

const text = (body: string, type: string, zxid?: number): Response =>
  new Response(body, { headers: { "Content-Type": type, ...NO_STORE, ...(zxid === undefined ? {} : { "Edgekeeper-Zxid": String(zxid) }) } });

/** Sends an admin call to the namespace's object; the namespace's name comes back with the reply. */
async function ask<R>(request: IRequest, env: Env, call: AdminCall): Promise<{ ns: string; reply: AdminReply<R> }> {
  const stub = namespaceOf(request, env);
  const reply = await rpc(() => stub.admin(call) as Promise<AdminReply<R>>);
  return { ns: decodeURIComponent(request.params.ns), reply };
}

const limitOf = (request: IRequest): number => queryInt(new URL(request.url), "limit", 1, MAX_LIMIT, DEFAULT_LIMIT);

/** GET /v1/admin/ruok — the edge Worker answers (no namespace is touched): `imok`. */
export const workerRuokRoute = (): Response => text("imok", "text/plain; charset=utf-8");

/** GET …/admin/ruok — the namespace's object answers: `imok` (503 CONNECTIONLOSS when it cannot). */
export const adminRuokRoute = handler(async (request, env) => {
  const { reply } = await ask(request, env, { op: "ruok" });
  return reply.ok ? text("imok", "text/plain; charset=utf-8", reply.zxid) : failed(reply);
});

/** GET …/admin/mntr — ZooKeeper's mntr / AdminServer monitor, as JSON. */
export const adminMonitorRoute = handler(async (request, env) => {
  const { ns, reply } = await ask<Monitor>(request, env, { op: "monitor" });
  return reply.ok ? json(200, { namespace: ns, ...reply.result }, reply.zxid, NO_STORE) : failed(reply);
});

/** GET …/admin/metrics — the same numbers in the Prometheus text format, labelled with the namespace. */
export const adminMetricsRoute = handler(async (request, env) => {
  const { ns, reply } = await ask<Monitor>(request, env, { op: "monitor" });
  if (!reply.ok) return failed(reply);
  return text(renderPrometheus(monitorFamilies(reply.result), { namespace: ns }), PROMETHEUS_CONTENT_TYPE, reply.zxid);
});

/** GET …/admin/sessions — ZooKeeper's cons, for WebSocket sessions and HTTP leases alike. */
export const adminSessionsRoute = handler(async (request, env) => {
  const limit = limitOf(request);
  const { ns, reply } = await ask<SessionList>(request, env, { op: "sessions", limit });
  return reply.ok ? json(200, { namespace: ns, ...reply.result }, reply.zxid, NO_STORE) : failed(reply);
});

/** GET …/admin/watches — ZooKeeper's wchc: watches by session. */
export const adminWatchesRoute = handler(async (request, env) => {
  const limit = limitOf(request);
  const { ns, reply } = await ask<WatchesBySession>(request, env, { op: "watches", by: "session", limit });
  return reply.ok ? json(200, { namespace: ns, ...reply.result }, reply.zxid, NO_STORE) : failed(reply);
});

/** GET …/admin/watches_by_path — ZooKeeper's wchp: watches by path. */
export const adminWatchesByPathRoute = handler(async (request, env) => {
  const limit = limitOf(request);
  const { ns, reply } = await ask<WatchesByPath>(request, env, { op: "watches", by: "path", limit });
  return reply.ok ? json(200, { namespace: ns, ...reply.result }, reply.zxid, NO_STORE) : failed(reply);
});

/** Anything else under …/admin/: 404 with the commands there are. */
export const adminNotFound = (request: IRequest): Response =>
  zkErrorResponse(
    404,
    Code.BADARGUMENTS,
    `no admin command ${request.method} ${new URL(request.url).pathname.replace(/^.*\/admin\//, "admin/").slice(0, 100)}; the commands are GET admin/{${ADMIN_COMMANDS.join(",")}} (docs/admin.md)`,
  );
