import type { IRequest } from "itty-router";
import { Code } from "../core/errors.js";
import { grantHeader, grantOf, offeredProtocols } from "../auth/authenticate.js";
import { jsonSubprotocol, ZK_SUBPROTOCOL } from "../protocol/wire.js";
import { zkErrorResponse } from "./errors.js";
import { WIRE_HEADER } from "../protocol/jute/server.js";

/**
 * Hands a WebSocket upgrade to the namespace's object, with the caller's Grant (set by the
 * guard) in a header only the Worker can set: the request the object sees is built here, so
 * nothing a client sends reaches it but the upgrade itself, the subprotocol `protocol` it
 * selects, and `extra` headers of the Worker's own.
 */
function forwardUpgrade(request: IRequest, env: Env, protocol: string | undefined, extra: Record<string, string> = {}): Promise<Response> | Response {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
    return zkErrorResponse(426, Code.BADARGUMENTS, "this route needs a WebSocket upgrade (Upgrade: websocket)");
  const headers = new Headers({ Upgrade: "websocket", ...extra });
  headers.set(...grantHeader(grantOf(request)));
  headers.set("CF-Connecting-IP", request.headers.get("CF-Connecting-IP") ?? "127.0.0.1");
  if (protocol) headers.set("Sec-WebSocket-Protocol", protocol); // echoed by the object
  const stub = env.NAMESPACE.get(env.NAMESPACE.idFromName(decodeURIComponent(request.params.ns)));
  return stub.fetch(new Request(request.url, { headers }));
}

/** GET /v1/namespaces/:ns/ws — the JSON protocol; a shared socket when the client offers one (docs/protocol.md). */
export const wsRoute = (request: IRequest, env: Env) => forwardUpgrade(request, env, jsonSubprotocol(offeredProtocols(request)));

/**
 * GET /v1/namespaces/:ns/zk — ZooKeeper's binary protocol (docs/zookeeper-compat.md): one jute
 * packet per binary message, without the TCP length prefix. The subprotocol `zookeeper` is
 * selected when offered (the tunnel offers it, next to `bearer.<jwt>` when it has a token).
 */
export const zkRoute = (request: IRequest, env: Env) =>
  forwardUpgrade(request, env, offeredProtocols(request).includes(ZK_SUBPROTOCOL) ? ZK_SUBPROTOCOL : undefined, { [WIRE_HEADER]: ZK_SUBPROTOCOL });
