import { describe, expect, it } from "vitest";
import { RawClient, b64, eventsOf, freshNamespace, roundTrip } from "../helpers/raw-client.js";
import { api, send } from "../helpers/http.js";

/** The namespace's zxid, as a read reports it (to show that a bad request changed nothing). */
async function zxidOf(a: ReturnType<typeof api>): Promise<number> {
  const r = await a.call("HEAD", "/nodes/");
  return Number(r.headers.get("Edgekeeper-Zxid"));
}

describe("HTTP nodes: create and read", () => {
  it("PUT creates (201, Location, ETag); GET returns the raw bytes with the Stat in headers", async () => {
    const a = api(freshNamespace("hn"));
    const c = await a.create("/app", "");
    expect(c.status).toBe(201);
    const r = await a.create("/app/config", "v1");
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ path: "/app/config", stat: { version: 0, dataLength: 2, ephemeralOwner: "0000000000000000" } });
    expect(r.headers.get("ETag")).toBe('"0"');
    expect(r.headers.get("Location")).toBe(`/v1/namespaces/${a.ns}/nodes/app/config`);
    expect(r.headers.get("Edgekeeper-Zxid")).toBe(String(r.body.zxid));

    const g = await a.read("/app/config");
    expect(g.status).toBe(200);
    expect(g.headers.get("Content-Type")).toBe("application/octet-stream");
    expect(g.text).toBe("v1");
    expect(g.headers.get("ETag")).toBe('"0"');
    expect(JSON.parse(g.headers.get("Edgekeeper-Stat")!)).toEqual(r.body.stat);
    expect(g.headers.get("Last-Modified")).toBe(new Date(r.body.stat.mtime).toUTCString());
  });

  it("data is bytes: any byte sequence round-trips raw and as base64 in the JSON envelope", async () => {
    const a = api(freshNamespace("hn"));
    const bytes = new Uint8Array([0, 255, 1, 128, 10, 13, 0xc3, 0x28]);
    expect((await a.call("PUT", "/nodes/bin", { raw: bytes })).status).toBe(201);
    const raw = await a.read("/bin");
    expect([...raw.bytes]).toEqual([...bytes]);
    const env = await a.read("/bin", { headers: { Accept: "application/json" } });
    expect(env.status).toBe(200);
    expect(env.body).toMatchObject({ path: "/bin", data: btoa(String.fromCharCode(...bytes)), stat: { dataLength: 8 } });
    expect(env.headers.get("ETag")).toBe('"0"');
  });

  it("a JSON body is the envelope: data (base64) or text, with mode, ttl and acl", async () => {
    const a = api(freshNamespace("hn"));
    const r1 = await a.call("PUT", "/nodes/b64", { json: { data: b64("from base64") } });
    expect(r1.status).toBe(201);
    expect((await a.read("/b64")).text).toBe("from base64");
    const r2 = await a.call("PUT", "/nodes/txt", { json: { text: "héllo" } });
    expect(r2.status).toBe(201);
    expect((await a.read("/txt")).text).toBe("héllo");
    const r3 = await a.call("PUT", "/nodes/ttl", { json: { text: "x", mode: "persistent_ttl", ttl: 60000 } });
    expect(r3.status).toBe(201);
    const r4 = await a.call("PUT", "/nodes/ro", { json: { text: "x", acl: [{ perms: 1, scheme: "world", id: "anyone" }] } });
    expect(r4.status).toBe(201);
    // mode, ttl and acl also go in the query, with a raw body.
    const acl = encodeURIComponent(JSON.stringify([{ perms: 1, scheme: "world", id: "anyone" }]));
    const r5 = await a.create("/ro2", "raw", { query: `mode=persistent&acl=${acl}` });
    expect(r5.status).toBe(201);
    expect((await a.call("PATCH", "/nodes/ro2", { raw: "y" })).status).toBe(403);
    expect((await a.create("/ro3", "raw", { query: "acl=[oops" })).status).toBe(400);
    expect((await a.create("/ro3", "raw", { query: `acl=${encodeURIComponent('[{"perms":1}]')}` })).status).toBe(400);
    expect((await a.read("/ro3")).status).toBe(404);
    // Storing a JSON document as data: send it as bytes.
    const doc = JSON.stringify({ enabled: true });
    expect((await a.call("PUT", "/nodes/doc", { raw: doc, contentType: "text/plain" })).status).toBe(201);
    expect((await a.read("/doc")).text).toBe(doc);
  });

  it("a JSON body that is not the envelope is refused with a clear message, and creates nothing", async () => {
    const a = api(freshNamespace("hn"));
    const before = await zxidOf(a);
    const r = await a.call("PUT", "/nodes/doc", { json: { enabled: true } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ err: -8, code: "BADARGUMENTS" });
    expect(r.body.message).toContain("envelope");
    expect(r.body.message).toContain("application/octet-stream");
    const both = await a.call("PUT", "/nodes/doc", { json: { data: "", text: "x" } });
    expect(both.status).toBe(400);
    const notB64 = await a.call("PUT", "/nodes/doc", { json: { data: "%%%" } });
    expect(notB64.status).toBe(400);
    expect(notB64.body.code).toBe("MARSHALLINGERROR");
    const malformed = await a.call("PUT", "/nodes/doc", { raw: "{not json", contentType: "application/json" });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe("MARSHALLINGERROR");
    expect((await a.read("/doc")).status).toBe(404);
    expect(await zxidOf(a)).toBe(before);
  });

  it("create errors: 409 NODEEXISTS, 404 NONODE (no parent), 400 for bad paths, modes and TTLs", async () => {
    const a = api(freshNamespace("hn"));
    await a.create("/a", "1");
    const before = await zxidOf(a);
    const dup = await a.create("/a", "2");
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ err: -110, code: "NODEEXISTS" });
    expect(dup.body.message).toContain("/a");
    const orphan = await a.create("/missing/child");
    expect(orphan.status).toBe(404);
    expect(orphan.body).toMatchObject({ err: -101, code: "NONODE" });
    for (const [path, query] of [
      ["/a//b", ""],
      ["/a/", ""],
      ["/a/.", ""],
      ["/x", "mode=bogus"],
      ["/x", "mode=persistent_ttl"], // a TTL mode needs ttl
      ["/x", "ttl=5000"], // ttl without a TTL mode
      ["/x", "mode=persistent_sequential"], // sequential creates are POSTs
      ["/x", "ttl=abc"],
    ]) {
      const r = await a.create(path, "", { query });
      expect(r.status, `${path}?${query}`).toBe(400);
      expect(r.body.code).toBe("BADARGUMENTS");
    }
    expect((await a.read("/a")).text).toBe("1");
    expect(await zxidOf(a)).toBe(before);
  });

  it("data over the limit is 413 and changes nothing", async () => {
    const a = api(freshNamespace("hn"));
    const before = await zxidOf(a);
    const r = await a.create("/big", "x".repeat(1024 * 1024 + 1));
    expect(r.status).toBe(413);
    expect(r.body.code).toBe("BADARGUMENTS");
    expect(await zxidOf(a)).toBe(before);
  });

  it("POST creates sequential nodes; Idempotency-Key makes a retry return the first result", async () => {
    const a = api(freshNamespace("hn"));
    await a.create("/jobs");
    const p1 = await a.call("POST", "/nodes/jobs/job-", { raw: "a" });
    expect(p1.status).toBe(201);
    expect(p1.body.path).toBe("/jobs/job-0000000000");
    expect(p1.headers.get("Location")).toBe(`/v1/namespaces/${a.ns}/nodes/jobs/job-0000000000`);
    const key = { "Idempotency-Key": "retry-me-1" };
    const p2 = await a.call("POST", "/nodes/jobs/job-", { raw: "b", headers: key });
    const p3 = await a.call("POST", "/nodes/jobs/job-", { raw: "b", headers: key });
    expect(p2.body.path).toBe("/jobs/job-0000000001");
    expect(p3.status).toBe(201);
    expect(p3.body.path).toBe(p2.body.path);
    expect(p3.body.stat).toEqual(p2.body.stat);
    expect((await a.get("/nodes/jobs?children")).body.children).toEqual(["job-0000000000", "job-0000000001"]);
    // A prefix ending in / is valid for sequential creates.
    expect((await a.call("POST", "/nodes/jobs/", { raw: "c" })).body.path).toBe("/jobs/0000000002");
    const bad = await a.call("POST", "/nodes/jobs/x-?mode=persistent", { raw: "" });
    expect(bad.status).toBe(400);
    const badKey = await a.call("POST", "/nodes/jobs/job-", { raw: "", headers: { "Idempotency-Key": "x".repeat(65) } });
    expect(badKey.status).toBe(400);
  });

  it("children are sorted and paginated with limit and cursor", async () => {
    const a = api(freshNamespace("hn"));
    await a.create("/p");
    for (const n of ["d", "b", "a", "e", "c"]) await a.create(`/p/${n}`);
    const all = await a.get("/nodes/p?children");
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ path: "/p", children: ["a", "b", "c", "d", "e"], stat: { numChildren: 5 } });
    expect(all.body.cursor).toBeUndefined();
    const page1 = await a.get("/nodes/p?children&limit=2");
    expect(page1.body.children).toEqual(["a", "b"]);
    expect(page1.body.cursor).toBe("b");
    const page2 = await a.get(`/nodes/p?children&limit=2&cursor=${page1.body.cursor}`);
    expect(page2.body.children).toEqual(["c", "d"]);
    const page3 = await a.get(`/nodes/p?children&limit=2&cursor=${page2.body.cursor}`);
    expect(page3.body.children).toEqual(["e"]);
    expect(page3.body.cursor).toBeUndefined();
    expect((await a.get("/nodes/?children")).body.children).toEqual(["p", "zookeeper"]);
    expect((await a.get("/nodes/p?children&limit=0")).status).toBe(400);
    expect((await a.get("/nodes/p?children&limit=10001")).status).toBe(400);
    expect((await a.get("/nodes/nope?children")).status).toBe(404);
  });

  it("percent-encoded names round-trip", async () => {
    const a = api(freshNamespace("hn"));
    const r = await a.call("PUT", `/nodes/${encodeURIComponent("a b:ü")}`, { raw: "x" });
    expect(r.status).toBe(201);
    expect(r.body.path).toBe("/a b:ü");
    expect((await a.read(`/${encodeURIComponent("a b:ü")}`)).text).toBe("x");
    expect((await a.get("/nodes/?children")).body.children).toContain("a b:ü");
  });
});

