import type { IRequest } from "itty-router";
import { Code } from "../core/errors.js";
import { grantHeader, grantOf, offeredProtocols } from "../auth/authenticate.js";
import { jsonSubprotocol, ZK_SUBPROTOCOL } from "../protocol/wire.js";
import { zkErrorResponse } from "./errors.js";
import { WIRE_HEADER } from "../protocol/jute/server.js";

/**
 * GET /v1/namespaces/:ns/ws — hands the WebSocket upgrade to the namespace's object, with the
 * caller's Grant (set by the guard) in a header only the Worker can set: the request the object
 * sees is built here, so nothing a client sends reaches it but the upgrade itself.
 */
export function wsRoute(request: IRequest, env: Env): Promise<Response> | Response {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
    return zkErrorResponse(426, Code.BADARGUMENTS, "this route needs a WebSocket upgrade (Upgrade: websocket)");
  const name = decodeURIComponent(request.params.ns);
  const headers = new Headers({ Upgrade: "websocket" });
  headers.set(...grantHeader(grantOf(request)));
  headers.set("CF-Connecting-IP", request.headers.get("CF-Connecting-IP") ?? "127.0.0.1");
  // The one of our subprotocols the client offers (a shared socket's first), echoed by the object.
  const offered = offeredProtocols(request);
  const protocol = jsonSubprotocol(offered);
  if (protocol) headers.set("Sec-WebSocket-Protocol", protocol);
  const stub = env.NAMESPACE.get(env.NAMESPACE.idFromName(name));
  return stub.fetch(new Request(request.url, { headers }));
}

/**
 * GET /v1/namespaces/:ns/zk — the same upgrade for ZooKeeper's binary protocol
 * (docs/zookeeper-compat.md): one jute packet per binary message, without the TCP length
 * prefix. The subprotocol `zookeeper` is selected when offered (the tunnel offers it, next to
 * `bearer.<jwt>` when it has a token).
 */
export function zkRoute(request: IRequest, env: Env): Promise<Response> | Response {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
    return zkErrorResponse(426, Code.BADARGUMENTS, "this route needs a WebSocket upgrade (Upgrade: websocket)");
  const name = decodeURIComponent(request.params.ns);
  const headers = new Headers({ Upgrade: "websocket" });
  headers.set(...grantHeader(grantOf(request)));
  headers.set("CF-Connecting-IP", request.headers.get("CF-Connecting-IP") ?? "127.0.0.1");
  headers.set(WIRE_HEADER, ZK_SUBPROTOCOL);
  if (offeredProtocols(request).includes(ZK_SUBPROTOCOL)) headers.set("Sec-WebSocket-Protocol", ZK_SUBPROTOCOL);
  const stub = env.NAMESPACE.get(env.NAMESPACE.idFromName(name));
  return stub.fetch(new Request(request.url, { headers }));
}
