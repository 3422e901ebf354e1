import { describe, expect, it } from "vitest";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { Code } from "../../src/core/errors.js";
import type { NamespaceObject } from "../../src/objects/namespace-object.js";
import { httpStatus } from "../../src/routes/http/status.js";
import { freshNamespace, stubFor } from "../helpers/raw-client.js";
import { api, openSse, ORIGIN, worker } from "../helpers/http.js";
import { until } from "../helpers/net.js";

describe("HTTP status mapping", () => {
  it("maps every ZooKeeper code to its status", () => {
    const expected: Record<string, number> = {
      NONODE: 404,
      NOWATCHER: 404,
      NODEEXISTS: 409,
      NOTEMPTY: 409,
      BADVERSION: 412,
      BADARGUMENTS: 400,
      MARSHALLINGERROR: 400,
      INVALIDACL: 400,
      NOCHILDRENFOREPHEMERALS: 400,
      AUTHFAILED: 401,
      NOAUTH: 403,
      SESSIONEXPIRED: 410,
      UNKNOWNSESSION: 410,
      OPERATIONTIMEOUT: 423,
      THROTTLEDOP: 429,
      QUOTAEXCEEDED: 429,
      UNIMPLEMENTED: 501,
      CONNECTIONLOSS: 503,
      SYSTEMERROR: 500,
    };
    for (const [name, code] of Object.entries(Code)) {
      if (name === "OK") continue;
      expect(httpStatus(code), name).toBe(expected[name] ?? 500);
    }
  });

  it("each reachable status, end to end, with {err, code, message} and the zxid", async () => {
    const a = api(freshNamespace("he"));
    await a.create("/n", "x");
    await a.create("/n/c");
    await a.call("PUT", "/nodes/ro", { json: { acl: [{ perms: 1, scheme: "world", id: "anyone" }] } });
    const held = await a.acquire("locks", { path: "/locks/l" });
    const cases: Array<[string, Promise<{ status: number; body: any }>, number, string]> = [
      ["bad path", a.read("/a//b"), 400, "BADARGUMENTS"],
      ["bad JSON", a.call("POST", "/multi", { raw: "{", contentType: "application/json" }), 400, "MARSHALLINGERROR"],
      ["no ACL perms", a.call("PATCH", "/nodes/ro", { raw: "y" }), 403, "NOAUTH"],
      ["missing node", a.read("/none"), 404, "NONODE"],
      ["exists", a.create("/n"), 409, "NODEEXISTS"],
      ["not empty", a.call("DELETE", "/nodes/n"), 409, "NOTEMPTY"],
      ["unknown lease", a.create("/e", "", { query: "mode=ephemeral", lease: `0123456789abcdef.${"0".repeat(32)}` }), 410, "SESSIONEXPIRED"],
      ["stale version", a.call("PATCH", "/nodes/n", { raw: "y", headers: { "If-Match": '"9"' } }), 412, "BADVERSION"],
      ["too large", a.create("/big", "x".repeat(1024 * 1024 + 1)), 413, "BADARGUMENTS"],
      ["lock busy", a.acquire("locks", { path: "/locks/l", wait: 0 }), 423, "OPERATIONTIMEOUT"],
    ];
    for (const [what, p, status, code] of cases) {
      const r = await p;
      expect(r.status, what).toBe(status);
      expect(r.body, what).toMatchObject({ err: (Code as Record<string, number>)[code], code, message: expect.any(String) });
      expect(r.body.message.length, what).toBeGreaterThan(5);
    }
    expect(held.status).toBe(200);
  });

  it("held requests and streams are bounded per namespace: 429 THROTTLEDOP beyond (test config: 48 and 12)", { timeout: 20_000 }, async () => {
    const a = api(freshNamespace("he"));
    const holder = await a.acquire("locks", { path: "/locks/l" });
    const ac = new AbortController();
    const waiting = Array.from({ length: 48 }, () => a.acquire("locks", { path: "/locks/l", wait: 20_000 }, { signal: ac.signal }).catch(() => null));
    await until(async () => (await a.get("/nodes/locks/l?children")).body.children.length === 49, 10_000);
    const over = await a.acquire("locks", { path: "/locks/l" });
    expect(over.status).toBe(429);
    expect(over.body).toMatchObject({ err: -127, code: "THROTTLEDOP" });
    expect((await a.get("/nodes/locks/l?children")).body.children).toHaveLength(49);
    ac.abort();
    await Promise.all(waiting);
    await until(async () => (await a.get("/nodes/locks/l?children")).body.children.length === 1, 10_000);
    expect(holder.status).toBe(200);

    const streams = await Promise.all(Array.from({ length: 12 }, () => openSse(`/v1/namespaces/${a.ns}/watch?path=/`)));
    const more = await a.get("/watch?path=/");
    expect(more.status).toBe(429);
    expect(more.body.code).toBe("THROTTLEDOP");
    for (const s of streams) await s.close();
    await until(async () => {
      const r = await worker.fetch(`${ORIGIN}/v1/namespaces/${a.ns}/watch?path=/`);
      await r.body?.cancel();
      return r.status === 200;
    });
  });

  it("an object that restarts under a held request: 503 CONNECTIONLOSS; the waiter's lease expires with its TTL", { timeout: 15_000 }, async () => {
    const ns = freshNamespace("he");
    const a = api(ns);
    await a.acquire("locks", { path: "/locks/l", ttl: 30_000 });
    const waiting = a.acquire("locks", { path: "/locks/l", ttl: 300, wait: 10_000 });
    await until(async () => (await a.get("/nodes/locks/l?children")).body.children.length === 2);
    await runInDurableObject(stubFor(ns), (_o: NamespaceObject, state: DurableObjectState) => state.abort("test: restart")).catch(() => {});
    const r = await waiting;
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ err: -4, code: "CONNECTIONLOSS" });
    // Nobody keeps the waiter's lease alive any more: its contender goes with it.
    await until(async () => {
      await runDurableObjectAlarm(stubFor(ns));
      return (await a.get("/nodes/locks/l?children")).body.children.length === 1;
    }, 5000);
  });

  it("an unexpected failure inside the object is 500 SYSTEMERROR, changes nothing and hurts no one else", async () => {
    const ns = freshNamespace("he");
    const a = api(ns);
    await a.create("/n", "x");
    await runInDurableObject(stubFor(ns), (o: NamespaceObject) => {
      const original = o.ns.executeWithoutSession.bind(o.ns);
      let once = true;
      o.ns.executeWithoutSession = (ids, req, now) => {
        if (once && req.op === "setData") {
          once = false;
          o.ns.store.transaction(() => {
            o.ns.store.setMeta("zxid", "999");
            throw new Error("storage fault (simulated)");
          });
        }
        return original(ids, req, now);
      };
    });
    const r = await a.call("PATCH", "/nodes/n", { raw: "y" });
    expect(r.status).toBe(500);
    expect(r.body).toMatchObject({ err: -1, code: "SYSTEMERROR" });
    expect((await a.read("/n")).text).toBe("x");
    expect((await a.call("PATCH", "/nodes/n", { raw: "z" })).status).toBe(200);
    expect((await a.read("/n")).text).toBe("z");
  });
});