describe("HTTP nodes: conditional writes, exists, delete", () => {
  it("PUT with If-Match sets the data; a stale version is 412 BADVERSION; * matches any", async () => {
    const a = api(freshNamespace("hn"));
    await a.create("/c", "v0");
    const ok = await a.call("PUT", "/nodes/c", { raw: "v1", headers: { "If-Match": '"0"' } });
    expect(ok.status).toBe(200);
    expect(ok.body.stat.version).toBe(1);
    expect(ok.headers.get("ETag")).toBe('"1"');
    const stale = await a.call("PUT", "/nodes/c", { raw: "v2", headers: { "If-Match": '"0"' } });
    expect(stale.status).toBe(412);
    expect(stale.body).toMatchObject({ err: -103, code: "BADVERSION" });
    expect((await a.read("/c")).text).toBe("v1");
    const any = await a.call("PUT", "/nodes/c", { raw: "v3", headers: { "If-Match": "*" } });
    expect(any.status).toBe(200);
    expect(any.body.stat.version).toBe(2);
    const missing = await a.call("PUT", "/nodes/nope", { raw: "x", headers: { "If-Match": '"0"' } });
    expect(missing.status).toBe(404);
    const badTag = await a.call("PUT", "/nodes/c", { raw: "x", headers: { "If-Match": '"1", "2"' } });
    expect(badTag.status).toBe(400);
  });

  it("PATCH sets the data, If-Match optional; JSON envelope with text", async () => {
    const a = api(freshNamespace("hn"));
    await a.create("/c", "v0");
    expect((await a.call("PATCH", "/nodes/c", { raw: "v1" })).body.stat.version).toBe(1);
    const env = await a.call("PATCH", "/nodes/c", { json: { text: "v2" }, headers: { "If-Match": 'W/"1"' } });
    expect(env.status).toBe(200);
    expect((await a.read("/c")).text).toBe("v2");
    expect((await a.call("PATCH", "/nodes/c", { json: { text: "v3", mode: "ephemeral" } })).status).toBe(400);
    expect((await a.call("PATCH", "/nodes/c", { raw: "v3", headers: { "If-Match": '"7"' } })).status).toBe(412);
    expect((await a.call("PATCH", "/nodes/nope", { raw: "v3" })).status).toBe(404);
  });

  it("HEAD is exists: 200 with the Stat headers, or 404", async () => {
    const a = api(freshNamespace("hn"));
    await a.create("/e", "data");
    const h = await a.call("HEAD", "/nodes/e");
    expect(h.status).toBe(200);
    expect(h.headers.get("ETag")).toBe('"0"');
    expect(JSON.parse(h.headers.get("Edgekeeper-Stat")!).dataLength).toBe(4);
    expect(h.text).toBe("");
    expect((await a.call("HEAD", "/nodes/none")).status).toBe(404);
  });

  it("GET with If-None-Match of the current ETag is 304", async () => {
    const a = api(freshNamespace("hn"));
    await a.create("/e", "data");
    const r = await a.read("/e", { headers: { "If-None-Match": '"0"' } });
    expect(r.status).toBe(304);
    expect(r.headers.get("ETag")).toBe('"0"');
    expect((await a.read("/e", { headers: { "If-None-Match": '"5"' } })).status).toBe(200);
  });

  it("DELETE honours If-Match; NOTEMPTY is 409; the reserved nodes cannot be deleted", async () => {
    const a = api(freshNamespace("hn"));
    await a.create("/d", "x");
    await a.create("/d/child");
    const notEmpty = await a.call("DELETE", "/nodes/d");
    expect(notEmpty.status).toBe(409);
    expect(notEmpty.body).toMatchObject({ err: -111, code: "NOTEMPTY" });
    expect((await a.call("DELETE", "/nodes/d/child", { headers: { "If-Match": '"3"' } })).status).toBe(412);
    const del = await a.call("DELETE", "/nodes/d/child", { headers: { "If-Match": '"0"' } });
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ path: "/d/child", zxid: expect.any(Number) });
    expect((await a.call("DELETE", "/nodes/d")).status).toBe(200);
    expect((await a.call("DELETE", "/nodes/d")).status).toBe(404);
    expect((await a.call("DELETE", "/nodes/zookeeper")).status).toBe(400);
    expect((await a.call("DELETE", "/nodes/")).status).toBe(400);
  });

  it("ACLs apply: writing a read-only node is 403 NOAUTH", async () => {
    const a = api(freshNamespace("hn"));
    await a.call("PUT", "/nodes/ro", { json: { text: "x", acl: [{ perms: 1, scheme: "world", id: "anyone" }] } });
    const w = await a.call("PATCH", "/nodes/ro", { raw: "y" });
    expect(w.status).toBe(403);
    expect(w.body).toMatchObject({ err: -102, code: "NOAUTH" });
    expect((await a.call("PATCH", "/nodes/zookeeper/config", { raw: "y" })).status).toBe(403);
    const badAcl = await a.call("PUT", "/nodes/x", { json: { acl: [{ perms: 99, scheme: "world", id: "anyone" }] } });
    expect(badAcl.status).toBe(400);
    expect(badAcl.body.code).toBe("INVALIDACL");
  });
});

