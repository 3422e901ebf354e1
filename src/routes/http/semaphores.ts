import type { IRequest } from "itty-router";
import { acquire, settle } from "./contention.js";
import { bodyJson, handler } from "./context.js";
import { basePath, GrantRef, parse, SemaphoreAcquire } from "./schemas.js";

/**
 * Semaphores (docs/http.md, "Semaphores"), in the layout of docs/recipes.md: contenders are
 * `lease-<seq>` EPHEMERAL_SEQUENTIAL children; the `permits` lowest hold. A contender granted a
 * permit touches its node (same data, version + 1) when permits > 1, which wakes the WebSocket
 * waiter that may watch it (the recipes' waiting rules). Every contender must agree on `permits`.
 *
 * - POST /semaphores/acquire {path | name, permits, ttl, wait, owner} — held until granted.
 * - POST /semaphores/release and /semaphores/refresh {path | name, token} + Edgekeeper-Lease.
 */

export const semaphoreAcquireRoute = handler(async (request: IRequest, env: Env, ctx: ExecutionContext) => {
  const b = parse(SemaphoreAcquire, await bodyJson(request, env), "semaphore");
  return acquire(request, env, ctx, { rule: { recipe: "semaphore", permits: b.permits }, path: basePath(b, "semaphores"), ttl: b.ttl, wait: b.wait, owner: b.owner });
});

export const semaphoreReleaseRoute = handler(async (request: IRequest, env: Env) => {
  const b = parse(GrantRef, await bodyJson(request, env), "semaphore");
  return settle(request, env, "release", { recipe: "semaphore", permits: 1 }, basePath(b, "semaphores"), b.token);
});

export const semaphoreRefreshRoute = handler(async (request: IRequest, env: Env) => {
  const b = parse(GrantRef, await bodyJson(request, env), "semaphore");
  return settle(request, env, "refresh", { recipe: "semaphore", permits: 1 }, basePath(b, "semaphores"), b.token);
});
