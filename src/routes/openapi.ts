import { Code, codeName } from "../core/errors.js";
import { STATUS_TABLE } from "./http/status.js";

/**
 * The OpenAPI 3.1 document of the whole HTTP surface, served at GET /v1/openapi.json. Written
 * by hand next to the routes; test/integration/http-openapi.test.ts checks it against the
 * implementation: every route of the router is documented and every documented operation is a
 * route, and every operation's examples (`x-edgekeeper-examples`; the first one is also the
 * standard `example`) validate against the documented schemas and succeed against the real
 * handlers with the documented status and response schema.
 *
 * Example values the test swaps for live ones: EXAMPLE.lease (a lease's credentials),
 * EXAMPLE.leaseId, and the fencing tokens in EXAMPLE.tokens.
 */

export const EXAMPLE = {
  leaseId: "01a213a4a4ce0004",
  lease: "01a213a4a4ce0004.6f42c1d3e5b7a9f00123456789abcdef",
  tokens: { lock: 4101, semaphore: 4102, election: 4103 },
} as const;

type Schema = Record<string, unknown>;

/** One runnable example of an operation. */
export interface Example {
  summary: string;
  params?: Record<string, string>;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** JSON body (sent as application/json), or a string (sent raw, as `contentType`). */
  body?: unknown;
  contentType?: string;
  status: number;
}

// ------------------------------------------------------------------ schemas

const int = (description?: string, extra: Schema = {}): Schema => ({ type: "integer", ...(description ? { description } : {}), ...extra });
const str = (description?: string, extra: Schema = {}): Schema => ({ type: "string", ...(description ? { description } : {}), ...extra });
const bool = (description?: string): Schema => ({ type: "boolean", ...(description ? { description } : {}) });
const obj = (properties: Record<string, Schema>, required: string[] = [], extra: Schema = {}): Schema => ({
  type: "object",
  properties,
  ...(required.length ? { required } : {}),
  ...extra,
});
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const arr = (items: Schema): Schema => ({ type: "array", items });

const ZXID = int("The namespace's zxid after the call (a write: its own zxid).", { minimum: 0 });

