import { describe, expect, it } from "vitest";
import { runInDurableObject } from "cloudflare:test";
import type { NamespaceObject } from "../../src/objects/namespace-object.js";
import { connect, NodeCache, TreeCache, utf8, type ChildData, type EdgeKeeper, type Stat } from "../../src/client/index.js";
import { freshNamespace, sleep, stubFor } from "../helpers/raw-client.js";
import { WorkerSocket, workerSocket } from "../helpers/worker-socket.js";

const URL = "http://edgekeeper.test";
const open = (namespace: string) => connect(URL, { namespace, WebSocket: workerSocket, sessionTimeout: 5000 });

/** Compacts the namespace's change log up to `zxid`, so a later resume cannot be replayed. */
const compactLog = (ns: string, zxid: number) => runInDurableObject(stubFor(ns), (o: NamespaceObject) => o.ns.compactLog(zxid)) as Promise<number>;

/**
 * A client whose sockets the test controls: `cut()` kills the current ones (the client
 * reconnects and resumes), `pause()` makes reconnects fail until `resume()`.
 */
async function controlled(namespace: string) {
  const sockets = new Set<WorkerSocket>();
  let paused = false;
  const zk = await connect(URL, {
    namespace,
    sessionTimeout: 10_000,
    backoff: { baseMs: 5, maxMs: 40 },
    WebSocket: (url) => {
      if (paused) throw new Error("network down (test)");
      const s = new WorkerSocket(url);
      sockets.add(s);
      return s;
    },
  });
  return {
    zk,
    cut: () => {
      for (const s of sockets) s.cut();
      sockets.clear();
    },
    pause: () => (paused = true),
    resume: () => (paused = false),
  };
}

/** The whole subtree as a fresh walk sees it (no writes may run meanwhile). */
async function readTree(zk: EdgeKeeper, root: string): Promise<Map<string, { data: string; stat: Stat }>> {
  const out = new Map<string, { data: string; stat: Stat }>();
  const walk = async (path: string): Promise<void> => {
    try {
      const { data, stat } = await zk.getData(path);
      out.set(path, { data: utf8(data), stat });
      const kids = await zk.getChildren(path);
      await Promise.all(kids.map((k) => walk(path === "/" ? `/${k}` : `${path}/${k}`)));
    } catch (e) {
      if ((e as { codeName?: string }).codeName !== "NONODE") throw e;
    }
  };
  await walk(root);
  return out;
}

type Row = { data: string; version: number; czxid: number; mzxid: number; stat?: Stat };
const row = (data: Uint8Array | string, stat: Stat, full: boolean): Row => ({
  data: typeof data === "string" ? data : utf8(data),
  version: stat.version,
  czxid: stat.czxid,
  mzxid: stat.mzxid,
  ...(full ? { stat } : {}),
});
const fromCache = (m: Map<string, ChildData>, full: boolean) => Object.fromEntries([...m].sort().map(([p, n]) => [p, row(n.data, n.stat, full)]));
const fromServer = (m: Map<string, { data: string; stat: Stat }>, full: boolean) =>
  Object.fromEntries([...m].sort().map(([p, n]) => [p, row(n.data, n.stat, full)]));

/** Waits (bounded) until the cache equals the server's tree; returns both for the final assertion. */
async function converged(cache: TreeCache, reader: EdgeKeeper, root: string, full: boolean) {
  let expected: Record<string, Row> = {};
  let actual: Record<string, Row> = {};
  for (let i = 0; i < 100; i++) {
    expected = fromServer(await readTree(reader, root), full);
    actual = fromCache(cache.getCurrentTree(), full);
    if (JSON.stringify(actual) === JSON.stringify(expected)) break;
    await sleep(30);
  }
  return { actual, expected };
}

