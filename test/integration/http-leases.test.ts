import { describe, expect, it } from "vitest";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { NamespaceObject } from "../../src/objects/namespace-object.js";
import { RawClient, b64, eventsOf, freshNamespace, roundTrip, sleep, stubFor } from "../helpers/raw-client.js";
import { api } from "../helpers/http.js";

const inObject = <R>(ns: string, fn: (o: NamespaceObject) => R): Promise<R> =>
  runInDurableObject(stubFor(ns), (o: NamespaceObject) => fn(o) as unknown) as Promise<R>;

/** Waits past a TTL, then drives the alarm until `pred` holds (the alarm may also fire on its own). */
async function expire(ns: string, ttl: number, pred: () => Promise<boolean>): Promise<void> {
  await sleep(ttl + 100);
  const deadline = Date.now() + 3000;
  for (;;) {
    await runDurableObjectAlarm(stubFor(ns));
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error("not expired");
    await sleep(30);
  }
}

describe("HTTP leases", () => {
  it("POST /leases creates a lease: id, secret, one credential string, negotiated TTL", async () => {
    const a = api(freshNamespace("hl"));
    const r = await a.post("/leases", { ttl: 5000 });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ leaseId: expect.stringMatching(/^[0-9a-f]{16}$/), secret: expect.stringMatching(/^[0-9a-f]{32}$/), ttl: 5000 });
    expect(r.body.lease).toBe(`${r.body.leaseId}.${r.body.secret}`);
    expect(r.body.expiresAt).toBeGreaterThan(Date.now());
    // Clamped to the session timeout bounds (test config: 100..60000 ms); 30 s by default.
    expect((await a.post("/leases", { ttl: 1 })).body.ttl).toBe(100);
    expect((await a.post("/leases", { ttl: 10_000_000 })).body.ttl).toBe(60_000);
    expect((await a.post("/leases")).body.ttl).toBe(30_000);
    // A lease is a session of kind "lease" in the change log.
    const log = await inObject(a.ns, (o) => o.ns.changesAfter(0).map((c) => [c.type, c.session]));
    expect(log[0]).toEqual(["createSession", r.body.leaseId]);
    expect(await inObject(a.ns, (o) => o.ns.getSession(r.body.leaseId)?.kind)).toBe("lease");
  });

  it("bad lease requests are 400 and create nothing", async () => {
    const a = api(freshNamespace("hl"));
    for (const body of [{ ttl: -5 }, { ttl: "10" }, { ttl: 1.5 }, { timeout: 5 }, [1]]) {
      const r = await a.post("/leases", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.code).toBe("BADARGUMENTS");
    }
    expect((await a.call("POST", "/leases", { raw: "{", contentType: "application/json" })).status).toBe(400);
    expect(await inObject(a.ns, (o) => o.ns.zxid)).toBe(0);
  });

  it("keepalive persists lastSeen and pushes the expiry out; GET shows the lease", async () => {
    const a = api(freshNamespace("hl"));
    const l = await a.lease(2000);
    await a.create("/eph", "x", { query: "mode=ephemeral", lease: l.lease });
    await sleep(30);
    const before = await inObject(a.ns, (o) => o.ns.getSession(l.leaseId)!.lastSeen);
    const k = await a.post(`/leases/${l.leaseId}/keepalive`, undefined, { headers: { "Edgekeeper-Lease": l.lease } });
    expect(k.status).toBe(200);
    expect(k.body).toMatchObject({ leaseId: l.leaseId, ttl: 2000 });
    // Persisted: it survives an eviction.
    await evictDurableObject(stubFor(a.ns));
    const after = await inObject(a.ns, (o) => o.ns.store.getSession(l.leaseId)!.lastSeen);
    expect(after).toBeGreaterThan(before);
    expect(k.body.expiresAt).toBe(after + 2000);
    const info = await a.get(`/leases/${l.leaseId}`, { headers: { "Edgekeeper-Lease": l.lease } });
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({ leaseId: l.leaseId, ttl: 2000, ephemerals: ["/eph"], grant: false });
    expect(info.body.remaining).toBeGreaterThan(1000);
    expect(info.body.remaining).toBeLessThanOrEqual(2000);
  });

  it("a lease kept alive outlives its TTL; one that is not expires, deleting its ephemerals", async () => {
    const a = api(freshNamespace("hl"));
    const kept = await a.lease(300);
    const dropped = await a.lease(300);
    await a.create("/k", "", { query: "mode=ephemeral", lease: kept.lease });
    await a.create("/d", "", { query: "mode=ephemeral", lease: dropped.lease });
    for (let i = 0; i < 6; i++) {
      await sleep(100);
      expect((await a.post(`/leases/${kept.leaseId}/keepalive`, undefined, { headers: { "Edgekeeper-Lease": kept.lease } })).status).toBe(200);
      await runDurableObjectAlarm(stubFor(a.ns));
    }
    expect((await a.read("/k")).status).toBe(200);
    expect((await a.read("/d")).status).toBe(404);
    const late = await a.post(`/leases/${dropped.leaseId}/keepalive`, undefined, { headers: { "Edgekeeper-Lease": dropped.lease } });
    expect(late.status).toBe(410);
    expect(late.body).toMatchObject({ err: -112, code: "SESSIONEXPIRED" });
    expect((await a.create("/again", "", { query: "mode=ephemeral", lease: dropped.lease })).status).toBe(410);
  });

  it("expiry deletes the ephemerals in one transaction and fires watches exactly as a WebSocket session's expiry does", async () => {
    const ns = freshNamespace("hl");
    const a = api(ns);
    const watcher = await RawClient.connect(ns);
    await watcher.request("create", { path: "/g" });
    await watcher.request("addWatch", { path: "/g", mode: "persistentRecursive" });

    /** One round: an owner makes /g/<kind>-1 and -2, the watcher watches them, the owner goes silent and expires. */
    async function round(kind: "ws" | "http"): Promise<{ events: Array<{ event: string; path: string }>; owner: string }> {
      let owner: string;
      let stop: () => void = () => {};
      if (kind === "ws") {
        const c = await RawClient.connect(ns, { timeout: 200 });
        for (const n of [1, 2]) await c.request("create", { path: `/g/${kind}-${n}`, mode: "ephemeral" });
        owner = c.sessionId;
        stop = () => c.close();
      } else {
        const l = await a.lease(200);
        for (const n of [1, 2]) await a.create(`/g/${kind}-${n}`, "", { query: "mode=ephemeral", lease: l.lease });
        owner = l.leaseId;
      }
      for (const n of [1, 2]) await watcher.request("exists", { path: `/g/${kind}-${n}`, watch: true });
      await watcher.request("getChildren", { path: "/g", watch: true });
      const from = watcher.received.length;
      stop();
      await expire(ns, 200, async () => (await watcher.request("getChildren", { path: "/g" })).children.length === 0);
      await roundTrip(watcher);
      const evs = eventsOf(watcher, from);
      // All in one transaction: the owner's closeSession.
      expect(new Set(evs.map((e) => e.zxid)).size).toBe(1);
      const log = await inObject(ns, (o) => o.ns.changesAfter(evs[0].zxid - 1).filter((c) => c.zxid === evs[0].zxid).map((c) => [c.type, c.path, c.session]));
      expect(log).toEqual([
        ["delete", `/g/${kind}-1`, ""],
        ["delete", `/g/${kind}-2`, ""],
        ["closeSession", "", owner],
      ].map(([t, p]) => [t, p, owner]));
      return { events: evs.map((e) => ({ event: e.event, path: e.path.replace(kind, "X") })), owner };
    }

    const ws = await round("ws");
    const http = await round("http");
    expect(http.events).toEqual(ws.events);
    expect(http.events).toEqual([
      { event: "NodeDeleted", path: "/g/X-1" },
      { event: "NodeChildrenChanged", path: "/g" },
      { event: "NodeDeleted", path: "/g/X-2" },
    ]);
    watcher.close();
  });

  it("DELETE revokes: the ephemerals go at once and their watches fire", async () => {
    const ns = freshNamespace("hl");
    const a = api(ns);
    const watcher = await RawClient.connect(ns);
    const l = await a.lease();
    await a.create("/r", "", { query: "mode=ephemeral", lease: l.lease });
    await watcher.request("exists", { path: "/r", watch: true });
    const from = watcher.received.length;
    const r = await a.call("DELETE", `/leases/${l.leaseId}`, { headers: { "Edgekeeper-Lease": l.lease } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ leaseId: l.leaseId, revoked: true, deleted: ["/r"] });
    await roundTrip(watcher);
    expect(eventsOf(watcher, from)).toEqual([{ event: "NodeDeleted", path: "/r", zxid: r.body.zxid }]);
    expect((await a.call("DELETE", `/leases/${l.leaseId}`, { headers: { "Edgekeeper-Lease": l.lease } })).status).toBe(410);
    expect((await a.get(`/leases/${l.leaseId}`, { headers: { "Edgekeeper-Lease": l.lease } })).status).toBe(410);
    watcher.close();
  });

  it("lease routes check their credentials", async () => {
    const a = api(freshNamespace("hl"));
    const l = await a.lease();
    const other = await a.lease();
    expect((await a.post(`/leases/${l.leaseId}/keepalive`)).status).toBe(400); // no header
    expect((await a.post(`/leases/${l.leaseId}/keepalive`, undefined, { headers: { "Edgekeeper-Lease": other.lease } })).status).toBe(400); // another lease
    const wrong = `${l.leaseId}.${"f".repeat(32)}`;
    expect((await a.post(`/leases/${l.leaseId}/keepalive`, undefined, { headers: { "Edgekeeper-Lease": wrong } })).status).toBe(410);
    expect((await a.call("DELETE", `/leases/${l.leaseId}`, { headers: { "Edgekeeper-Lease": wrong } })).status).toBe(410);
    // Still alive: the wrong secret changed nothing.
    expect((await a.get(`/leases/${l.leaseId}`, { headers: { "Edgekeeper-Lease": l.lease } })).status).toBe(200);
  });

  it("a WebSocket session's credentials are not a lease", async () => {
    const ns = freshNamespace("hl");
    const a = api(ns);
    const ws = await RawClient.connect(ns);
    const r = await a.create("/x", "", { query: "mode=ephemeral", lease: `${ws.sessionId}.${ws.secret}` });
    expect(r.status).toBe(410);
    ws.close();
  });
});

