import { afterEach, describe, expect, it } from "vitest";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { LeaderLatch, Mutex, Semaphore, type EdgeKeeper } from "../../src/client/index.js";
import type { NamespaceObject } from "../../src/objects/namespace-object.js";
import { freshNamespace, sleep, stubFor } from "../helpers/raw-client.js";
import { client, until } from "../helpers/net.js";
import { api, type Reply } from "../helpers/http.js";

const clients: EdgeKeeper[] = [];
async function ws(ns: string): Promise<EdgeKeeper> {
  const { zk } = await client(ns);
  clients.push(zk);
  return zk;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((zk) => zk.close().catch(() => {})));
});

const inObject = <R>(ns: string, fn: (o: NamespaceObject) => R): Promise<R> =>
  runInDurableObject(stubFor(ns), (o: NamespaceObject) => fn(o) as unknown) as Promise<R>;
const children = async (a: ReturnType<typeof api>, path: string): Promise<string[]> => (await a.get(`/nodes${path}?children`)).body?.children ?? [];

/** Tracks a promise's settlement without awaiting it. */
function track<T>(p: Promise<T>) {
  const t = { done: false, value: undefined as T | undefined, p };
  p.then((v) => ((t.done = true), (t.value = v)));
  return t;
}

const LOCK = "/locks/job";