describe("HTTP nodes: ephemeral nodes and leases", () => {
  it("an ephemeral create needs a lease; with one, the lease owns the node", async () => {
    const a = api(freshNamespace("hn"));
    const before = await zxidOf(a);
    const none = await a.create("/eph", "x", { query: "mode=ephemeral" });
    expect(none.status).toBe(400);
    expect(none.body.message).toContain("Edgekeeper-Lease");
    expect(await zxidOf(a)).toBe(before);
    const l = await a.lease();
    const r = await a.create("/eph", "x", { query: "mode=ephemeral", lease: l.lease });
    expect(r.status).toBe(201);
    expect(r.body.stat.ephemeralOwner).toBe(l.leaseId);
    const seq = await a.call("POST", "/nodes/w-?mode=ephemeral_sequential", { raw: "", headers: { "Edgekeeper-Lease": l.lease } });
    expect(seq.body.path).toBe("/w-0000000001");
    expect(seq.body.stat.ephemeralOwner).toBe(l.leaseId);
  });

  it("a malformed lease header is 400; an unknown lease or wrong secret is 410 SESSIONEXPIRED", async () => {
    const a = api(freshNamespace("hn"));
    const l = await a.lease();
    expect((await a.create("/x", "", { lease: "nope" })).status).toBe(400);
    const wrong = await a.create("/x", "", { lease: `${l.leaseId}.${"0".repeat(32)}` });
    expect(wrong.status).toBe(410);
    expect(wrong.body).toMatchObject({ err: -112, code: "SESSIONEXPIRED" });
    expect((await a.create("/x", "", { lease: `0123456789abcdef.${"0".repeat(32)}` })).status).toBe(410);
    expect((await a.read("/x")).status).toBe(404);
  });
});

