import type { IRequest } from "itty-router";
import { decodeRequest } from "../../protocol/frames.js";
import type { NodeRequest } from "../../protocol/api.js";
import { answer, badRequest, bodyJson, call, callerOf, handler, json, namespaceOf } from "./context.js";

/**
 * POST /v1/namespaces/:ns/multi — a ZooKeeper transaction (docs/http.md, "Transactions"): the
 * body is `{"ops": [...]}` with the WebSocket protocol's multi ops (create, delete, setData,
 * check; data base64), checked by the same schema. All or nothing: 200 with the result vector,
 * or the failing op's status with `{err, code, message, results}` where results is ZooKeeper's
 * vector (0 before the failing op, its own code, -2 RUNTIMEINCONSISTENCY after).
 */
export const multiRoute = handler(async (request: IRequest, env: Env) => {
  const stub = namespaceOf(request, env);
  const caller = callerOf(request);
  const body = await bodyJson(request, env);
  if (typeof body !== "object" || body === null || Array.isArray(body) || !("ops" in body))
    throw badRequest('the body must be {"ops": [...]}');
  const extra = Object.keys(body).filter((k) => k !== "ops");
  if (extra.length > 0) throw badRequest(`unknown field ${extra[0]}; the body is {"ops": [...]}`);
  const d = decodeRequest({ xid: 0, op: "multi", ops: (body as { ops: unknown }).ops });
  if ("error" in d) throw d.error;
  const r = await call(stub, { op: "execute", caller, request: d.request as NodeRequest });
  return answer(r, (r) => json(200, { ...r.result, zxid: r.zxid }, r.zxid));
});
