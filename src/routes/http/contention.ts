import type { IRequest } from "itty-router";
import type { Rule } from "../../core/contenders.js";
import type { ApiCall } from "../../protocol/api.js";
import { answer, call, callerOf, held, idempotencyKey, json, leaseCaller, namespaceOf, newWaiterId } from "./context.js";

/**
 * What locks, semaphores and elections share over HTTP: an acquire held by the object until
 * granted (200), not granted within `wait` (423, the contender withdrawn), or failed; and
 * release / refresh of a grant by its fencing token, with the lease that holds it.
 */

/** The acquire fields a route decides; the rest (caller, request id, waiter) come from the request. */
export type AcquireArgs = Pick<Extract<ApiCall, { op: "acquire" }>, "rule" | "path" | "ttl" | "wait" | "data" | "owner">;

export async function acquire(request: IRequest, env: Env, ctx: ExecutionContext, a: AcquireArgs): Promise<Response> {
  const stub = namespaceOf(request, env);
  const c: ApiCall = { op: "acquire", caller: callerOf(request), ...a, requestId: idempotencyKey(request), waiter: newWaiterId() };
  const r = await held(request, ctx, stub, c as ApiCall & { waiter: string });
  return answer(r, (r) => json(200, { ...r.result, zxid: r.zxid }, r.zxid));
}

export async function settle(request: IRequest, env: Env, op: "release" | "refresh", rule: Rule, path: string, token: number): Promise<Response> {
  const stub = namespaceOf(request, env);
  const r = await call(stub, { op, caller: leaseCaller(request), rule, path, token });
  return answer(r, (r) => json(200, { ...r.result, zxid: r.zxid }, r.zxid));
}
