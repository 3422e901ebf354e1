import type { IRequest } from "itty-router";
import * as v from "valibot";
import { answer, badRequest, bodyJson, call, callerOf, handler, json, leaseCaller, namespaceOf } from "./context.js";
import { parse } from "./schemas.js";

/**
 * Leases (docs/http.md, "Leases"): sessions for callers that cannot hold a socket. A lease owns
 * the ephemeral nodes created with its `Edgekeeper-Lease: <leaseId>.<secret>` header; it ends
 * when not kept alive for its TTL, or when revoked, and its nodes go with it in one
 * transaction, firing watches as a WebSocket session's end does.
 *
 * - POST /leases {ttl} → 201 {leaseId, secret, lease, ttl, expiresAt}
 * - POST /leases/:id/keepalive → 200 {leaseId, ttl, expiresAt}
 * - GET /leases/:id → 200 {leaseId, ttl, remaining, ephemerals}
 * - DELETE /leases/:id → 200 {revoked, deleted}
 */

export const LeaseCreate = v.strictObject({ ttl: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(2 ** 31 - 1)), 30_000) });

export const createLeaseRoute = handler(async (request: IRequest, env: Env) => {
  const stub = namespaceOf(request, env);
  const { ttl } = parse(LeaseCreate, await bodyJson(request, env), "lease");
  const r = await call(stub, { op: "lease.create", caller: callerOf(request), ttl });
  return answer(r, (r) => json(201, { ...r.result, zxid: r.zxid }, r.zxid));
});

/** The lease named by the URL, with its credentials from the header (the ids must agree). */
function named(request: IRequest) {
  const caller = leaseCaller(request);
  if (caller.lease.id !== request.params.id) throw badRequest(`the Edgekeeper-Lease header names lease ${caller.lease.id}, the URL ${String(request.params.id).slice(0, 40)}`);
  return caller;
}

export const leaseRoute = handler(async (request: IRequest, env: Env) => {
  const stub = namespaceOf(request, env);
  const caller = named(request);
  const op = request.method === "DELETE" ? "lease.revoke" : request.method === "GET" ? "lease.get" : "lease.keepalive";
  const r = await call(stub, { op, caller });
  return answer(r, (r) => json(200, { ...r.result, zxid: r.zxid }, r.zxid));
});
