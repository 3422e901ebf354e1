import { describe, expect, it } from "vitest";
import { router } from "../../src/index.js";
import { EXAMPLE, type Example } from "../../src/routes/openapi.js";
import { freshNamespace } from "../helpers/raw-client.js";
import { api, ORIGIN, worker } from "../helpers/http.js";

/**
 * The OpenAPI document at /v1/openapi.json against the implementation: the router's routes and
 * the document's operations are the same set, and every documented example validates against
 * the documented schemas and succeeds against the real handlers with the documented status and
 * a response that fits the documented schema.
 */

type Doc = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };
type Schema = Record<string, any>;
type Parameter = { name: string; in: string; required?: boolean; schema: Schema };
type Operation = {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
  "x-edgekeeper-examples": Example[];
};

async function fetchDoc(): Promise<Doc> {
  const r = await worker.fetch(`${ORIGIN}/v1/openapi.json`);
  expect(r.status).toBe(200);
  return (await r.json()) as Doc;
}

// ------------------------------------------------------------------ a small JSON Schema checker

/** Problems of `value` against `schema` (a subset of JSON Schema 2020-12: what the document uses). */
function check(doc: Doc, schema: Schema, value: unknown, at = "$"): string[] {
  if (schema.$ref) {
    const name = String(schema.$ref).replace("#/components/schemas/", "");
    const target = doc.components.schemas[name];
    if (!target) return [`${at}: unknown $ref ${schema.$ref}`];
    return check(doc, target, value, at);
  }
  if (schema.oneOf) {
    const fits = (schema.oneOf as Schema[]).filter((s) => check(doc, s, value, at).length === 0);
    return fits.length === 1 ? [] : [`${at}: matches ${fits.length} of oneOf`];
  }
  const out: string[] = [];
  if (schema.type !== undefined) {
    const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
    const actual =
      value === null ? "null" : Array.isArray(value) ? "array" : Number.isInteger(value) ? "integer" : typeof value;
    const ok = types.some((t) => t === actual || (t === "number" && actual === "integer"));
    if (!ok) return [`${at}: expected ${types.join("|")}, got ${actual}`];
  }
  if (schema.const !== undefined && value !== schema.const) out.push(`${at}: expected ${JSON.stringify(schema.const)}`);
  if (schema.enum && !schema.enum.includes(value)) out.push(`${at}: ${JSON.stringify(value)} not in enum`);
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) out.push(`${at}: below minimum`);
    if (schema.maximum !== undefined && value > schema.maximum) out.push(`${at}: above maximum`);
  }
  if (typeof value === "string") {
    if (schema.pattern && !new RegExp(schema.pattern).test(value)) out.push(`${at}: does not match ${schema.pattern}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) out.push(`${at}: too long`);
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => out.push(...check(doc, schema.items, v, `${at}[${i}]`)));
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    for (const k of schema.required ?? []) if (!(k in o)) out.push(`${at}: missing ${k}`);
    for (const [k, v] of Object.entries(o)) {
      const p = schema.properties?.[k];
      if (p) out.push(...check(doc, p, v, `${at}.${k}`));
      else if (schema.additionalProperties === false) out.push(`${at}: unexpected ${k}`);
    }
  }
  return out;
}

/** A query/path/header value (a string) against a parameter schema. */
function checkParam(doc: Doc, schema: Schema, raw: string, at: string): string[] {
  const s = schema.$ref ? doc.components.schemas[String(schema.$ref).replace("#/components/schemas/", "")] : schema;
  const candidates: unknown[] = [raw];
  if (/^-?\d+$/.test(raw)) candidates.push(Number(raw));
  return candidates.some((c) => check(doc, s, c, at).length === 0) ? [] : check(doc, s, raw, at);
}

// ------------------------------------------------------------------ routes

/** The router's routes as "METHOD /openapi/{style}" keys. */
function routerRoutes(): Set<string> {
  const out = new Set<string>();
  for (const [method, , , path] of router.routes as Array<[string, RegExp, unknown[], string]>) {
    if (method === "ALL") continue;
    out.add(`${method} ${path.replace(/:(\w+)/g, "{$1}").replace(/\/\*$/, "/{path}")}`);
  }
  return out;
}

function documented(doc: Doc): Set<string> {
  const out = new Set<string>();
  for (const [path, ops] of Object.entries(doc.paths)) for (const method of Object.keys(ops)) out.add(`${method.toUpperCase()} ${path}`);
  return out;
}

describe("OpenAPI document", () => {
  it("is OpenAPI 3.1 and documents exactly the router's routes", async () => {
    const doc = await fetchDoc();
    expect((doc as unknown as { openapi: string }).openapi).toBe("3.1.0");
    const routes = routerRoutes();
    const docs = documented(doc);
    expect([...routes].filter((r) => !docs.has(r)), "routes missing from the document").toEqual([]);
    expect([...docs].filter((d) => !routes.has(d)), "documented operations with no route").toEqual([]);
    expect(routes.size).toBeGreaterThan(25);
  });

  it("every $ref resolves, every operation has an example, ids are unique", async () => {
    const doc = await fetchDoc();
    const text = JSON.stringify(doc);
    for (const m of text.matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)) expect(doc.components.schemas[m[1]], m[1]).toBeDefined();
    const ids = new Set<string>();
    for (const ops of Object.values(doc.paths))
      for (const op of Object.values(ops)) {
        expect(op["x-edgekeeper-examples"].length, op.operationId).toBeGreaterThan(0);
        expect(ids.has(op.operationId)).toBe(false);
        ids.add(op.operationId);
      }
  });

  it("every example fits the documented parameters and request body", async () => {
    const doc = await fetchDoc();
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops))
        for (const e of op["x-edgekeeper-examples"]) {
          const where = `${method.toUpperCase()} ${path} (${e.summary})`;
          const params = op.parameters ?? [];
          const problems: string[] = [];
          const given: Array<[string, Record<string, string> | undefined]> = [
            ["path", e.params],
            ["query", e.query],
            ["header", e.headers],
          ];
          for (const [loc, values] of given)
            for (const [name, value] of Object.entries(values ?? {})) {
              const p = params.find((x) => x.in === loc && (loc === "header" ? x.name.toLowerCase() === name.toLowerCase() : x.name === name));
              if (!p) problems.push(`${loc} parameter ${name} is not documented`);
              else problems.push(...checkParam(doc, p.schema, value, `${loc}.${name}`));
            }
          for (const p of params.filter((x) => x.required)) {
            const values = p.in === "path" ? e.params : p.in === "query" ? e.query : e.headers;
            const has = Object.keys(values ?? {}).some((k) => (p.in === "header" ? k.toLowerCase() === p.name.toLowerCase() : k === p.name));
            if (!has) problems.push(`required ${p.in} parameter ${p.name} missing`);
          }
          for (const m of path.matchAll(/\{(\w+)\}/g)) if (!e.params?.[m[1]]) problems.push(`path parameter ${m[1]} has no example value`);
          if (e.body !== undefined) {
            const content = op.requestBody?.content ?? {};
            if (typeof e.body === "string") {
              if (!(e.contentType && e.contentType in content) && !("*/*" in content)) problems.push(`raw body ${e.contentType} not documented`);
            } else {
              const s = content["application/json"]?.schema;
              if (!s) problems.push("JSON body not documented");
              else problems.push(...check(doc, s, e.body, "body"));
            }
          } else if (op.requestBody?.required) problems.push("the request body is required");
          if (!op.responses[String(e.status)]) problems.push(`status ${e.status} is not documented`);
          expect(problems, where).toEqual([]);
        }
  });

  it("every example succeeds against the real handlers, with the documented status and response schema", { timeout: 60_000 }, async () => {
    const doc = await fetchDoc();
    let ran = 0;
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops))
        for (const example of op["x-edgekeeper-examples"]) {
          const where = `${method.toUpperCase()} ${path} (${example.summary})`;
          const ns = freshNamespace("oa");
          const live = await fixture(ns);
          const e = substitute(example, live, ns);
          let url = path.replace(/\{(\w+)\}/g, (_, k: string) => (k === "path" ? e.params![k] : encodeURIComponent(e.params![k])));
          if (e.query) url += "?" + new URLSearchParams(e.query).toString().replace(/=(&|$)/g, "$1");
          const headers = new Headers(e.headers ?? {});
          let body: string | undefined;
          if (e.body !== undefined) {
            body = typeof e.body === "string" ? e.body : JSON.stringify(e.body);
            headers.set("Content-Type", typeof e.body === "string" ? (e.contentType ?? "application/octet-stream") : "application/json");
          }
          const res = await worker.fetch(ORIGIN + url, { method: method.toUpperCase(), headers, body });
          const status = res.status;
          let payload: unknown;
          const type = res.headers.get("Content-Type") ?? "";
          if (status === 101) res.webSocket!.accept(), res.webSocket!.close(1000);
          else if (type.startsWith("text/event-stream")) {
            const reader = res.body!.getReader();
            const first = await reader.read();
            payload = new TextDecoder().decode(first.value);
            await reader.cancel();
          } else if (type.startsWith("application/json")) payload = await res.json();
          else await res.arrayBuffer();
          expect(status, `${where}: ${JSON.stringify(payload)}`).toBe(example.status);
          const documentedResponse = op.responses[String(status)];
          expect(documentedResponse, where).toBeDefined();
          if (type.startsWith("application/json") && method !== "head") {
            const s = documentedResponse.content?.["application/json"]?.schema;
            expect(s, `${where}: a JSON response must have a documented schema`).toBeDefined();
            expect(check(doc, s!, payload), where).toEqual([]);
          } else if (documentedResponse.content && status !== 101 && method !== "head") {
            expect(Object.keys(documentedResponse.content).some((k) => type.startsWith(k)), `${where}: ${type}`).toBe(true);
          }
          ran++;
        }
    expect(ran).toBeGreaterThan(30);
  });

  it("documents error responses with the Error schema, and real errors fit it", async () => {
    const doc = await fetchDoc();
    const a = api(freshNamespace("oa"));
    const errs = [await a.read("/missing"), await a.create("/a//b"), await a.post("/locks/acquire", { nope: 1 })];
    for (const r of errs) expect(check(doc, { $ref: "#/components/schemas/Error" }, r.body)).toEqual([]);
    expect(errs.map((r) => r.status)).toEqual([404, 400, 400]);
  });
});

interface Live {
  lease: string;
  leaseId: string;
  tokens: Record<string, number>;
}

/** A namespace as the examples assume it: /app/config (version 0), /app/jobs, a lease holding a lock, a permit and a leadership. */
async function fixture(ns: string): Promise<Live> {
  const a = api(ns);
  const l = await a.lease(30_000);
  for (const [p, d] of [["/app", ""], ["/app/config", "v1"], ["/app/jobs", ""]]) expect((await a.create(p, d)).status).toBe(201);
  const lock = await a.acquire("locks", { path: "/locks/report" }, { lease: l.lease });
  const sem = await a.acquire("semaphores", { path: "/semaphores/pool", permits: 2 }, { lease: l.lease });
  const el = await a.post("/elections/campaign", { path: "/elections/primary", value: "worker-1" }, { headers: { "Edgekeeper-Lease": l.lease } });
  for (const r of [lock, sem, el]) expect(r.status).toBe(200);
  return { lease: l.lease, leaseId: l.leaseId, tokens: { lock: lock.body.token, semaphore: sem.body.token, election: el.body.token } };
}

/** The example with the documented placeholder values swapped for live ones. */
function substitute(e: Example, live: Live, ns: string): Example {
  const tokens = new Map(Object.entries(EXAMPLE.tokens).map(([k, v]) => [v as number, live.tokens[k]]));
  const swap = (v: unknown): unknown => {
    if (v === EXAMPLE.lease) return live.lease;
    if (v === EXAMPLE.leaseId) return live.leaseId;
    if (typeof v === "number" && tokens.has(v)) return tokens.get(v);
    if (Array.isArray(v)) return v.map(swap);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x)]));
    return v;
  };
  const out = swap(e) as Example;
  if (out.params?.ns) out.params = { ...out.params, ns };
  return out;
}