/** Applies a cache's listener events to a map: it must end up equal to the cache itself. */
function eventMirror(cache: TreeCache) {
  const m = new Map<string, ChildData>();
  cache.listen((e) => {
    if (e.type === "removed") {
      expect(m.has(e.path)).toBe(true);
      m.delete(e.path);
    } else {
      expect(m.has(e.path)).toBe(e.type === "updated");
      m.set(e.path, e.node);
    }
  });
  return m;
}

/** mulberry32: a small seeded PRNG so a failing run can be replayed from its seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Paths the random writers play with: three levels below the root. */
function universe(root: string): string[] {
  const out: string[] = [root];
  for (const a of ["a", "b", "c"]) {
    out.push(`${root}/${a}`);
    for (const b of ["x", "y"]) {
      out.push(`${root}/${a}/${b}`);
      for (const c of ["1", "2"]) out.push(`${root}/${a}/${b}/${c}`);
    }
  }
  return out;
}

/** One writer: `ops` random creates / setData / deletes / delete-and-recreate multis / ephemerals. */
async function randomWriter(zk: EdgeKeeper, paths: string[], rnd: () => number, ops: number, tag: string) {
  const pick = () => paths[Math.floor(rnd() * paths.length)];
  for (let i = 0; i < ops; i++) {
    const p = pick();
    const r = rnd();
    const data = `${tag}-${i}`;
    try {
      if (r < 0.35) await zk.create(p, data);
      else if (r < 0.4) await zk.create(p, data, { mode: "ephemeral" });
      else if (r < 0.7) await zk.setData(p, data);
      else if (r < 0.9) await zk.delete(p);
      else await zk.transaction().delete(p).create(p, `${data}-again`).commit();
    } catch (e) {
      const code = (e as { codeName?: string }).codeName;
      // CONNECTIONLOSS: the cache's own client writes too, and its socket is being cut.
      if (!["NONODE", "NODEEXISTS", "NOTEMPTY", "NOCHILDRENFOREPHEMERALS", "CONNECTIONLOSS"].includes(code ?? "")) throw e;
    }
    if (rnd() < 0.2) await sleep(rnd() * 4);
  }
}

