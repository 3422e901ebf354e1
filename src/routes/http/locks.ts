import type { IRequest } from "itty-router";
import { acquire, settle } from "./contention.js";
import { bodyJson, handler } from "./context.js";
import { basePath, GrantRef, LockAcquire, parse } from "./schemas.js";

/**
 * Locks (docs/http.md, "Locks"), in the Mutex layout of docs/recipes.md: contenders are
 * `lock-<seq>` EPHEMERAL_SEQUENTIAL children of the lock's base path, owned by a lease; the
 * lowest holds. So WebSocket clients' Mutex and HTTP callers contend on one lock.
 *
 * - POST /locks/acquire {path | name, ttl, wait, owner} — held until granted: 200 {token, lease, …};
 *   423 if not granted within `wait` ms (the contender is withdrawn).
 * - POST /locks/release {path | name, token} + Edgekeeper-Lease — deletes the contender (and the
 *   lease, if the acquire created it).
 * - POST /locks/refresh {path | name, token} + Edgekeeper-Lease — keeps the grant's lease alive.
 *
 * The token is the fencing token: the czxid of the contender node, strictly increasing across
 * the grants of the lock.
 */

export const lockAcquireRoute = handler(async (request: IRequest, env: Env, ctx: ExecutionContext) => {
  const b = parse(LockAcquire, await bodyJson(request, env), "lock");
  return acquire(request, env, ctx, { rule: { recipe: "lock" }, path: basePath(b, "locks"), ttl: b.ttl, wait: b.wait, owner: b.owner });
});

export const lockReleaseRoute = handler(async (request: IRequest, env: Env) => {
  const b = parse(GrantRef, await bodyJson(request, env), "lock");
  return settle(request, env, "release", { recipe: "lock" }, basePath(b, "locks"), b.token);
});

export const lockRefreshRoute = handler(async (request: IRequest, env: Env) => {
  const b = parse(GrantRef, await bodyJson(request, env), "lock");
  return settle(request, env, "refresh", { recipe: "lock" }, basePath(b, "locks"), b.token);
});
