import type { IRequest } from "itty-router";
import { Code } from "../core/errors.js";
import { authenticate, offeredProtocols, Refusal, serviceRefusal } from "../auth/authenticate.js";
import { jsonSubprotocol } from "../protocol/wire.js";
import type { Right } from "../auth/claims.js";
import { isNamespaceName } from "./names.js";
import { zkErrorResponse } from "./errors.js";
import { connectError } from "../protocol/encode.js";
import { CloseCode } from "../protocol/session-server.js";

type Route = (request: IRequest, env: Env, ctx: ExecutionContext) => Promise<Response> | Response;

/**
 * Puts the authentication gate in front of a namespace route: the route runs only for a
 * caller whose token grants `right` on the namespace in the URL (src/auth/authenticate.ts).
 */
export function guarded(right: Right, route: Route): Route {
  return async (request, env, ctx) => {
    let name: string;
    try {
      name = decodeURIComponent(request.params.ns);
    } catch {
      name = "";
    }
    if (!isNamespaceName(name))
      return zkErrorResponse(400, Code.BADARGUMENTS, `bad namespace name "${name.slice(0, 80)}": use 1-63 of [A-Za-z0-9._-], not starting with . or -`);
    const r = await authenticate(request, env, name, right);
    return r instanceof Refusal ? refusalResponse(request, r) : route(request, env, ctx);
  };
}

/** The whole-service gate (no key configured; open mode on a public host), for every route. */
export function serviceGate(request: Request, env: Env): Response | undefined {
  const r = serviceRefusal(request, env);
  return r ? refusalResponse(request, r) : undefined;
}

/**
 * Answers a refusal. A browser cannot read the status of a refused WebSocket upgrade — it
 * only sees the socket close with 1006 — so a client that offers our subprotocol gets the
 * upgrade, one `connect-error` frame with the code and message, and a close with 4000+|code|,
 * all from the Worker, without touching the object. Everyone else gets the HTTP status
 * (401 with WWW-Authenticate, 403, 503) and the `{err, code, message}` body.
 */
export function refusalResponse(request: Request, r: Refusal): Response {
  const offered = offeredProtocols(request);
  const ours = jsonSubprotocol(offered);
  if (request.headers.get("Upgrade")?.toLowerCase() === "websocket" && ours) {
    const pair = new WebSocketPair();
    const server = pair[1];
    server.accept();
    server.send(JSON.stringify(connectError(r.err, r.message, { status: r.status })));
    server.close(CloseCode.error(r.err), r.message.slice(0, 120));
    return new Response(null, { status: 101, webSocket: pair[0], headers: { "Sec-WebSocket-Protocol": ours } });
  }
  const res = zkErrorResponse(r.status, r.err, r.message);
  if (r.status === 401) res.headers.set("WWW-Authenticate", `Bearer realm="edgekeeper", error="invalid_token"`);
  return res;
}