describe("HTTP locks", () => {
  it("a free lock is granted at once: the contender is lock-<seq>, owned by a lease, token = its czxid", async () => {
    const a = api(freshNamespace("lk"));
    const r = await a.acquire("locks", { path: LOCK, ttl: 5000, owner: "report-fn" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ path: LOCK, node: `${LOCK}/lock-0000000000`, ttl: 5000 });
    expect(r.body.lease).toMatch(/^[0-9a-f]{16}\.[0-9a-f]{32}$/);
    const node = await a.read(r.body.node, { headers: { Accept: "application/json" } });
    expect(node.body.stat.czxid).toBe(r.body.token);
    expect(node.body.stat.ephemeralOwner).toBe(r.body.leaseId);
    expect(JSON.parse(atob(node.body.data))).toEqual({ owner: "report-fn", kind: "http" });
    // name → /locks/<name>
    const n = await a.acquire("locks", { name: "nightly" });
    expect(n.body.node).toBe("/locks/nightly/lock-0000000000");
  });

  it("the request is held until the holder releases; the next grant's token is higher", async () => {
    const a = api(freshNamespace("lk"));
    const first = await a.acquire("locks", { path: LOCK });
    const second = track(a.acquire("locks", { path: LOCK, wait: 10_000 }));
    await until(async () => (await children(a, LOCK)).length === 2);
    await sleep(100);
    expect(second.done).toBe(false);
    const rel = await a.release("locks", { path: LOCK, token: first.body.token }, first.body.lease);
    expect(rel.status).toBe(200);
    expect(rel.body).toMatchObject({ released: true, node: first.body.node });
    const got = await second.p;
    expect(got.status).toBe(200);
    expect(got.body.token).toBeGreaterThan(first.body.token);
    expect(await children(a, LOCK)).toEqual([got.body.node.split("/").pop()]);
    // The lease made for the first grant went with the release.
    expect((await a.get(`/leases/${first.body.leaseId}`, { headers: { "Edgekeeper-Lease": first.body.lease } })).status).toBe(410);
  });

  it("not granted within wait: 423, and the waiter's node and lease are gone (no orphan)", async () => {
    const a = api(freshNamespace("lk"));
    const holder = await a.acquire("locks", { path: LOCK });
    const t0 = Date.now();
    const r = await a.acquire("locks", { path: LOCK, wait: 300 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(r.status).toBe(423);
    expect(r.body).toMatchObject({ err: -7, code: "OPERATIONTIMEOUT" });
    expect(await children(a, LOCK)).toEqual([holder.body.node.split("/").pop()]);
    const sessions = await inObject(a.ns, (o) => o.ns.store.listSessions().map((s) => s.id));
    expect(sessions).toEqual([holder.body.leaseId]);
    // wait: 0 tries once.
    const once = await a.acquire("locks", { path: LOCK, wait: 0 });
    expect(once.status).toBe(423);
    expect(await children(a, LOCK)).toHaveLength(1);
  });

  it("a waiter whose client goes away (request.signal) is withdrawn: its node is deleted", async () => {
    const a = api(freshNamespace("lk"));
    const l = await a.lease();
    await a.acquire("locks", { path: LOCK });
    const ac = new AbortController();
    const waiting = a.acquire("locks", { path: LOCK, wait: 30_000 }, { lease: l.lease, signal: ac.signal }).catch((e) => e);
    await until(async () => (await children(a, LOCK)).length === 2);
    ac.abort();
    await waiting;
    await until(async () => (await children(a, LOCK)).length === 1, 3000, "the abandoned waiter's node to go");
    // Its (explicit) lease lives on; only the contender went.
    expect((await a.get(`/leases/${l.leaseId}`, { headers: { "Edgekeeper-Lease": l.lease } })).body.ephemerals).toEqual([]);
  });

  it("a holder whose lease lapses loses the lock and the next waiter is granted", async () => {
    const a = api(freshNamespace("lk"));
    const holder = await a.acquire("locks", { path: LOCK, ttl: 300 });
    const next = track(a.acquire("locks", { path: LOCK, ttl: 5000, wait: 10_000 }));
    await until(async () => (await children(a, LOCK)).length === 2);
    // The waiter is held for longer than its own lease's TTL would allow: the held request keeps it alive.
    await sleep(400);
    await runDurableObjectAlarm(stubFor(a.ns));
    const got = await next.p;
    expect(got.status).toBe(200);
    expect(got.body.token).toBeGreaterThan(holder.body.token);
    const lost = await a.refresh("locks", { path: LOCK, token: holder.body.token }, holder.body.lease);
    expect(lost.status).toBe(410);
    expect((await a.release("locks", { path: LOCK, token: holder.body.token }, holder.body.lease)).status).toBe(410);
  });

  it("a waiter's lease is kept alive by its held request, even past its TTL", async () => {
    const a = api(freshNamespace("lk"));
    const holder = await a.acquire("locks", { path: LOCK, ttl: 5000 });
    const next = track(a.acquire("locks", { path: LOCK, ttl: 150, wait: 10_000 }));
    await until(async () => (await children(a, LOCK)).length === 2);
    for (let i = 0; i < 4; i++) {
      await sleep(100);
      await runDurableObjectAlarm(stubFor(a.ns));
    }
    expect(await children(a, LOCK)).toHaveLength(2);
    await a.release("locks", { path: LOCK, token: holder.body.token }, holder.body.lease);
    expect((await next.p).status).toBe(200);
  });

  it("refresh keeps a grant alive past its TTL; release needs the lease and the right token", async () => {
    const a = api(freshNamespace("lk"));
    const g = await a.acquire("locks", { path: LOCK, ttl: 300 });
    for (let i = 0; i < 5; i++) {
      await sleep(100);
      const r = await a.refresh("locks", { path: LOCK, token: g.body.token }, g.body.lease);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ node: g.body.node, token: g.body.token, ttl: 300 });
      await runDurableObjectAlarm(stubFor(a.ns));
    }
    expect(await children(a, LOCK)).toHaveLength(1);
    const other = await a.lease();
    expect((await a.release("locks", { path: LOCK, token: g.body.token + 1 }, g.body.lease)).status).toBe(404);
    expect((await a.release("locks", { path: LOCK, token: g.body.token }, other.lease)).status).toBe(404);
    expect((await a.release("locks", { path: "/locks/other", token: g.body.token }, g.body.lease)).status).toBe(404);
    expect((await a.call("POST", "/locks/release", { json: { path: LOCK, token: g.body.token } })).status).toBe(400);
    expect(await children(a, LOCK)).toHaveLength(1);
    expect((await a.release("locks", { path: LOCK, token: g.body.token }, g.body.lease)).status).toBe(200);
    expect((await a.release("locks", { path: LOCK, token: g.body.token }, g.body.lease)).status).toBe(410);
  });

  it("with the caller's own lease: release deletes only the contender; Idempotency-Key makes a retried acquire land on the same node", async () => {
    const a = api(freshNamespace("lk"));
    const l = await a.lease();
    const key = { "Idempotency-Key": "acquire-1" };
    const g1 = await a.acquire("locks", { path: LOCK }, { lease: l.lease, headers: key });
    const g2 = await a.acquire("locks", { path: LOCK }, { lease: l.lease, headers: key });
    expect(g2.status).toBe(200);
    expect(g2.body.node).toBe(g1.body.node);
    expect(g2.body.token).toBe(g1.body.token);
    expect(g1.body.leaseId).toBe(l.leaseId);
    expect(await children(a, LOCK)).toHaveLength(1);
    expect((await a.release("locks", { path: LOCK, token: g1.body.token }, l.lease)).status).toBe(200);
    expect((await a.get(`/leases/${l.leaseId}`, { headers: { "Edgekeeper-Lease": l.lease } })).status).toBe(200);
  });

  it("many concurrent HTTP callers: never two holders, tokens strictly increase, all get it", { timeout: 30_000 }, async () => {
    const a = api(freshNamespace("lk"));
    let inside = 0;
    const grants: Array<{ token: number; enter: number; exit: number }> = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let round = 0; round < 2; round++) {
          const g = await a.acquire("locks", { path: LOCK, wait: 20_000 });
          expect(g.status).toBe(200);
          inside++;
          expect(inside).toBe(1);
          const enter = performance.now();
          await sleep(Math.random() * 10);
          const exit = performance.now();
          inside--;
          grants.push({ token: g.body.token, enter, exit });
          expect((await a.release("locks", { path: LOCK, token: g.body.token }, g.body.lease)).status).toBe(200);
        }
      }),
    );
    grants.sort((x, y) => x.enter - y.enter);
    for (let i = 1; i < grants.length; i++) {
      expect(grants[i].enter).toBeGreaterThanOrEqual(grants[i - 1].exit);
      expect(grants[i].token).toBeGreaterThan(grants[i - 1].token);
    }
    expect(await children(a, LOCK)).toEqual([]);
  });

  it("bad acquire requests are 400 and create nothing", async () => {
    const a = api(freshNamespace("lk"));
    for (const body of [
      {},
      { path: LOCK, name: "x" },
      { path: "locks/no-slash" },
      { path: "/locks//x" },
      { name: "a/b" },
      { path: LOCK, wait: -1 },
      { path: LOCK, wait: 300_001 },
      { path: LOCK, ttl: 0 },
      { path: LOCK, extra: true },
      { path: LOCK, token: 5 },
    ]) {
      const r = await a.acquire("locks", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.err).toBe(-8);
    }
    expect((await a.call("POST", "/locks/acquire", { raw: "[", contentType: "application/json" })).status).toBe(400);
    expect((await a.acquire("locks", { path: LOCK }, { lease: "bad" })).status).toBe(400);
    expect((await a.acquire("locks", { path: LOCK }, { lease: `0123456789abcdef.${"a".repeat(32)}` })).status).toBe(410);
    for (const body of [{ path: LOCK }, { path: LOCK, token: 0 }, { path: LOCK, token: "1" }])
      expect((await a.call("POST", "/locks/refresh", { json: body, headers: { "Edgekeeper-Lease": `0123456789abcdef.${"a".repeat(32)}` } })).status).toBe(400);
    expect(await inObject(a.ns, (o) => o.ns.zxid)).toBe(0);
    expect(await inObject(a.ns, (o) => o.ns.store.listSessions().length)).toBe(0);
  });

  it("an acquire on a path that cannot hold contenders fails cleanly, leaving no lease behind", async () => {
    const a = api(freshNamespace("lk"));
    const l = await a.lease();
    await a.create("/eph", "", { query: "mode=ephemeral", lease: l.lease });
    const r = await a.acquire("locks", { path: "/eph/lock" });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("NOCHILDRENFOREPHEMERALS");
    expect(await inObject(a.ns, (o) => o.ns.store.listSessions().map((s) => s.id))).toEqual([l.leaseId]);
    // Checked before any lease was made for it: nothing was committed.
    expect(r.body.zxid).toBe(await inObject(a.ns, (o) => o.ns.zxid));
    const ro = await a.call("PUT", "/nodes/ro", { json: { acl: [{ perms: 1, scheme: "world", id: "anyone" }] } });
    const denied = await a.acquire("locks", { path: "/ro/lock" });
    expect(denied.status).toBe(403);
    expect(await inObject(a.ns, (o) => o.ns.zxid)).toBe(ro.body.zxid);
  });
});

