import type { IRequest } from "itty-router";
import { Code } from "../core/errors.js";
import { isNamespaceName } from "./names.js";
import { zkErrorResponse } from "./errors.js";

/** GET /v1/namespaces/:ns/ws — hands the WebSocket upgrade to the namespace's object. */
export function wsRoute(request: IRequest, env: Env): Promise<Response> | Response {
  const name = decodeURIComponent(request.params.ns);
  if (!isNamespaceName(name))
    return zkErrorResponse(400, Code.BADARGUMENTS, `bad namespace name "${name.slice(0, 80)}": use 1-63 of [A-Za-z0-9._-], not starting with . or -`);
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
    return zkErrorResponse(426, Code.BADARGUMENTS, "this route needs a WebSocket upgrade (Upgrade: websocket)");
  const stub = env.NAMESPACE.get(env.NAMESPACE.idFromName(name));
  return stub.fetch(request);
}