const schemas: Record<string, Schema> = {
  Stat: obj(
    {
      czxid: int("zxid of the create; for a recipe contender, its fencing token"),
      mzxid: int(),
      pzxid: int(),
      ctime: int("ms since the epoch"),
      mtime: int(),
      version: int("data version: the ETag"),
      cversion: int(),
      aversion: int(),
      ephemeralOwner: str("16 hex digits: the owning session or lease, or zeros", { pattern: "^[0-9a-f]{16}$" }),
      dataLength: int(),
      numChildren: int(),
    },
    ["czxid", "mzxid", "pzxid", "ctime", "mtime", "version", "cversion", "aversion", "ephemeralOwner", "dataLength", "numChildren"],
  ),
  Error: obj(
    {
      err: int("ZooKeeper's numeric error code"),
      code: str("its name", { enum: Object.keys(Code) }),
      message: str(),
      zxid: int(),
      results: arr(obj({ err: int() }, ["err"])),
      resync: ref("Resync"),
    },
    ["err", "code", "message"],
  ),
  Resync: obj(
    { fromZxid: int(), oldestZxid: int("the change log is complete after this zxid"), zxid: int("re-read, then watch from here") },
    ["fromZxid", "oldestZxid", "zxid"],
  ),
  Acl: arr(obj({ perms: int("bits: READ 1, WRITE 2, CREATE 4, DELETE 8, ADMIN 16"), scheme: str(), id: str() }, ["perms", "scheme", "id"])),
  Mode: {
    description: "create mode, by name or ZooKeeper's number",
    oneOf: [
      str(undefined, {
        enum: ["persistent", "ephemeral", "persistent_sequential", "ephemeral_sequential", "container", "persistent_ttl", "persistent_sequential_ttl"],
      }),
      int(undefined, { minimum: 0, maximum: 6 }),
    ],
  },
  CreateEnvelope: obj(
    {
      data: { type: ["string", "null"], description: "the data, base64" },
      text: str("the data as UTF-8 text (instead of data)"),
      mode: ref("Mode"),
      ttl: int("ms, for the TTL modes"),
      acl: ref("Acl"),
    },
    [],
    { additionalProperties: false },
  ),
  SetEnvelope: obj({ data: { type: ["string", "null"], description: "base64" }, text: str("UTF-8 text") }, [], { additionalProperties: false }),
  NodeData: obj({ path: str(), data: str("base64"), stat: ref("Stat"), zxid: ZXID }, ["path", "data", "stat", "zxid"]),
  Children: obj(
    { path: str(), children: arr(str()), stat: ref("Stat"), cursor: str("present when there are more: pass it as ?cursor="), zxid: ZXID },
    ["path", "children", "stat", "zxid"],
  ),
  Written: obj({ path: str("the node (a sequential create: its full name)"), stat: ref("Stat"), zxid: ZXID }, ["path", "stat", "zxid"]),
  Deleted: obj({ path: str(), zxid: ZXID }, ["path", "zxid"]),
  MultiOp: {
    oneOf: [
      obj({ op: str(undefined, { const: "create" }), path: str(), data: str("base64"), mode: ref("Mode"), ttl: int(), acl: ref("Acl") }, ["op", "path"]),
      obj({ op: str(undefined, { const: "delete" }), path: str(), version: int("-1 = any") }, ["op", "path"]),
      obj({ op: str(undefined, { const: "setData" }), path: str(), data: str("base64"), version: int() }, ["op", "path"]),
      obj({ op: str(undefined, { const: "check" }), path: str(), version: int() }, ["op", "path"]),
    ],
  },
  MultiRequest: obj({ ops: arr(ref("MultiOp")) }, ["ops"], { additionalProperties: false }),
  MultiResult: obj({ results: arr(obj({ op: str(), path: str(), stat: ref("Stat") }, ["op"])), zxid: ZXID }, ["results", "zxid"]),
  LeaseCreate: obj({ ttl: int("requested TTL in ms (default 30000), clamped to the session timeout bounds", { minimum: 1 }) }, [], { additionalProperties: false }),
  Lease: obj(
    {
      leaseId: str(undefined, { pattern: "^[0-9a-f]{16}$" }),
      secret: str(),
      lease: str("send as the Edgekeeper-Lease header: <leaseId>.<secret>"),
      ttl: int("negotiated TTL, ms"),
      expiresAt: int("ms since the epoch, unless kept alive"),
      zxid: ZXID,
    },
    ["leaseId", "secret", "lease", "ttl", "expiresAt", "zxid"],
  ),
  LeaseKept: obj({ leaseId: str(), ttl: int(), expiresAt: int(), zxid: ZXID }, ["leaseId", "ttl", "expiresAt", "zxid"]),
  LeaseInfo: obj(
    { leaseId: str(), ttl: int(), remaining: int("ms left"), grant: bool("created by an acquire for its grant"), ephemerals: arr(str()), zxid: ZXID },
    ["leaseId", "ttl", "remaining", "ephemerals", "zxid"],
  ),
  LeaseRevoked: obj({ leaseId: str(), revoked: bool(), deleted: arr(str()), zxid: ZXID }, ["leaseId", "revoked", "deleted", "zxid"]),
  LockAcquire: obj(
    {
      path: str("the lock's base path (or name → /locks/<name>)"),
      name: str(),
      ttl: int("TTL of the lease made for this grant when no Edgekeeper-Lease is sent (default 30000)"),
      wait: int("longest wait for the grant, ms (default 30000, max 300000; 0 = try once)", { minimum: 0, maximum: 300000 }),
      owner: str("holder name written into the node's data"),
    },
    [],
    { additionalProperties: false },
  ),
  SemaphoreAcquire: obj(
    {
      path: str("the semaphore's base path (or name → /semaphores/<name>)"),
      name: str(),
      permits: int("how many may hold at once; every contender must agree", { minimum: 1, maximum: 10000 }),
      ttl: int(),
      wait: int(undefined, { minimum: 0, maximum: 300000 }),
      owner: str(),
    },
    ["permits"],
    { additionalProperties: false },
  ),
  Campaign: obj(
    { path: str("the election's base path (or name → /elections/<name>)"), name: str(), value: str("the candidate's value (its id)"), ttl: int(), wait: int(undefined, { minimum: 0, maximum: 300000 }) },
    ["value"],
    { additionalProperties: false },
  ),
  GrantRef: obj({ path: str(), name: str(), token: int("the fencing token of the grant", { minimum: 1 }) }, ["token"], { additionalProperties: false }),
  Proclaim: obj({ path: str(), name: str(), token: int(undefined, { minimum: 1 }), value: str() }, ["token", "value"], { additionalProperties: false }),
  Grant: obj(
    {
      path: str("the base path"),
      node: str("this contender's node"),
      token: int("fencing token: the node's czxid; strictly increasing across the grants of one lock"),
      leaseId: str(),
      lease: str("the lease's credentials (Edgekeeper-Lease) for refresh and release"),
      ttl: int(),
      expiresAt: int(),
      zxid: ZXID,
    },
    ["path", "node", "token", "leaseId", "lease", "ttl", "expiresAt", "zxid"],
  ),
  Released: obj({ path: str(), node: str(), token: int(), released: bool(), zxid: ZXID }, ["path", "node", "token", "released", "zxid"]),
  Refreshed: obj({ path: str(), node: str(), token: int(), leaseId: str(), ttl: int(), expiresAt: int(), zxid: ZXID }, ["path", "node", "token", "ttl", "expiresAt", "zxid"]),
  Proclaimed: obj({ path: str(), node: str(), token: int(), stat: ref("Stat"), zxid: ZXID }, ["path", "node", "token", "stat", "zxid"]),
  Leader: obj({ node: str(), value: str(), token: int(), leaseId: str(), mzxid: int() }, ["node", "value", "token", "leaseId", "mzxid"]),
  LeaderReply: obj({ path: str(), leader: ref("Leader"), zxid: ZXID }, ["path", "leader", "zxid"]),
  Event: obj(
    {
      type: str(undefined, { const: "event" }),
      event: str(undefined, { enum: ["NodeCreated", "NodeDeleted", "NodeDataChanged", "NodeChildrenChanged"] }),
      eventType: int(),
      path: str(),
      zxid: int(),
    },
    ["type", "event", "eventType", "path", "zxid"],
  ),
  Poll: obj(
    { events: arr(ref("Event")), zxid: int("pass as the next fromZxid: every event up to it has been delivered"), more: bool("cut at limit: poll again at once") },
    ["events", "zxid", "more"],
  ),
};

// ------------------------------------------------------------------ parameters and responses