describe("HTTP callers and WebSocket Mutex clients contend on one lock", () => {
  it("HTTP holds → WS waits; WS holds → HTTP waits; tokens keep increasing", { timeout: 20_000 }, async () => {
    const ns = freshNamespace("lkx");
    const a = api(ns);
    const zk = await ws(ns);
    const mutex = new Mutex(zk, LOCK);

    const h1 = await a.acquire("locks", { path: LOCK });
    const w = track(mutex.acquire());
    await until(async () => (await children(a, LOCK)).length === 2);
    await sleep(100);
    expect(w.done).toBe(false);
    await a.release("locks", { path: LOCK, token: h1.body.token }, h1.body.lease);
    const wl = await w.p;
    expect(wl.token).toBeGreaterThan(h1.body.token);

    const h2 = track(a.acquire("locks", { path: LOCK, wait: 10_000 }));
    await until(async () => (await children(a, LOCK)).length === 2);
    await sleep(100);
    expect(h2.done).toBe(false);
    await wl.release();
    const g2 = (await h2.p) as Reply;
    expect(g2.status).toBe(200);
    expect(g2.body.token).toBeGreaterThan(wl.token);
    await a.release("locks", { path: LOCK, token: g2.body.token }, g2.body.lease);
    expect(await children(a, LOCK)).toEqual([]);
  });

  it("mixed contention: WS clients and HTTP callers never overlap; tokens strictly increase", { timeout: 40_000 }, async () => {
    const ns = freshNamespace("lkx");
    const a = api(ns);
    const zks = await Promise.all([ws(ns), ws(ns), ws(ns)]);
    let inside = 0;
    const grants: Array<{ who: string; token: number; enter: number; exit: number }> = [];
    const critical = async (who: string, token: number) => {
      inside++;
      expect(inside, `${who} entered while another held the lock`).toBe(1);
      const enter = performance.now();
      await sleep(Math.random() * 8);
      const exit = performance.now();
      inside--;
      grants.push({ who, token, enter, exit });
    };
    await Promise.all([
      ...zks.map(async (zk, i) => {
        const m = new Mutex(zk, LOCK);
        for (let r = 0; r < 3; r++) {
          const lease = await m.acquire();
          await critical(`ws${i}`, lease.token);
          await lease.release();
        }
      }),
      ...[0, 1, 2].map(async (i) => {
        for (let r = 0; r < 3; r++) {
          const g = await a.acquire("locks", { path: LOCK, wait: 30_000 });
          expect(g.status).toBe(200);
          await critical(`http${i}`, g.body.token);
          expect((await a.release("locks", { path: LOCK, token: g.body.token }, g.body.lease)).status).toBe(200);
        }
      }),
    ]);
    expect(grants).toHaveLength(18);
    grants.sort((x, y) => x.enter - y.enter);
    for (let i = 1; i < grants.length; i++) {
      expect(grants[i].enter).toBeGreaterThanOrEqual(grants[i - 1].exit);
      expect(grants[i].token).toBeGreaterThan(grants[i - 1].token);
    }
    expect(new Set(grants.map((g) => g.who.slice(0, 2)))).toEqual(new Set(["ws", "ht"]));
    expect(await children(a, LOCK)).toEqual([]);
  });
});