describe("HTTP multi", () => {
  it("applies all ops in one transaction and returns ZooKeeper's result vector, as the WebSocket multi does", async () => {
    const ns = freshNamespace("hm");
    const a = api(ns);
    await a.create("/m", "0");
    const ops = [
      { op: "check", path: "/m", version: 0 },
      { op: "setData", path: "/m", data: b64("1"), version: 0 },
      { op: "create", path: "/m/a", data: b64("x") },
      { op: "create", path: "/m/s-", mode: "persistent_sequential" },
      { op: "delete", path: "/m/a" },
    ];
    const r = await a.post("/multi", { ops });
    expect(r.status).toBe(200);
    expect(r.body.results.map((x: { op: string }) => x.op)).toEqual(["check", "setData", "create", "create", "delete"]);
    expect(r.body.results[3].path).toBe("/m/s-0000000001");
    const log = await inObject(ns, (o) => o.ns.changesAfter(r.body.zxid - 1).map((c) => c.zxid));
    expect(new Set(log)).toEqual(new Set([r.body.zxid]));

    // The same ops over the WebSocket give the same vector (Stat times aside).
    const ws = await RawClient.connect(freshNamespace("hm"));
    await ws.request("create", { path: "/m", data: b64("0") });
    const w = await ws.request("multi", { ops });
    const strip = (rs: Array<Record<string, unknown>>) => rs.map(({ stat, ...rest }) => rest);
    expect(strip(r.body.results)).toEqual(strip(w.results));
    ws.close();
  });

  it("a failing op aborts all: its status, its code, and the vector (0 before, its code, -2 after)", async () => {
    const a = api(freshNamespace("hm"));
    await a.create("/m", "0");
    const before = (await a.read("/m")).headers.get("Edgekeeper-Zxid");
    const r = await a.post("/multi", {
      ops: [
        { op: "create", path: "/m/new" },
        { op: "setData", path: "/m", data: b64("1"), version: 5 },
        { op: "delete", path: "/m" },
      ],
    });
    expect(r.status).toBe(412);
    expect(r.body).toMatchObject({ err: -103, code: "BADVERSION" });
    expect(r.body.results).toEqual([{ err: 0 }, { err: -103, code: "BADVERSION", message: expect.any(String) }, { err: -2 }]);
    expect((await a.read("/m/new")).status).toBe(404);
    expect((await a.read("/m")).headers.get("Edgekeeper-Zxid")).toBe(before);
    const missing = await a.post("/multi", { ops: [{ op: "delete", path: "/nope" }] });
    expect(missing.status).toBe(404);
    const exists = await a.post("/multi", { ops: [{ op: "create", path: "/m" }] });
    expect(exists.status).toBe(409);
  });

  it("malformed multi bodies are 400 and change nothing", async () => {
    const a = api(freshNamespace("hm"));
    for (const body of [{}, { ops: "x" }, { ops: [{ op: "frobnicate", path: "/x" }] }, { ops: [{ op: "create" }] }, { ops: [], extra: 1 }, [1, 2]]) {
      const r = await a.post("/multi", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.err).toBe(-8);
    }
    const tooMany = await a.post("/multi", { ops: Array.from({ length: 1001 }, (_, i) => ({ op: "create", path: `/n${i}` })) });
    expect(tooMany.status).toBe(400);
    const ephemeral = await a.post("/multi", { ops: [{ op: "create", path: "/e", mode: "ephemeral" }] });
    expect(ephemeral.status).toBe(400);
    expect(await inObject(a.ns, (o) => o.ns.zxid)).toBe(0);
    const l = await a.lease();
    const withLease = await a.post("/multi", { ops: [{ op: "create", path: "/e", mode: "ephemeral" }] }, { headers: { "Edgekeeper-Lease": l.lease } });
    expect(withLease.status).toBe(200);
    expect(withLease.body.results[0].stat.ephemeralOwner).toBe(l.leaseId);
  });
});