const ns = { name: "ns", in: "path", required: true, description: "namespace: 1-63 of [A-Za-z0-9._-], not starting with . or -", schema: str(undefined, { pattern: "^[A-Za-z0-9_][A-Za-z0-9._-]{0,62}$" }), example: "demo" };
const nodePath = { name: "path", in: "path", required: true, description: "the znode path without its leading / (percent-encoded segments); empty for the root", schema: str(), example: "app/config" };
const leaseHeader = (required: boolean) => ({
  name: "Edgekeeper-Lease",
  in: "header",
  required,
  description: "a lease's credentials, <leaseId>.<secret> (POST /leases)",
  schema: str(undefined, { pattern: "^[0-9a-f]{16}\\.[0-9a-f]{1,128}$" }),
  example: EXAMPLE.lease,
});
const idempotency = { name: "Idempotency-Key", in: "header", required: false, description: "makes a create idempotent: a retry with the same key (and lease) returns the first result", schema: str(undefined, { maxLength: 64 }) };
const ifMatch = { name: "If-Match", in: "header", required: false, description: 'the expected version as an ETag ("3"), or * for any', schema: str() };
const q = (name: string, description: string, schema: Schema, required = false) => ({ name, in: "query", required, description, schema });
const aclQuery = q("acl", "the ACL as a JSON array (URL-encoded), e.g. [{\"perms\":1,\"scheme\":\"world\",\"id\":\"anyone\"}]; default: open", str());

const jsonBody = (schema: Schema) => ({ "application/json": { schema } });
/** A node's data as the body: raw bytes with any Content-Type except application/json. */
const RAW = { "*/*": { schema: str("the node's data, raw (any Content-Type except application/json)", { format: "binary" }) } };
const ok = (description: string, schema: Schema, status = "200") => ({ [status]: { description, content: jsonBody(schema) } });
const sseResponse = (description: string) => ({ "200": { description, content: { "text/event-stream": { schema: str() } } } });

