import type { IRequest } from "itty-router";
import { acquire, settle } from "./contention.js";
import { answer, badRequest, bodyJson, call, callerOf, handler, heartbeatOf, json, leaseCaller, namespaceOf, sse } from "./context.js";
import { basePath, Campaign, GrantRef, parse, Proclaim } from "./schemas.js";

/**
 * Leader election in the style of etcd's v3election (docs/http.md, "Elections"), in the layout
 * of docs/recipes.md: candidates are `candidate-<seq>` EPHEMERAL_SEQUENTIAL children whose data
 * is the candidate's value; the lowest leads. The client's LeaderLatch and LeaderSelector take
 * part in the same election.
 *
 * - POST /elections/campaign {path | name, value, ttl, wait} — held until elected: 200 {token, lease, …}.
 * - POST /elections/proclaim {path | name, token, value} + lease — the leader updates its value.
 * - POST /elections/resign {path | name, token} + lease — leaves the election.
 * - GET /elections/leader?path= | name= — the current leader, or 404.
 * - GET /elections/observe?path= | name= — Server-Sent Events: the leader now and at every change.
 */

const ELECTION = { recipe: "election" } as const;

export const campaignRoute = handler(async (request: IRequest, env: Env, ctx: ExecutionContext) => {
  const b = parse(Campaign, await bodyJson(request, env), "campaign");
  return acquire(request, env, ctx, { rule: ELECTION, path: basePath(b, "elections"), ttl: b.ttl, wait: b.wait, data: new TextEncoder().encode(b.value) });
});

export const proclaimRoute = handler(async (request: IRequest, env: Env) => {
  const b = parse(Proclaim, await bodyJson(request, env), "proclaim");
  const stub = namespaceOf(request, env);
  const r = await call(stub, { op: "proclaim", caller: leaseCaller(request), path: basePath(b, "elections"), token: b.token, data: new TextEncoder().encode(b.value) });
  return answer(r, (r) => json(200, { ...r.result, zxid: r.zxid }, r.zxid));
});

export const resignRoute = handler(async (request: IRequest, env: Env) => {
  const b = parse(GrantRef, await bodyJson(request, env), "resign");
  return settle(request, env, "release", ELECTION, basePath(b, "elections"), b.token);
});

/** The election a GET names: ?path= or ?name=. */
function electionOf(url: URL): string {
  const path = url.searchParams.get("path") ?? undefined;
  const name = url.searchParams.get("name") ?? undefined;
  if (name !== undefined && (name === "" || name.includes("/"))) throw badRequest("name must be one path segment (no /)");
  return basePath({ path, name }, "elections");
}

export const leaderRoute = handler(async (request: IRequest, env: Env) => {
  const stub = namespaceOf(request, env);
  const r = await call(stub, { op: "leader", caller: callerOf(request), path: electionOf(new URL(request.url)) });
  return answer(r, (r) => json(200, { ...r.result, zxid: r.zxid }, r.zxid));
});

export const observeRoute = handler(async (request: IRequest, env: Env) => {
  const url = new URL(request.url);
  const stub = namespaceOf(request, env);
  return sse(stub, { op: "observe", caller: callerOf(request), path: electionOf(url), heartbeatMs: heartbeatOf(url) });
});