describe("HTTP semaphores", () => {
  const SEM = "/semaphores/pool";

  it("N permits: N hold at once, the next waits for a release; granted nodes are touched", async () => {
    const a = api(freshNamespace("sm"));
    const g1 = await a.acquire("semaphores", { path: SEM, permits: 2 });
    const g2 = await a.acquire("semaphores", { path: SEM, permits: 2 });
    expect([g1.status, g2.status]).toEqual([200, 200]);
    expect(g1.body.node).toBe(`${SEM}/lease-0000000000`);
    // The touch rule: a granted contender's node is at version 1 (permits > 1).
    expect(JSON.parse((await a.call("HEAD", `/nodes${g1.body.node}`)).headers.get("Edgekeeper-Stat")!).version).toBe(1);
    const third = track(a.acquire("semaphores", { path: SEM, permits: 2, wait: 10_000 }));
    await until(async () => (await children(a, SEM)).length === 3);
    await sleep(100);
    expect(third.done).toBe(false);
    // Release the second (not the lowest): the waiter enters.
    await a.release("semaphores", { path: SEM, token: g2.body.token }, g2.body.lease);
    const g3 = await third.p;
    expect(g3.status).toBe(200);
    expect(g3.body.token).toBeGreaterThan(g2.body.token);
    expect((await a.refresh("semaphores", { path: SEM, token: g3.body.token }, g3.body.lease)).status).toBe(200);
    expect((await a.acquire("semaphores", { path: SEM, permits: 2, wait: 0 })).status).toBe(423);
    expect((await a.acquire("semaphores", { path: SEM })).status).toBe(400); // permits is required
    expect((await a.acquire("semaphores", { path: SEM, permits: 0 })).status).toBe(400);
  });

  it("HTTP callers and WebSocket Semaphore clients share the permits: never more than N hold", { timeout: 40_000 }, async () => {
    const ns = freshNamespace("sm");
    const a = api(ns);
    const zks = await Promise.all([ws(ns), ws(ns), ws(ns)]);
    const N = 2;
    let holding = 0;
    let max = 0;
    const work = async () => {
      holding++;
      max = Math.max(max, holding);
      expect(holding).toBeLessThanOrEqual(N);
      await sleep(5 + Math.random() * 15);
      holding--;
    };
    await Promise.all([
      ...zks.map(async (zk) => {
        const sem = new Semaphore(zk, SEM, N);
        for (let r = 0; r < 3; r++) {
          const lease = await sem.acquire();
          await work();
          await lease.release();
        }
      }),
      ...[0, 1, 2].map(async () => {
        for (let r = 0; r < 3; r++) {
          const g = await a.acquire("semaphores", { path: SEM, permits: N, wait: 30_000 });
          expect(g.status).toBe(200);
          await work();
          await a.release("semaphores", { path: SEM, token: g.body.token }, g.body.lease);
        }
      }),
    ]);
    expect(max).toBe(N);
    expect(await children(a, SEM)).toEqual([]);
  });
});