describe("TreeCache", () => {
  it("loads an existing subtree, then follows creates, updates and deletes", async () => {
    const ns = freshNamespace("tc");
    const w = await open(ns);
    const c = await open(ns);
    await w.create("/app");
    await w.create("/app/cfg", "v1");
    await w.create("/app/cfg/db", "postgres");
    await w.create("/other", "outside");
    const cache = new TreeCache(c, "/app");
    const events: string[] = [];
    cache.listen((e) => events.push(`${e.type} ${e.path}`));
    await cache.start();
    expect(events.sort()).toEqual(["added /app", "added /app/cfg", "added /app/cfg/db"]);
    expect(utf8(cache.getCurrentData("/app/cfg/db")!.data)).toBe("postgres");
    expect(cache.getChildren("/app")).toEqual(["cfg"]);
    expect(cache.getChildren("/nope")).toBeUndefined();
    expect(cache.getCurrentData("/other")).toBeUndefined();

    events.length = 0;
    await w.setData("/app/cfg", "v2");
    await w.create("/app/cfg/cache", "redis");
    await w.delete("/app/cfg/db");
    await c.sync();
    const expected = ["updated /app/cfg", "added /app/cfg/cache", "removed /app/cfg/db"];
    for (let i = 0; i < 50 && events.length < expected.length; i++) await sleep(10);
    expect(events).toEqual(expected);
    expect(utf8(cache.getCurrentData("/app/cfg")!.data)).toBe("v2");
    expect(cache.getCurrentData("/app/cfg")!.stat.version).toBe(1);
    expect(cache.getChildren("/app/cfg")).toEqual(["cache"]);

    await cache.close();
    await w.setData("/app/cfg", "v3");
    await c.sync();
    await sleep(30);
    expect(utf8(cache.getCurrentData("/app/cfg")!.data)).toBe("v2"); // closed: no longer follows
    await Promise.all([w.close(), c.close()]);
  });

  it("works for a root that does not exist yet, and for the root being deleted and re-created", async () => {
    const ns = freshNamespace("tc");
    const w = await open(ns);
    const c = await open(ns);
    const cache = new TreeCache(c, "/later");
    await cache.start();
    expect(cache.size).toBe(0);
    await w.create("/later", "1");
    await w.create("/later/k", "2");
    await w.delete("/later/k");
    await w.delete("/later");
    await w.create("/later", "3");
    const { actual, expected } = await converged(cache, w, "/later", true);
    expect(actual).toEqual(expected);
    expect(Object.keys(actual)).toEqual(["/later"]);
    await Promise.all([w.close(), c.close()]);
  });

  it("misses no change made while the initial walk runs (the watch comes first)", async () => {
    const ns = freshNamespace("tc");
    const w = await open(ns);
    const c = await open(ns);
    const names: string[] = [];
    await w.create("/big");
    for (let i = 0; i < 12; i++) {
      await w.create(`/big/n${i}`, "0");
      names.push(`/big/n${i}`);
      for (let j = 0; j < 8; j++) {
        await w.create(`/big/n${i}/m${j}`, "0");
        names.push(`/big/n${i}/m${j}`);
      }
    }
    const rnd = prng(11);
    const cache = new TreeCache(c, "/big");
    let loading = true;
    let writes = 0;
    // Eight write loops until the walk is over, then stop: the last change of many nodes
    // falls inside the walk, and nothing later would repair a miss.
    const writer = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (loading) {
          const p = names[Math.floor(rnd() * names.length)];
          await w.setData(p, `v${++writes}`);
        }
      }),
    );
    await cache.start();
    loading = false;
    await writer;
    expect(writes).toBeGreaterThan(20);
    const { actual, expected } = await converged(cache, w, "/big", false);
    expect(actual).toEqual(expected);
    await Promise.all([w.close(), c.close()]);
  });

  it("drops a reply that a newer event in the same frame made stale", async () => {
    // The client runs watch callbacks synchronously and reply continuations later, so when
    // one frame carries [reply to getData(p), NodeDeleted p] the cache sees the delete first.
    // A watcher registered after the cache's deletes p in the same tick as the cache's
    // getData, which puts both in one frame.
    const ns = freshNamespace("tc");
    const c = await open(ns);
    await c.create("/r");
    await c.create("/r/p", "1");
    const cache = new TreeCache(c, "/r");
    await cache.start();
    let armed = true;
    await c.addWatch(
      "/r",
      (e) => {
        if (armed && e.type === "NodeDataChanged" && e.path === "/r/p") {
          armed = false;
          void c.delete("/r/p");
        }
      },
      { recursive: true },
    );
    await c.setData("/r/p", "2");
    await c.sync();
    await sleep(30);
    expect(armed).toBe(false);
    expect(await c.exists("/r/p")).toBeNull();
    expect(cache.getCurrentData("/r/p")).toBeUndefined();
    expect(cache.getChildren("/r")).toEqual([]);
    await c.close();
  });

  for (const seed of [1, 2, 3]) {
    it(`mirrors a subtree EXACTLY after random concurrent writes and forced reconnects (seed ${seed})`, async () => {
      const rnd = prng(seed);
      const ns = freshNamespace("tcr");
      const root = "/tree";
      const paths = universe(root);
      const writers = await Promise.all([open(ns), open(ns), open(ns)]);
      const c = await controlled(ns);
      // Some tree before the caches start, so the initial walk has work to do.
      await writers[0].create(root, "root");
      for (const p of paths.slice(1, 8)) await writers[0].create(p, "pre").catch(() => {});

      const plain = new TreeCache(c.zk, root);
      const exact = new TreeCache(c.zk, root, { trackChildStats: true });
      const plainEvents = eventMirror(plain);
      const exactEvents = eventMirror(exact);
      let cuts = 0;
      let writing = true;
      const cutter = (async () => {
        while (writing) {
          await sleep(10 + rnd() * 30);
          if (!writing) break;
          c.cut();
          cuts++;
        }
      })();
      // The caches start while the writers are already writing and the socket is being cut.
      // The cache's own client writes too: its replies and the events its writes cause then
      // share frames, which is where a reply can be handled after a newer event.
      const work = [...writers, c.zk].map((zk, i) => randomWriter(zk, paths, prng(seed * 100 + i), 150, `w${i}`));
      await Promise.all([plain.start(), exact.start()]);
      await Promise.all(work);
      // One writer leaves: its ephemerals go with its session, in one transaction.
      await writers[2].close();
      writing = false;
      await cutter;
      expect(cuts).toBeGreaterThan(3);

      const reader = writers[0];
      const p = await converged(plain, reader, root, false);
      expect(p.actual).toEqual(p.expected);
      const x = await converged(exact, reader, root, true);
      expect(x.actual).toEqual(x.expected);
      expect(Object.keys(x.expected).length).toBeGreaterThan(1);
      // Listener events tell the same story as the cache (as to data: a change of the child
      // fields of a Stat alone is not an event).
      expect(fromCache(plainEvents, false)).toEqual(p.actual);
      expect(fromCache(exactEvents, false)).toEqual(fromCache(exact.getCurrentTree(), false));
      // getChildren agrees with the server for every cached path.
      for (const path of Object.keys(x.expected)) expect(exact.getChildren(path)).toEqual((await reader.getChildren(path)).sort());

      await Promise.all([plain.close(), exact.close()]);
      await Promise.all([writers[0].close(), writers[1].close(), c.zk.close()]);
    });
  }

  it("rebuilds on resync (change log compacted while disconnected) and converges exactly", async () => {
    const ns = freshNamespace("tcs");
    const root = "/svc";
    const w = await open(ns);
    const c = await controlled(ns);
    await w.create(root);
    for (const n of ["a", "b", "c", "d"]) await w.create(`${root}/${n}`, n);
    await w.create(`${root}/a/deep`, "deep");
    const cache = new TreeCache(c.zk, root, { trackChildStats: true });
    const mirror = eventMirror(cache);
    let resyncs = 0;
    c.zk.onResync(() => resyncs++);
    await cache.start();
    expect(cache.size).toBe(6);

    c.pause();
    c.cut();
    // While the cache's client is away: deletes (one recreated with the same name), updates, creates.
    await w.delete(`${root}/a/deep`);
    await w.delete(`${root}/a`);
    await w.delete(`${root}/b`);
    await w.create(`${root}/b`, "b again");
    await w.setData(`${root}/c`, "c2");
    await w.create(`${root}/e`, "e");
    await w.create(`${root}/e/f`, "f");
    const top = (await w.exists(root))!.pzxid;
    await compactLog(ns, top + 100);
    c.resume();
    await c.zk.waitConnected();

    const { actual, expected } = await converged(cache, w, root, true);
    expect(resyncs).toBe(1);
    expect(actual).toEqual(expected);
    expect(Object.keys(actual).sort()).toEqual([root, `${root}/b`, `${root}/c`, `${root}/d`, `${root}/e`, `${root}/e/f`]);
    expect(fromCache(mirror, false)).toEqual(fromCache(cache.getCurrentTree(), false));

    // And it keeps following afterwards.
    await w.setData(`${root}/d`, "d2");
    const after = await converged(cache, w, root, true);
    expect(after.actual).toEqual(after.expected);
    await Promise.all([w.close(), c.zk.close()]);
  });
});