/** The error statuses an operation can answer with, each with the codes that map to it. */
function errors(...statuses: number[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // Every namespace route passes the token gate: 401 (no, bad or expired token), 403 (not granted).
  for (const s of [...new Set([400, 401, 403, ...statuses, 500])]) {
    const codes = STATUS_TABLE.filter(([, st]) => st === s).map(([c]) => codeName(c));
    out[String(s)] = {
      description: s === 410 && codes.length ? `${codes.join(", ")}; or a resync (see the body's resync)` : codes.join(", ") || "error",
      content: jsonBody(ref("Error")),
    };
  }
  return out;
}

interface Op {
  method: string;
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  parameters?: unknown[];
  requestBody?: Record<string, unknown>;
  responses: Record<string, unknown>;
  examples: Example[];
}

const NS = "/v1/namespaces/{ns}";
const NODE = `${NS}/nodes/{path}`;

const ops: Op[] = [
  {
    method: "get",
    path: "/healthz",
    operationId: "health",
    tag: "meta",
    summary: "Liveness of the Worker",
    responses: ok("it answers", obj({ ok: bool(), service: str() }, ["ok", "service"])),
    examples: [{ summary: "health", status: 200 }],
  },
  {
    method: "get",
    path: "/v1/openapi.json",
    operationId: "openapi",
    tag: "meta",
    summary: "This document",
    responses: ok("OpenAPI 3.1", obj({ openapi: str() }, ["openapi"])),
    examples: [{ summary: "the document", status: 200 }],
  },
  {
    method: "get",
    path: `${NS}/ws`,
    operationId: "websocket",
    tag: "meta",
    summary: "WebSocket upgrade for the JSON protocol (docs/protocol.md)",
    parameters: [ns, { name: "Upgrade", in: "header", required: true, schema: str(undefined, { const: "websocket" }), example: "websocket" }],
    responses: { "101": { description: "switching protocols" }, "426": { description: "no Upgrade: websocket", content: jsonBody(ref("Error")) }, ...errors(429) },
    examples: [{ summary: "upgrade", params: { ns: "demo" }, headers: { Upgrade: "websocket" }, status: 101 }],
  },
  {
    method: "get",
    path: `${NS}/zk`,
    operationId: "zookeeper",
    tag: "meta",
    summary: "WebSocket upgrade for ZooKeeper's binary (jute) protocol: one packet per binary message, subprotocol zookeeper (docs/zookeeper-compat.md)",
    parameters: [ns, { name: "Upgrade", in: "header", required: true, schema: str(undefined, { const: "websocket" }), example: "websocket" }],
    responses: { "101": { description: "switching protocols" }, "426": { description: "no Upgrade: websocket", content: jsonBody(ref("Error")) }, ...errors(429) },
    examples: [{ summary: "upgrade", params: { ns: "demo" }, headers: { Upgrade: "websocket" }, status: 101 }],
  },
  // ---------------------------------------------------------------- nodes
  {
    method: "get",
    path: NODE,
    operationId: "getNode",
    tag: "nodes",
    summary: "Read a node's data, or (?children) list its children",
    description:
      "Raw bytes (application/octet-stream) with the Stat in headers (ETag = \"<version>\", Edgekeeper-Stat, Edgekeeper-Zxid), or with Accept: application/json the envelope {path, data (base64), stat}. If-None-Match with the current ETag answers 304. With ?children: the children, sorted, paginated by limit and cursor.",
    parameters: [
      ns,
      nodePath,
      q("children", "list the children instead of reading the data", str()),
      q("limit", "children page size (1..10000)", int(undefined, { minimum: 1, maximum: 10000 })),
      q("cursor", "the cursor of the previous page", str()),
      { name: "Accept", in: "header", required: false, schema: str(), description: "application/json for the JSON envelope" },
      { name: "If-None-Match", in: "header", required: false, schema: str() },
      leaseHeader(false),
    ],
    responses: {
      "200": {
        description: "the data (raw, or the JSON envelope), or the children",
        headers: { ETag: { schema: str() }, "Edgekeeper-Stat": { schema: str(), description: "the Stat as JSON" }, "Edgekeeper-Zxid": { schema: str() } },
        content: { "application/octet-stream": { schema: str(undefined, { format: "binary" }) }, "application/json": { schema: { oneOf: [ref("NodeData"), ref("Children")] } } },
      },
      "304": { description: "not modified (If-None-Match)" },
      ...errors(403, 404, 410),
    },
    examples: [
      { summary: "raw data", params: { ns: "demo", path: "app/config" }, status: 200 },
      { summary: "JSON envelope", params: { ns: "demo", path: "app/config" }, headers: { Accept: "application/json" }, status: 200 },
      { summary: "children, first page", params: { ns: "demo", path: "app" }, query: { children: "", limit: "100" }, status: 200 },
    ],
  },
  {
    method: "head",
    path: NODE,
    operationId: "nodeExists",
    tag: "nodes",
    summary: "Whether a node exists: 200 with the Stat headers, or 404",
    parameters: [ns, nodePath, leaseHeader(false)],
    responses: { "200": { description: "exists", headers: { ETag: { schema: str() }, "Edgekeeper-Stat": { schema: str() } } }, ...errors(403, 404, 410) },
    examples: [{ summary: "exists", params: { ns: "demo", path: "app/config" }, status: 200 }],
  },
  {
    method: "put",
    path: NODE,
    operationId: "putNode",
    tag: "nodes",
    summary: "Create a node; with If-Match, set its data",
    description:
      "Without If-Match: create (201; 409 NODEEXISTS if it exists). mode (default persistent) and ttl come from the query or the JSON envelope; ephemeral modes need Edgekeeper-Lease. With If-Match: set the data (412 BADVERSION on a mismatch). The body is the data, raw, or with Content-Type: application/json the envelope.",
    parameters: [ns, nodePath, q("mode", "create mode (name or number)", ref("Mode")), q("ttl", "ms, for the TTL modes", int()), aclQuery, ifMatch, idempotency, leaseHeader(false)],
    requestBody: { content: { ...RAW, "application/json": { schema: ref("CreateEnvelope") } } },
    responses: { ...ok("created", ref("Written"), "201"), ...ok("data set (If-Match)", ref("Written")), ...errors(403, 404, 409, 410, 412, 413, 501) },
    examples: [
      { summary: "create with raw data", params: { ns: "demo", path: "app/feature-flags" }, body: "on", contentType: "application/octet-stream", status: 201 },
      { summary: "create from a JSON envelope", params: { ns: "demo", path: "app/owner" }, body: { text: "alice", mode: "persistent" }, status: 201 },
      { summary: "a read-only node (ACL in the query)", params: { ns: "demo", path: "app/frozen" }, query: { acl: '[{"perms":1,"scheme":"world","id":"anyone"}]' }, body: "fixed", contentType: "text/plain", status: 201 },
      { summary: "an ephemeral node owned by a lease", params: { ns: "demo", path: "app/worker-1" }, query: { mode: "ephemeral" }, headers: { "Edgekeeper-Lease": EXAMPLE.lease }, body: "up", contentType: "text/plain", status: 201 },
      { summary: "conditional set", params: { ns: "demo", path: "app/config" }, headers: { "If-Match": '"0"' }, body: "v2", contentType: "application/octet-stream", status: 200 },
    ],
  },
  {
    method: "patch",
    path: NODE,
    operationId: "setNode",
    tag: "nodes",
    summary: "Set a node's data (If-Match optional)",
    parameters: [ns, nodePath, ifMatch, leaseHeader(false)],
    requestBody: { content: { ...RAW, "application/json": { schema: ref("SetEnvelope") } } },
    responses: { ...ok("data set", ref("Written")), ...errors(403, 404, 410, 412, 413) },
    examples: [{ summary: "set if still version 0", params: { ns: "demo", path: "app/config" }, headers: { "If-Match": '"0"' }, body: { text: "v2" }, status: 200 }],
  },
  {
    method: "post",
    path: NODE,
    operationId: "createSequential",
    tag: "nodes",
    summary: "Create a sequential node under the prefix",
    description: "The server appends the 10-digit sequence (ZooKeeper's %010d). mode defaults to persistent_sequential.",
    parameters: [ns, nodePath, q("mode", "a sequential mode", ref("Mode")), q("ttl", "ms, for persistent_sequential_ttl", int()), aclQuery, idempotency, leaseHeader(false)],
    requestBody: { content: { ...RAW, "application/json": { schema: ref("CreateEnvelope") } } },
    responses: { ...ok("created; path is the full name", ref("Written"), "201"), ...errors(403, 404, 409, 410, 413, 501) },
    examples: [{ summary: "enqueue a job", params: { ns: "demo", path: "app/jobs/job-" }, headers: { "Idempotency-Key": "job-2026-11-25-a" }, body: "payload", contentType: "application/octet-stream", status: 201 }],
  },
  {
    method: "delete",
    path: NODE,
    operationId: "deleteNode",
    tag: "nodes",
    summary: "Delete a node (If-Match optional)",
    parameters: [ns, nodePath, ifMatch, leaseHeader(false)],
    responses: { ...ok("deleted", ref("Deleted")), ...errors(403, 404, 409, 410, 412) },
    examples: [{ summary: "delete if unchanged", params: { ns: "demo", path: "app/config" }, headers: { "If-Match": '"0"' }, status: 200 }],
  },
  {
    method: "post",
    path: `${NS}/multi`,
    operationId: "multi",
    tag: "transactions",
    summary: "A ZooKeeper multi: all or nothing",
    description: "Ops as in the WebSocket protocol (data base64). On failure: the failing op's status, with ZooKeeper's result vector in results (0 before it, its code, -2 after).",
    parameters: [ns, leaseHeader(false)],
    requestBody: { required: true, content: jsonBody(ref("MultiRequest")) },
    responses: { ...ok("applied", ref("MultiResult")), ...errors(403, 404, 409, 410, 412) },
    examples: [
      {
        summary: "check, set and create together",
        params: { ns: "demo" },
        body: {
          ops: [
            { op: "check", path: "/app/config", version: 0 },
            { op: "setData", path: "/app/config", data: "djI=", version: 0 },
            { op: "create", path: "/app/audit-", data: "c2V0IHYy", mode: "persistent_sequential" },
          ],
        },
        status: 200,
      },
    ],
  },
  // ---------------------------------------------------------------- leases
  {
    method: "post",
    path: `${NS}/leases`,
    operationId: "createLease",
    tag: "leases",
    summary: "Create a lease (a session over HTTP)",
    parameters: [ns],
    requestBody: { content: jsonBody(ref("LeaseCreate")) },
    responses: { ...ok("created", ref("Lease"), "201"), ...errors() },
    examples: [{ summary: "a 30 s lease", params: { ns: "demo" }, body: { ttl: 30000 }, status: 201 }],
  },
  {
    method: "post",
    path: `${NS}/leases/{id}/keepalive`,
    operationId: "keepAliveLease",
    tag: "leases",
    summary: "Keep a lease alive for another TTL",
    parameters: [ns, { name: "id", in: "path", required: true, schema: str(), example: EXAMPLE.leaseId }, leaseHeader(true)],
    responses: { ...ok("kept alive", ref("LeaseKept")), ...errors(410) },
    examples: [{ summary: "keepalive", params: { ns: "demo", id: EXAMPLE.leaseId }, headers: { "Edgekeeper-Lease": EXAMPLE.lease }, status: 200 }],
  },
  {
    method: "get",
    path: `${NS}/leases/{id}`,
    operationId: "getLease",
    tag: "leases",
    summary: "A lease's TTL, time left and ephemeral nodes",
    parameters: [ns, { name: "id", in: "path", required: true, schema: str(), example: EXAMPLE.leaseId }, leaseHeader(true)],
    responses: { ...ok("the lease", ref("LeaseInfo")), ...errors(410) },
    examples: [{ summary: "inspect", params: { ns: "demo", id: EXAMPLE.leaseId }, headers: { "Edgekeeper-Lease": EXAMPLE.lease }, status: 200 }],
  },
  {
    method: "delete",
    path: `${NS}/leases/{id}`,
    operationId: "revokeLease",
    tag: "leases",
    summary: "Revoke a lease: its ephemeral nodes go in one transaction",
    parameters: [ns, { name: "id", in: "path", required: true, schema: str(), example: EXAMPLE.leaseId }, leaseHeader(true)],
    responses: { ...ok("revoked", ref("LeaseRevoked")), ...errors(410) },
    examples: [{ summary: "revoke", params: { ns: "demo", id: EXAMPLE.leaseId }, headers: { "Edgekeeper-Lease": EXAMPLE.lease }, status: 200 }],
  },
  // ---------------------------------------------------------------- locks, semaphores, elections
  ...grantOps("locks", "lock", "LockAcquire", { name: "nightly-report", ttl: 30000, wait: 10000 }, "Acquire a lock, answered when granted"),
  ...grantOps("semaphores", "semaphore", "SemaphoreAcquire", { path: "/semaphores/pool", permits: 2, ttl: 30000, wait: 10000 }, "Acquire a semaphore permit, answered when granted"),
  {
    method: "post",
    path: `${NS}/elections/campaign`,
    operationId: "campaign",
    tag: "elections",
    summary: "Stand for election, answered when elected",
    parameters: [ns, leaseHeader(false), idempotency],
    requestBody: { required: true, content: jsonBody(ref("Campaign")) },
    responses: { ...ok("elected", ref("Grant")), "423": { description: "not elected within wait (OPERATIONTIMEOUT); the candidate was withdrawn", content: jsonBody(ref("Error")) }, ...errors(403, 410) },
    examples: [{ summary: "campaign", params: { ns: "demo" }, body: { name: "scheduler", value: "worker-2", ttl: 30000, wait: 10000 }, status: 200 }],
  },
  {
    method: "post",
    path: `${NS}/elections/proclaim`,
    operationId: "proclaim",
    tag: "elections",
    summary: "The leader updates its value",
    parameters: [ns, leaseHeader(true)],
    requestBody: { required: true, content: jsonBody(ref("Proclaim")) },
    responses: { ...ok("proclaimed", ref("Proclaimed")), ...errors(403, 404, 410) },
    examples: [{ summary: "proclaim", params: { ns: "demo" }, headers: { "Edgekeeper-Lease": EXAMPLE.lease }, body: { path: "/elections/primary", token: EXAMPLE.tokens.election, value: "worker-1 at 10.0.0.7" }, status: 200 }],
  },
  {
    method: "post",
    path: `${NS}/elections/resign`,
    operationId: "resign",
    tag: "elections",
    summary: "Leave the election (the next candidate leads)",
    parameters: [ns, leaseHeader(true)],
    requestBody: { required: true, content: jsonBody(ref("GrantRef")) },
    responses: { ...ok("resigned", ref("Released")), ...errors(404, 410) },
    examples: [{ summary: "resign", params: { ns: "demo" }, headers: { "Edgekeeper-Lease": EXAMPLE.lease }, body: { path: "/elections/primary", token: EXAMPLE.tokens.election }, status: 200 }],
  },
  {
    method: "get",
    path: `${NS}/elections/leader`,
    operationId: "leader",
    tag: "elections",
    summary: "The current leader",
    parameters: [ns, q("path", "the election's base path", str()), q("name", "or its name (→ /elections/<name>)", str())],
    responses: { ...ok("the leader", ref("LeaderReply")), ...errors(403, 404) },
    examples: [{ summary: "who leads", params: { ns: "demo" }, query: { path: "/elections/primary" }, status: 200 }],
  },
  {
    method: "get",
    path: `${NS}/elections/observe`,
    operationId: "observe",
    tag: "elections",
    summary: "Server-Sent Events of leadership: `event: leader` now and at every change",
    parameters: [ns, q("path", "the election's base path", str()), q("name", "or its name", str()), q("heartbeat", "ms between heartbeats (1000..60000, default 15000)", int())],
    responses: { ...sseResponse("event: leader, data {path, leader: Leader | null, zxid}"), ...errors(403, 404) },
    examples: [{ summary: "observe", params: { ns: "demo" }, query: { path: "/elections/primary" }, status: 200 }],
  },
  // ---------------------------------------------------------------- watches
  {
    method: "get",
    path: `${NS}/watch`,
    operationId: "watch",
    tag: "watches",
    summary: "Server-Sent Events of a persistent (or recursive) watch from a zxid",
    description:
      "Events are unnamed messages whose data is an Event; the last event of each transaction carries id: <zxid>, so Last-Event-ID resumes by replay from the change log. `event: ready` follows the replay; `event: resync` says the change log no longer reaches back (data: Resync).",
    parameters: [
      ns,
      q("path", "the watched node", str(), true),
      q("recursive", "1: the whole subtree (persistentRecursive); default: the node and its children list (persistent)", str()),
      q("fromZxid", "replay the events after this zxid first (default: live only)", int()),
      q("heartbeat", "ms between heartbeats (1000..60000, default 15000)", int()),
      { name: "Last-Event-ID", in: "header", required: false, schema: str(), description: "resume after this zxid (wins over fromZxid)" },
    ],
    responses: { ...sseResponse("the event stream"), ...errors(403) },
    examples: [{ summary: "everything under /app since zxid 0", params: { ns: "demo" }, query: { path: "/app", recursive: "1", fromZxid: "0" }, status: 200 }],
  },
  {
    method: "get",
    path: `${NS}/watch/poll`,
    operationId: "watchPoll",
    tag: "watches",
    summary: "Long-poll: the events after fromZxid, waiting up to timeout ms for the first",
    parameters: [
      ns,
      q("path", "the watched node", str(), true),
      q("recursive", "1 for the whole subtree", str()),
      q("fromZxid", "the zxid of the last poll's reply (default: now)", int()),
      q("timeout", "ms to wait for an event (0..300000, default 30000)", int()),
      q("limit", "most events in one reply (1..10000, default 1000), cut at a transaction boundary", int()),
    ],
    responses: { ...ok("events (maybe none, at timeout)", ref("Poll")), "410": { description: "resync: fromZxid is before the retained change log", content: jsonBody(ref("Error")) }, ...errors(403) },
    examples: [{ summary: "poll from zxid 0", params: { ns: "demo" }, query: { path: "/app", recursive: "1", fromZxid: "0", timeout: "0" }, status: 200 }],
  },
];

function grantOps(dir: "locks" | "semaphores", recipe: "lock" | "semaphore", acquireSchema: string, acquireExample: Record<string, unknown>, summary: string): Op[] {
  const token = EXAMPLE.tokens[recipe];
  const base = recipe === "lock" ? "/locks/report" : "/semaphores/pool";
  return [
    {
      method: "post",
      path: `${NS}/${dir}/acquire`,
      operationId: `${recipe}Acquire`,
      tag: dir,
      summary,
      description:
        "The request is held until granted (200, with the fencing token and the lease), or answered 423 when not granted within wait (the contender is withdrawn). Without Edgekeeper-Lease a lease with `ttl` is created for the grant and revoked by release; keep it alive with refresh.",
      parameters: [ns, leaseHeader(false), idempotency],
      requestBody: { required: true, content: jsonBody(ref(acquireSchema)) },
      responses: { ...ok("granted", ref("Grant")), "423": { description: "not granted within wait (OPERATIONTIMEOUT); the contender was withdrawn", content: jsonBody(ref("Error")) }, ...errors(403, 410) },
      examples: [{ summary: "acquire", params: { ns: "demo" }, body: acquireExample, status: 200 }],
    },
    {
      method: "post",
      path: `${NS}/${dir}/release`,
      operationId: `${recipe}Release`,
      tag: dir,
      summary: "Release a grant by its token (with the lease that holds it)",
      parameters: [ns, leaseHeader(true)],
      requestBody: { required: true, content: jsonBody(ref("GrantRef")) },
      responses: { ...ok("released", ref("Released")), ...errors(404, 410) },
      examples: [{ summary: "release", params: { ns: "demo" }, headers: { "Edgekeeper-Lease": EXAMPLE.lease }, body: { path: base, token }, status: 200 }],
    },
    {
      method: "post",
      path: `${NS}/${dir}/refresh`,
      operationId: `${recipe}Refresh`,
      tag: dir,
      summary: "Keep a grant's lease alive",
      parameters: [ns, leaseHeader(true)],
      requestBody: { required: true, content: jsonBody(ref("GrantRef")) },
      responses: { ...ok("refreshed", ref("Refreshed")), ...errors(404, 410) },
      examples: [{ summary: "refresh", params: { ns: "demo" }, headers: { "Edgekeeper-Lease": EXAMPLE.lease }, body: { path: base, token }, status: 200 }],
    },
  ];
}

// ---------------------------------------------------------------- admin (docs/admin.md)

const num = (description?: string): Schema => ({ type: "number", ...(description ? { description } : {}) });
const countMap = (description: string, value: Schema): Schema => ({ type: "object", description, additionalProperties: value });
const WATCH_KINDS = arr(str(undefined, { enum: ["child", "data", "persistent", "recursive"] }));
const LIMIT = q("limit", "most entries listed (1..100000, default 1000); `truncated` says whether there were more", int(undefined, { minimum: 1, maximum: 100000 }));
const adminJson = (description: string, schema: string) => ({ ...ok(description, ref(schema)), ...errors(503) });
const adminText = (description: string, type: string) => ({ "200": { description, content: { [type]: { schema: str() } } }, ...errors(503) });

const adminSchemas: Record<string, Schema> = {
  Latency: obj(
    { count: int(), sum: num("ms"), min: num(), avg: num(), p50: num(), p90: num(), p99: num(), max: num() },
    ["count", "sum", "min", "avg", "p50", "p90", "p99", "max"],
  ),
  Tally: obj({ count: int(), errors: int("answered with a ZooKeeper error code") }, ["count", "errors"]),
  Monitor: obj(
    {
      namespace: str(),
      server_state: str(undefined, { const: "standalone" }),
      uptime: int("ms since this instance of the namespace's object started; every count starts then"),
      started_at: int("ms since the epoch"),
      zxid: int(),
      znode_count: int("the root and /zookeeper included"),
      ephemerals_count: int(),
      approximate_data_size: int("sum of path lengths and data bytes (ZooKeeper's)"),
      data_bytes: int(),
      num_alive_connections: int("open WebSockets"),
      connections_without_session: int(),
      global_sessions: int(),
      sessions: obj({ connected: int(), disconnected: int(), leases: int() }, ["connected", "disconnected", "leases"]),
      watch_count: int("watches of WebSocket sessions"),
      watches: obj({ data: int(), child: int(), persistent: int(), recursive: int() }, ["data", "child", "persistent", "recursive"]),
      http_held_requests: int(),
      http_streams: int(),
      outstanding_requests: int("frames queued for the next group commit plus held HTTP requests"),
      ws_frames: int(),
      avg_latency: num("ms"),
      min_latency: num("ms"),
      max_latency: num("ms"),
      latency: obj({ write: ref("Latency"), read: ref("Latency") }, ["write", "read"]),
      requests: obj(
        { ws: countMap("by operation", ref("Tally")), http: countMap("by operation", ref("Tally")) },
        ["ws", "http"],
      ),
      changelog: obj(
        { oldest_replayable_zxid: int(), first_zxid: int(), last_zxid: int(), rows: int() },
        ["oldest_replayable_zxid", "first_zxid", "last_zxid", "rows"],
      ),
      node_cache: obj(
        { entries: int(), bytes: int(), max_entries: int(), max_bytes: int(), hits: int(), misses: int() },
        ["entries", "bytes", "max_entries", "max_bytes", "hits", "misses"],
      ),
    },
    [
      "namespace", "server_state", "uptime", "started_at", "zxid", "znode_count", "ephemerals_count", "approximate_data_size", "data_bytes",
      "num_alive_connections", "connections_without_session", "global_sessions", "sessions", "watch_count", "watches", "http_held_requests",
      "http_streams", "outstanding_requests", "ws_frames", "avg_latency", "min_latency", "max_latency", "latency", "requests", "changelog", "node_cache",
    ],
  ),
  AdminSession: obj(
    {
      session_id: str(undefined, { pattern: "^[0-9a-f]{16}$" }),
      kind: str(undefined, { enum: ["ws", "lease", "lease:grant"] }),
      state: str(undefined, { enum: ["connected", "disconnected", "lease"] }),
      remote_socket_address: { type: ["string", "null"] },
      identities: arr(obj({ scheme: str(), id: str() }, ["scheme", "id"])),
      session_timeout: int("ms"),
      last_heard: int("ms since the epoch"),
      expires_at: { type: ["integer", "null"], description: "ms since the epoch; null while a socket carries it" },
      watches: int(),
      ephemerals: int(),
    },
    ["session_id", "kind", "state", "remote_socket_address", "identities", "session_timeout", "last_heard", "expires_at", "watches", "ephemerals"],
  ),
  AdminSessions: obj({ namespace: str(), count: int(), truncated: bool(), sessions: arr(ref("AdminSession")) }, ["namespace", "count", "truncated", "sessions"]),
  AdminWatchesBySession: obj(
    {
      namespace: str(),
      watch_count: int(),
      truncated: bool(),
      session_id_to_watched_paths: countMap("session → path → kinds", countMap("path → kinds", WATCH_KINDS)),
    },
    ["namespace", "watch_count", "truncated", "session_id_to_watched_paths"],
  ),
  AdminWatchesByPath: obj(
    { namespace: str(), watch_count: int(), truncated: bool(), path_to_session_ids: countMap("path → session → kinds", countMap("session → kinds", WATCH_KINDS)) },
    ["namespace", "watch_count", "truncated", "path_to_session_ids"],
  ),
};

const ADMIN = `${NS}/admin`;
const adminOp = (command: string, operationId: string, summary: string, responses: Record<string, unknown>, list = false, description?: string): Op => ({
  method: "get",
  path: `${ADMIN}/${command}`,
  operationId,
  tag: "admin",
  summary,
  ...(description ? { description } : {}),
  parameters: list ? [ns, LIMIT] : [ns],
  responses,
  examples: [{ summary: command, params: { ns: "demo" }, ...(list ? { query: { limit: "100" } } : {}), status: 200 }],
});
const adminOps: Op[] = [
  {
    method: "get",
    path: "/v1/admin/ruok",
    operationId: "adminWorkerRuok",
    tag: "admin",
    summary: "ZooKeeper's ruok for the edge Worker: imok",
    responses: { "200": { description: "imok", content: { "text/plain": { schema: str(undefined, { const: "imok" }) } } } },
    examples: [{ summary: "ruok", status: 200 }],
  },
  adminOp("ruok", "adminRuok", "ZooKeeper's ruok for a namespace: imok once its Durable Object answers", adminText("imok", "text/plain")),
  adminOp(
    "mntr",
    "adminMonitor",
    "ZooKeeper's mntr: znodes, data size, sessions, connections, watches, requests by operation, latency percentiles, zxid, change-log window",
    adminJson("the monitor", "Monitor"),
    false,
    "Counts and latencies are kept in memory since this instance of the namespace's object started (`uptime`); the rest is read from storage. Reading writes nothing.",
  ),
  adminOp("metrics", "adminMetrics", "The mntr numbers in the Prometheus text format 0.0.4 (edgekeeper_* families, labelled namespace)", adminText("Prometheus exposition", "text/plain")),
  adminOp("sessions", "adminSessions", "ZooKeeper's cons: every session (WebSocket, lease) with its state, address, timeout, watches and ephemerals", adminJson("the sessions, by id", "AdminSessions"), true),
  adminOp("watches", "adminWatches", "ZooKeeper's wchc: watches by session, with their kinds", adminJson("watches by session", "AdminWatchesBySession"), true),
  adminOp("watches_by_path", "adminWatchesByPath", "ZooKeeper's wchp: watches by path, with their kinds", adminJson("watches by path", "AdminWatchesByPath"), true),
];

/** The document. */
export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of [...ops, ...adminOps]) {
    const first = op.examples[0];
    const requestBody = op.requestBody && first?.body !== undefined ? withExample(op.requestBody, first) : op.requestBody;
    (paths[op.path] ??= {})[op.method] = {
      operationId: op.operationId,
      tags: [op.tag],
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      ...(op.parameters ? { parameters: op.parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses: op.responses,
      ...(op.path.startsWith("/v1/namespaces/") ? { security: [{ bearer: [] }] } : {}),
      "x-edgekeeper-examples": op.examples,
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "edgekeeper HTTP API",
      version: "1",
      description:
        "ZooKeeper-class coordination over HTTP: nodes, multi, leases, locks with fencing tokens, semaphores, leader election, watches (SSE and long-poll). Errors are {err, code, message} with ZooKeeper's code; the status follows from the code. See docs/http.md.",
    },
    servers: [{ url: "http://127.0.0.1:8787", description: "npm start" }],
    paths,
    components: {
      schemas: { ...schemas, ...adminSchemas },
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "A JWT naming namespaces and rights (docs/security.md). Local `npm start` runs without tokens.",
        },
      },
    },
    tags: ["meta", "nodes", "transactions", "leases", "locks", "semaphores", "elections", "watches", "admin"].map((name) => ({ name })),
  };
}

function withExample(body: Record<string, unknown>, e: Example): Record<string, unknown> {
  const content = body.content as Record<string, Record<string, unknown>>;
  const type = typeof e.body === "string" ? (e.contentType ?? "application/octet-stream") : "application/json";
  const key = type in content ? type : typeof e.body === "string" ? "*/*" : "application/json";
  if (!(key in content)) return body;
  return { ...body, content: { ...content, [key]: { ...content[key], example: e.body } } };
}

let cached: string | undefined;

export function openApiRoute(): Response {
  cached ??= JSON.stringify(openApiDocument());
  return new Response(cached, { headers: { "Content-Type": "application/json", "Cache-Control": "public, max-age=300" } });
}
