import { Router } from "itty-router";
import { wsRoute } from "./routes/ws.js";
import { notFound } from "./routes/errors.js";

export { NamespaceObject } from "./objects/namespace-object.js";

/** The edge Worker: routing only. Each namespace is one Durable Object (src/objects). */
const router = Router();

router
  .get("/healthz", () => Response.json({ ok: true, service: "edgekeeper" }))
  .get("/v1/namespaces/:ns/ws", wsRoute)
  .all("*", notFound);

export default {
  fetch: (request: Request, env: Env, ctx: ExecutionContext) => router.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