describe("NodeCache", () => {
  it("follows the node through create, set, delete and re-create", async () => {
    const ns = freshNamespace("nc");
    const w = await open(ns);
    const c = await open(ns);
    const cache = new NodeCache(c, "/cfg");
    const seen: Array<string | null> = [];
    cache.onChange((n) => seen.push(n ? utf8(n.data) : null));
    await cache.start();
    expect(cache.getCurrentData()).toBeUndefined();
    await w.create("/cfg", "one");
    await w.setData("/cfg", "two");
    await w.create("/cfg/child", "not data"); // only children change: no notification
    await w.delete("/cfg/child");
    await w.delete("/cfg");
    await w.create("/cfg", "three");
    await c.sync();
    for (let i = 0; i < 50 && cache.getCurrentData()?.stat.czxid !== (await w.exists("/cfg"))!.czxid; i++) await sleep(10);
    const current = cache.getCurrentData()!;
    expect(utf8(current.data)).toBe("three");
    expect(current.stat).toEqual((await w.getData("/cfg")).stat);
    // Every notification was a real state, in order, ending with the current one (intermediate
    // ones may be skipped when a reply already reflects a later change).
    expect(seen.at(-1)).toBe("three");
    const order = ["one", "two", null, "three"];
    expect(seen.map((s) => order.indexOf(s))).toEqual([...seen.map((s) => order.indexOf(s))].sort());
    expect(seen).toContain(null);
    await cache.close();
    await Promise.all([w.close(), c.close()]);
  });

  it("drops a reply that a newer event in the same frame made stale", async () => {
    const ns = freshNamespace("nc");
    const c = await open(ns);
    await c.create("/p", "1");
    const cache = new NodeCache(c, "/p");
    await cache.start();
    let armed = true;
    // Registered after the cache's watcher, so it runs after the cache queued its getData:
    // the delete leaves in the same frame, and its event overtakes the getData's continuation.
    await c.addWatch("/p", (e) => {
      if (armed && e.type === "NodeDataChanged") {
        armed = false;
        void c.delete("/p");
      }
    });
    await c.setData("/p", "2");
    await c.sync();
    await sleep(30);
    expect(armed).toBe(false);
    expect(cache.getCurrentData()).toBeUndefined();
    await c.close();
  });

  it("stays exact across forced reconnects and a resync", async () => {
    const ns = freshNamespace("nc");
    const w = await open(ns);
    const c = await controlled(ns);
    const cache = new NodeCache(c.zk, "/n", { trackChildStats: true });
    await cache.start();
    const check = async () => {
      for (let i = 0; i < 100; i++) {
        const stat = await w.exists("/n");
        const cur = cache.getCurrentData();
        if (JSON.stringify(stat ? (await w.getData("/n")).stat : undefined) === JSON.stringify(cur?.stat)) break;
        await sleep(20);
      }
      const s = await w.exists("/n");
      if (!s) expect(cache.getCurrentData()).toBeUndefined();
      else {
        const { data, stat } = await w.getData("/n");
        expect(cache.getCurrentData()!.stat).toEqual(stat);
        expect(utf8(cache.getCurrentData()!.data)).toBe(utf8(data));
      }
    };
    const rnd = prng(7);
    for (let i = 0; i < 60; i++) {
      const r = rnd();
      try {
        if (r < 0.3) await w.create("/n", `c${i}`);
        else if (r < 0.6) await w.setData("/n", `s${i}`);
        else if (r < 0.75) await w.create(`/n/k${i}`);
        else await w.delete("/n");
      } catch {
        // NoNode / NodeExists / NotEmpty: part of the game
      }
      if (rnd() < 0.15) c.cut();
    }
    await check();
    // Resync: changes while away and the log compacted.
    c.pause();
    c.cut();
    await w.create("/n", "x").catch(() => {});
    await w.setData("/n", "while away");
    const z = (await w.exists("/n"))!.mzxid;
    await compactLog(ns, z + 10);
    c.resume();
    await c.zk.waitConnected();
    await check();
    expect(utf8(cache.getCurrentData()!.data)).toBe("while away");
    await Promise.all([w.close(), c.zk.close()]);
  });
});
