import { Router } from "itty-router";
import { wsRoute, zkRoute } from "./routes/ws.js";
import { guarded, serviceGate } from "./routes/guard.js";
import { authConfigOf } from "./auth/authenticate.js";
import { notFound } from "./routes/errors.js";
import { openApiRoute } from "./routes/openapi.js";
import { nodesRoute } from "./routes/http/nodes.js";
import { multiRoute } from "./routes/http/multi.js";
import { createLeaseRoute, leaseRoute } from "./routes/http/leases.js";
import { lockAcquireRoute, lockRefreshRoute, lockReleaseRoute } from "./routes/http/locks.js";
import { semaphoreAcquireRoute, semaphoreRefreshRoute, semaphoreReleaseRoute } from "./routes/http/semaphores.js";
import { campaignRoute, leaderRoute, observeRoute, proclaimRoute, resignRoute } from "./routes/http/elections.js";
import { pollRoute, watchRoute } from "./routes/http/watch.js";
import * as admin from "./routes/admin.js";
import { explorerAsset, isServicePath } from "./routes/explorer.js";

export { NamespaceObject } from "./objects/namespace-object.js";

/**
 * The edge Worker: routing only. Each namespace is one Durable Object (src/objects); the HTTP
 * API's routes (src/routes/http, docs/http.md) validate requests and reach it over typed RPC.
 */
export const router = Router();

const NS = "/v1/namespaces/:ns";

router
  .get("/healthz", (request: Request, env: Env) => Response.json({ ok: true, service: "edgekeeper", auth: authConfigOf(env).mode }))
  .get("/v1/openapi.json", openApiRoute)
  // Every namespace route passes the authentication gate first (src/routes/guard.ts): the
  // right it needs is named here, next to the route. WebSocket requests that write are
  // checked again per request by the object, against the connection's grant.
  .get(`${NS}/ws`, guarded("read", wsRoute))
  // ZooKeeper's binary protocol (docs/zookeeper-compat.md): the same rights, checked the same way.
  .get(`${NS}/zk`, guarded("read", zkRoute))
  .get(`${NS}/nodes/*`, guarded("read", nodesRoute))
  .head(`${NS}/nodes/*`, guarded("read", nodesRoute))
  .put(`${NS}/nodes/*`, guarded("write", nodesRoute))
  .patch(`${NS}/nodes/*`, guarded("write", nodesRoute))
  .post(`${NS}/nodes/*`, guarded("write", nodesRoute))
  .delete(`${NS}/nodes/*`, guarded("write", nodesRoute))
  .post(`${NS}/multi`, guarded("write", multiRoute))
  .post(`${NS}/leases`, guarded("write", createLeaseRoute))
  .post(`${NS}/leases/:id/keepalive`, guarded("write", leaseRoute))
  .get(`${NS}/leases/:id`, guarded("read", leaseRoute))
  .delete(`${NS}/leases/:id`, guarded("write", leaseRoute))
  .post(`${NS}/locks/acquire`, guarded("write", lockAcquireRoute))
  .post(`${NS}/locks/release`, guarded("write", lockReleaseRoute))
  .post(`${NS}/locks/refresh`, guarded("write", lockRefreshRoute))
  .post(`${NS}/semaphores/acquire`, guarded("write", semaphoreAcquireRoute))
  .post(`${NS}/semaphores/release`, guarded("write", semaphoreReleaseRoute))
  .post(`${NS}/semaphores/refresh`, guarded("write", semaphoreRefreshRoute))
  .post(`${NS}/elections/campaign`, guarded("write", campaignRoute))
  .post(`${NS}/elections/proclaim`, guarded("write", proclaimRoute))
  .post(`${NS}/elections/resign`, guarded("write", resignRoute))
  .get(`${NS}/elections/leader`, guarded("read", leaderRoute))
  .get(`${NS}/elections/observe`, guarded("read", observeRoute))
  .get(`${NS}/watch`, guarded("read", watchRoute))
  .get(`${NS}/watch/poll`, guarded("read", pollRoute));

// Admin (docs/admin.md): the namespace's admin routes need the `admin` right. /v1/admin/ruok
// is a liveness probe of the Worker itself, open like /healthz (it touches no namespace).
router
  .get("/v1/admin/ruok", admin.workerRuokRoute)
  .get(`${NS}/admin/ruok`, guarded("admin", admin.adminRuokRoute))
  .get(`${NS}/admin/mntr`, guarded("admin", admin.adminMonitorRoute))
  .get(`${NS}/admin/metrics`, guarded("admin", admin.adminMetricsRoute))
  .get(`${NS}/admin/sessions`, guarded("admin", admin.adminSessionsRoute))
  .get(`${NS}/admin/watches`, guarded("admin", admin.adminWatchesRoute))
  .get(`${NS}/admin/watches_by_path`, guarded("admin", admin.adminWatchesByPathRoute))
  .all(`${NS}/admin/*`, guarded("admin", admin.adminNotFound));

router.all("*", notFound);

export default {
  // Before any route: a service without a key configured refuses everything (secure by default).
  // Then the service's routes (/v1/*, /healthz); any other path is a file of the web explorer
  // (public/, docs/explorer.md) if there is one.
  fetch: async (request: Request, env: Env, ctx: ExecutionContext) =>
    serviceGate(request, env) ??
    (isServicePath(new URL(request.url).pathname) ? undefined : await explorerAsset(request, env)) ??
    router.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
