import type { IRequest } from "itty-router";
import { answer, badRequest, callerOf, handler, heartbeatOf, held, json, namespaceOf, newWaiterId, queryFlag, queryInt, sse } from "./context.js";

/**
 * Watches over HTTP (docs/http.md, "Watches"): one path, persistent (the node and its children
 * list) or with `recursive=1` the whole subtree, from a zxid. The events are exactly those of a
 * WebSocket `addWatch` (same trigger matrix; missed ones replayed from the change log).
 *
 * - GET /watch?path=&recursive=&fromZxid= — Server-Sent Events; a reconnect's Last-Event-ID
 *   resumes where it left off. A resume from before the retained change log gets `event: resync`.
 * - GET /watch/poll?path=&recursive=&fromZxid=&timeout=&limit= — long-poll: the events after
 *   fromZxid, waiting up to `timeout` ms for the first; `zxid` in the reply is the next fromZxid.
 *   A resume from before the log is a 410 with `resync`.
 */

export const MAX_POLL_MS = 300_000;

function target(url: URL): { path: string; recursive: boolean } {
  const path = url.searchParams.get("path");
  if (path === null || path === "") throw badRequest("path is required (?path=/some/node)");
  return { path, recursive: queryFlag(url, "recursive") };
}

export const watchRoute = handler(async (request: IRequest, env: Env) => {
  const url = new URL(request.url);
  const stub = namespaceOf(request, env);
  // EventSource sends the last id it saw when it reconnects: that wins over the URL's fromZxid.
  const last = request.headers.get("Last-Event-ID");
  if (last !== null && !/^\d{1,16}$/.test(last.trim())) throw badRequest("Last-Event-ID must be a zxid");
  const fromZxid = last !== null ? Number(last.trim()) : queryInt(url, "fromZxid", 0, Number.MAX_SAFE_INTEGER);
  return sse(stub, { op: "watch", caller: callerOf(request), ...target(url), fromZxid, heartbeatMs: heartbeatOf(url) });
});

export const pollRoute = handler(async (request: IRequest, env: Env, ctx: ExecutionContext) => {
  const url = new URL(request.url);
  const stub = namespaceOf(request, env);
  const r = await held(request, ctx, stub, {
    op: "poll",
    caller: callerOf(request),
    ...target(url),
    fromZxid: queryInt(url, "fromZxid", 0, Number.MAX_SAFE_INTEGER),
    timeout: queryInt(url, "timeout", 0, MAX_POLL_MS, 30_000),
    limit: queryInt(url, "limit", 1, 10_000, 1000),
    waiter: newWaiterId(),
  });
  return answer(r, (r) => json(200, { ...r.result }, r.zxid));
});