describe("HTTP and WebSocket share one tree", () => {
  it("HTTP writes fire WebSocket watches, before the HTTP response", async () => {
    const ns = freshNamespace("hn");
    const a = api(ns);
    const ws = await RawClient.connect(ns);
    await ws.request("create", { path: "/w", data: b64("0") });
    await ws.request("getData", { path: "/w", watch: true });
    await ws.request("getChildren", { path: "/w", watch: true });
    const from = ws.received.length;
    const set = await a.call("PATCH", "/nodes/w", { raw: "1" });
    const child = await a.create("/w/c");
    await roundTrip(ws);
    expect(eventsOf(ws, from)).toEqual([
      { event: "NodeDataChanged", path: "/w", zxid: set.body.zxid },
      { event: "NodeChildrenChanged", path: "/w", zxid: child.body.zxid },
    ]);
    const g = await ws.request("getData", { path: "/w" });
    expect(g.data).toBe(b64("1"));
    ws.close();
  });
});

describe("HTTP routing and bad input", () => {
  it("bad namespace names are 400, unknown routes 404, unsupported methods on known paths 404", async () => {
    expect((await send("GET", "/v1/namespaces/-bad/nodes/x")).status).toBe(400);
    const nf = await send("GET", "/v1/namespaces/ok/nothing-here");
    expect(nf.status).toBe(404);
    expect(nf.body.code).toBe("BADARGUMENTS");
    expect((await send("GET", "/v1/namespaces/ok/locks/acquire")).status).toBe(404);
  });
});