describe("HTTP elections", () => {
  const EL = "/elections/primary";

  it("campaign is held until elected; the leader proclaims; resign elects the next", async () => {
    const a = api(freshNamespace("el"));
    const c1 = await a.post("/elections/campaign", { path: EL, value: "worker-1" });
    expect(c1.status).toBe(200);
    expect(c1.body.node).toBe(`${EL}/candidate-0000000000`);
    const leader = await a.get(`/elections/leader?path=${EL}`);
    expect(leader.body.leader).toMatchObject({ node: c1.body.node, value: "worker-1", token: c1.body.token, leaseId: c1.body.leaseId });

    const c2 = track(a.post("/elections/campaign", { path: EL, value: "worker-2", wait: 10_000 }));
    await until(async () => (await children(a, EL)).length === 2);
    await sleep(50);
    expect(c2.done).toBe(false);

    const p = await a.post("/elections/proclaim", { path: EL, token: c1.body.token, value: "worker-1 v2" }, { headers: { "Edgekeeper-Lease": c1.body.lease } });
    expect(p.status).toBe(200);
    expect((await a.get(`/elections/leader?path=${EL}`)).body.leader.value).toBe("worker-1 v2");

    const r = await a.post("/elections/resign", { path: EL, token: c1.body.token }, { headers: { "Edgekeeper-Lease": c1.body.lease } });
    expect(r.status).toBe(200);
    const e2 = await c2.p;
    expect(e2.status).toBe(200);
    expect(e2.body.token).toBeGreaterThan(c1.body.token);
    expect((await a.get(`/elections/leader?path=${EL}`)).body.leader.value).toBe("worker-2");
  });

  it("only the leader may proclaim (403 NOAUTH); no candidate is 404", async () => {
    const a = api(freshNamespace("el"));
    expect((await a.get(`/elections/leader?path=${EL}`)).status).toBe(404);
    await a.post("/elections/campaign", { name: "primary", value: "w1" });
    const l2 = await a.lease();
    const c2 = track(a.post("/elections/campaign", { path: EL, value: "w2", wait: 10_000 }, { headers: { "Edgekeeper-Lease": l2.lease } }));
    await until(async () => (await children(a, EL)).length === 2);
    const token2 = (await a.read(`${EL}/candidate-0000000001`, { headers: { Accept: "application/json" } })).body.stat.czxid;
    const p = await a.post("/elections/proclaim", { path: EL, token: token2, value: "me!" }, { headers: { "Edgekeeper-Lease": l2.lease } });
    expect(p.status).toBe(403);
    expect(p.body.code).toBe("NOAUTH");
    expect((await a.get(`/elections/leader?name=primary`)).body.leader.value).toBe("w1");
    expect((await a.get(`/elections/leader`)).status).toBe(400);
    expect(c2.done).toBe(false);
    const empty = await a.get(`/elections/leader?path=/elections/none`);
    expect(empty.status).toBe(404);
  });

  it("HTTP candidates and a WebSocket LeaderLatch take part in one election", { timeout: 15_000 }, async () => {
    const ns = freshNamespace("el");
    const a = api(ns);
    const zk = await ws(ns);
    const c1 = await a.post("/elections/campaign", { path: EL, value: "http-1" });
    const latch = new LeaderLatch(zk, EL, { id: "ws-1" });
    await latch.start();
    await sleep(100);
    expect(latch.hasLeadership()).toBe(false);
    expect((await latch.getLeader())?.id).toBe("http-1");
    const c3 = track(a.post("/elections/campaign", { path: EL, value: "http-3", wait: 10_000 }));
    await until(async () => (await children(a, EL)).length === 3);
    await a.post("/elections/resign", { path: EL, token: c1.body.token }, { headers: { "Edgekeeper-Lease": c1.body.lease } });
    expect(await latch.awaitLeadership({ timeout: 5000 })).toBe(true);
    expect((await a.get(`/elections/leader?path=${EL}`)).body.leader.value).toBe("ws-1");
    expect(c3.done).toBe(false);
    await latch.close();
    const e3 = await c3.p;
    expect(e3.status).toBe(200);
    expect(e3.body.token).toBeGreaterThan(latch.token ?? 0);
  });
});
