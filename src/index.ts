import { Router } from "itty-router";
import { wsRoute } from "./routes/ws.js";
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

export { NamespaceObject } from "./objects/namespace-object.js";

/**
 * The edge Worker: routing only. Each namespace is one Durable Object (src/objects); the HTTP
 * API's routes (src/routes/http, docs/http.md) validate requests and reach it over typed RPC.
 */
export const router = Router();

const NS = "/v1/namespaces/:ns";

router
  .get("/healthz", () => Response.json({ ok: true, service: "edgekeeper" }))
  .get("/v1/openapi.json", openApiRoute)
  .get(`${NS}/ws`, wsRoute)
  .get(`${NS}/nodes/*`, nodesRoute)
  .head(`${NS}/nodes/*`, nodesRoute)
  .put(`${NS}/nodes/*`, nodesRoute)
  .patch(`${NS}/nodes/*`, nodesRoute)
  .post(`${NS}/nodes/*`, nodesRoute)
  .delete(`${NS}/nodes/*`, nodesRoute)
  .post(`${NS}/multi`, multiRoute)
  .post(`${NS}/leases`, createLeaseRoute)
  .post(`${NS}/leases/:id/keepalive`, leaseRoute)
  .get(`${NS}/leases/:id`, leaseRoute)
  .delete(`${NS}/leases/:id`, leaseRoute)
  .post(`${NS}/locks/acquire`, lockAcquireRoute)
  .post(`${NS}/locks/release`, lockReleaseRoute)
  .post(`${NS}/locks/refresh`, lockRefreshRoute)
  .post(`${NS}/semaphores/acquire`, semaphoreAcquireRoute)
  .post(`${NS}/semaphores/release`, semaphoreReleaseRoute)
  .post(`${NS}/semaphores/refresh`, semaphoreRefreshRoute)
  .post(`${NS}/elections/campaign`, campaignRoute)
  .post(`${NS}/elections/proclaim`, proclaimRoute)
  .post(`${NS}/elections/resign`, resignRoute)
  .get(`${NS}/elections/leader`, leaderRoute)
  .get(`${NS}/elections/observe`, observeRoute)
  .get(`${NS}/watch`, watchRoute)
  .get(`${NS}/watch/poll`, pollRoute);

// Admin (docs/admin.md): every admin route is in this block, under /v1/admin/ and
// /v1/namespaces/:ns/admin/, so one rights guard registered in front of it covers them all.
router
  .get("/v1/admin/ruok", admin.workerRuokRoute)
  .get(`${NS}/admin/ruok`, admin.adminRuokRoute)
  .get(`${NS}/admin/mntr`, admin.adminMonitorRoute)
  .get(`${NS}/admin/metrics`, admin.adminMetricsRoute)
  .get(`${NS}/admin/sessions`, admin.adminSessionsRoute)
  .get(`${NS}/admin/watches`, admin.adminWatchesRoute)
  .get(`${NS}/admin/watches_by_path`, admin.adminWatchesByPathRoute)
  .all(`${NS}/admin/*`, admin.adminNotFound);

router.all("*", notFound);

export default {
  fetch: (request: Request, env: Env, ctx: ExecutionContext) => router.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
