import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseStatsTrack } from "../../src/core/quota.js";
import type { NamespaceObject } from "../../src/objects/namespace-object.js";
import { api } from "../helpers/http.js";
import { RawClient, b64, freshNamespace, ok, sleep, stubFor, unb64, type Msg } from "../helpers/raw-client.js";

/**
 * Subtree quotas (docs/limits.md), kept where ZooKeeper 3.8 keeps them: the limits in
 * /zookeeper/quota<path>/zookeeper_limits, the usage in .../zookeeper_stats, in ZooKeeper's
 * StatsTrack text. Hard limits refuse with QUOTAEXCEEDED and change nothing; soft limits only
 * warn; the stats stay exact whatever removes nodes.
 */

const opened: RawClient[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.close();
});

async function client(ns = freshNamespace("quota")): Promise<RawClient> {
  const c = await RawClient.connect(ns);
  opened.push(c);
  return c;
}

function refused(r: Msg, ...mentions: string[]): void {
  expect({ err: r.err, code: r.code }, JSON.stringify(r).slice(0, 500)).toEqual({ err: -125, code: "QUOTAEXCEEDED" });
  for (const m of mentions) expect(r.message).toContain(m);
}

/**
 * What zkCli's `setquota` does (SetQuotaCommand.createQuota): create the quota path's nodes
 * under /zookeeper/quota, then zookeeper_limits with the limits, then zookeeper_stats with
 * count=0,bytes=0 (which the server recounts).
 */
async function setQuota(c: RawClient, path: string, limits: string): Promise<void> {
  let q = "/zookeeper/quota";
  for (const part of path.split("/").slice(1)) {
    q += "/" + part;
    const r = await c.request("create", { path: q });
    if (r.err !== 0 && r.err !== -110) throw new Error(JSON.stringify(r));
  }
  ok(await c.request("create", { path: `${q}/zookeeper_limits`, data: b64(limits) }));
  ok(await c.request("create", { path: `${q}/zookeeper_stats`, data: b64("count=0,bytes=0") }));
}

/** The usage the stats node shows (what `listquota` prints as "Output stat"). */
async function stats(c: RawClient, path: string): Promise<{ count: number; bytes: number }> {
  const r = ok(await c.request("getData", { path: `/zookeeper/quota${path}/zookeeper_stats` }));
  const text = unb64(r.data);
  expect(text).toMatch(/^count=-?\d+,bytes=-?\d+$/);
  const t = parseStatsTrack(text);
  return { count: t.count, bytes: t.bytes };
}

/** The real usage of a subtree, counted from the tree itself. */
async function counted(c: RawClient, path: string): Promise<{ count: number; bytes: number }> {
  const g = await c.request("getData", { path });
  if (g.err === -101) return { count: 0, bytes: 0 };
  let count = 1;
  let bytes = g.stat.dataLength;
  for (const name of ok(await c.request("getChildren", { path })).children) {
    const sub = await counted(c, `${path}/${name}`);
    count += sub.count;
    bytes += sub.bytes;
  }
  return { count, bytes };
}

async function exact(c: RawClient, path: string): Promise<{ count: number; bytes: number }> {
  const s = await stats(c, path);
  expect(s).toEqual(await counted(c, path));
  return s;
}

// ------------------------------------------------------------------------------------------

describe("quota nodes in ZooKeeper's layout", () => {
  it("creating the stats node counts the existing subtree (the root itself included)", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/app", data: b64("12345") }));
    ok(await c.request("create", { path: "/app/a", data: b64("xy") }));
    ok(await c.request("create", { path: "/app/a/b" }));
    ok(await c.request("create", { path: "/other", data: b64("not counted") }));
    await setQuota(c, "/app", "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=10");
    expect(await stats(c, "/app")).toEqual({ count: 3, bytes: 7 });
    // The limits node keeps exactly what zkCli wrote.
    const limits = ok(await c.request("getData", { path: "/zookeeper/quota/app/zookeeper_limits" }));
    expect(unb64(limits.data)).toBe("count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=10");
    expect(ok(await c.request("getChildren", { path: "/zookeeper/quota/app" })).children).toEqual(["zookeeper_limits", "zookeeper_stats"]);
  });

  it("parses StatsTrack text as ZooKeeper writes it, old and new", () => {
    expect(parseStatsTrack("count=4,bytes=5=;byteHardLimit=10;countHardLimit=3")).toEqual({ count: 4, bytes: 5, countHardLimit: 3, byteHardLimit: 10 });
    expect(parseStatsTrack("count=-1,bytes=100")).toEqual({ count: -1, bytes: 100, countHardLimit: -1, byteHardLimit: -1 });
    expect(parseStatsTrack("count=,bytes=7;future=1")).toEqual({ count: -1, bytes: 7, countHardLimit: -1, byteHardLimit: -1 });
  });

  it("a limits node that is not StatsTrack text is BADARGUMENTS and creates nothing", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/zookeeper/quota/app" }));
    for (const bad of ["count=ten", "count=-5", "countHardLimit=1.5", "=3"]) {
      const r = await c.request("create", { path: "/zookeeper/quota/app/zookeeper_limits", data: b64(bad) });
      expect({ err: r.err, code: r.code }).toEqual({ err: -8, code: "BADARGUMENTS" });
    }
    expect(ok(await c.request("getChildren", { path: "/zookeeper/quota/app" })).children).toEqual([]);
    ok(await c.request("create", { path: "/zookeeper/quota/app/zookeeper_limits", data: b64("count=1") }));
    const r = await c.request("setData", { path: "/zookeeper/quota/app/zookeeper_limits", data: b64("bytes=lots") });
    expect(r.err).toBe(-8);
    expect(unb64(ok(await c.request("getData", { path: "/zookeeper/quota/app/zookeeper_limits" })).data)).toBe("count=1");
  });
});

describe("hard limits", () => {
  it("countHardLimit: creates up to the limit go through, the next is QUOTAEXCEEDED and changes nothing", async () => {
    const c = await client();
    const other = await client(c.namespace);
    ok(await c.request("create", { path: "/app" }));
    await setQuota(c, "/app", "count=-1,bytes=-1=;countHardLimit=3");
    ok(await c.request("create", { path: "/app/a" }));
    ok(await c.request("create", { path: "/app/b", mode: "ephemeral" }));
    expect(await exact(c, "/app")).toEqual({ count: 3, bytes: 0 });
    const zxid = await c.currentZxid();
    const parent = ok(await c.request("exists", { path: "/app" })).stat;
    refused(await c.request("create", { path: "/app/c" }), "/app", "node count would be 4", "countHardLimit=3");
    refused(await c.request("create", { path: "/app/a/deep", mode: "persistent_sequential" }), "/app");
    expect(await c.currentZxid()).toBe(zxid);
    expect(ok(await c.request("exists", { path: "/app" })).stat).toEqual(parent);
    expect(await exact(c, "/app")).toEqual({ count: 3, bytes: 0 });
    // Outside the subtree, and for the other client, nothing is in the way.
    ok(await other.request("create", { path: "/free" }));
    ok(await other.request("setData", { path: "/app/a", data: b64("data is not count") }));
    // A delete makes room.
    ok(await c.request("delete", { path: "/app/a" }));
    ok(await c.request("create", { path: "/app/c" }));
  });

  it("byteHardLimit: a create or setData past it is QUOTAEXCEEDED; shrinking always works", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/app", data: b64("1234") }));
    await setQuota(c, "/app", "count=-1,bytes=-1=;byteHardLimit=10");
    ok(await c.request("create", { path: "/app/a", data: b64("12345") })); // 9
    refused(await c.request("create", { path: "/app/b", data: b64("12") }), "data bytes would be 11", "byteHardLimit=10");
    ok(await c.request("create", { path: "/app/b", data: b64("1") })); // 10: at the limit
    ok(await c.request("create", { path: "/app/c" })); // no bytes: not refused
    refused(await c.request("setData", { path: "/app", data: b64("12345") }), "byteHardLimit=10");
    expect(unb64(ok(await c.request("getData", { path: "/app" })).data)).toBe("1234");
    expect(await exact(c, "/app")).toEqual({ count: 4, bytes: 10 });
    // Lowering the limit below the usage: growing is refused, shrinking is not.
    ok(await c.request("setData", { path: "/zookeeper/quota/app/zookeeper_limits", data: b64("count=-1,bytes=-1=;byteHardLimit=5") }));
    refused(await c.request("setData", { path: "/app/c", data: b64("x") }));
    ok(await c.request("setData", { path: "/app", data: b64("12") }));
    ok(await c.request("setData", { path: "/app/a", data: b64("") }));
    expect(await exact(c, "/app")).toEqual({ count: 4, bytes: 3 });
  });

  it("a multi that would pass a hard limit fails whole: the failing op's code, nothing applied, stats unchanged", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/app" }));
    await setQuota(c, "/app", "count=-1,bytes=-1=;byteHardLimit=6;countHardLimit=3");
    const zxid = await c.currentZxid();
    // Earlier ops of the multi count: the third create is the fourth node.
    const m = await c.request("multi", {
      ops: [
        { op: "create", path: "/app/a" },
        { op: "create", path: "/app/b" },
        { op: "create", path: "/app/c" },
      ],
    });
    expect({ err: m.err, code: m.code }).toEqual({ err: -125, code: "QUOTAEXCEEDED" });
    expect(m.results.map((r: Msg) => r.err)).toEqual([0, 0, -125]);
    const m2 = await c.request("multi", {
      ops: [
        { op: "setData", path: "/app", data: b64("1234") },
        { op: "create", path: "/app/a", data: b64("567") },
        { op: "create", path: "/outside" },
      ],
    });
    expect(m2.results.map((r: Msg) => r.err)).toEqual([0, -125, -2]);
    expect(await c.currentZxid()).toBe(zxid);
    expect(await exact(c, "/app")).toEqual({ count: 1, bytes: 0 });
    expect(ok(await c.request("exists", { path: "/outside" })).stat).toBeNull();
    // A multi that fits commits, and the stats follow it.
    const fits = await c.request("multi", {
      ops: [
        { op: "create", path: "/app/a", data: b64("12") },
        { op: "create", path: "/app/b", data: b64("34") },
        { op: "delete", path: "/app/b" },
        { op: "create", path: "/app/c", data: b64("5678") },
      ],
    });
    ok(fits);
    expect(await exact(c, "/app")).toEqual({ count: 3, bytes: 6 });
  });

  it("over HTTP: 429 QUOTAEXCEEDED, and quotas can be set over HTTP too", async () => {
    const h = api(freshNamespace("quota"));
    expect((await h.create("/app", "")).status).toBe(201);
    expect((await h.create("/zookeeper/quota/app", "")).status).toBe(201);
    expect((await h.create("/zookeeper/quota/app/zookeeper_limits", "count=-1,bytes=-1=;countHardLimit=2", { contentType: "text/plain" })).status).toBe(201);
    expect((await h.create("/zookeeper/quota/app/zookeeper_stats", "count=0,bytes=0", { contentType: "text/plain" })).status).toBe(201);
    expect(new TextDecoder().decode((await h.read("/zookeeper/quota/app/zookeeper_stats")).bytes)).toBe("count=1,bytes=0");
    expect((await h.create("/app/one", "")).status).toBe(201);
    const r = await h.create("/app/two", "");
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ err: -125, code: "QUOTAEXCEEDED" });
    expect(r.body.message).toContain("countHardLimit=2");
    const m = await h.post("/multi", { ops: [{ op: "create", path: "/app/x" }] });
    expect(m.status).toBe(429);
    expect(m.body.results.map((x: Msg) => x.err)).toEqual([-125]);
  });
});

describe("soft limits", () => {
  it("only warn: creates and setData past them go through and are counted", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/app" }));
    await setQuota(c, "/app", "count=2,bytes=3");
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      for (const name of ["a", "b", "c"]) ok(await c.request("create", { path: `/app/${name}`, data: b64("12") }));
      // Logged, at most once a minute per quota and kind (ZooKeeper rate-limits its log too).
      const logged = warn.mock.calls.map((args) => String(args[0]));
      expect(logged.filter((m) => m.includes("quota exceeded at /app: node count"))).toEqual([
        "edgekeeper: quota exceeded at /app: node count would be 3, over its soft limit count=2 (/zookeeper/quota/app/zookeeper_limits); allowed (soft limit)",
      ]);
      expect(logged.filter((m) => m.includes("data bytes would be 4, over its soft limit bytes=3"))).toHaveLength(1);
    } finally {
      warn.mockRestore();
    }
    expect(await exact(c, "/app")).toEqual({ count: 4, bytes: 6 });
  });

  it("a hard limit of a kind takes the place of the soft one (ZooKeeperServer.checkQuota)", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/app" }));
    await setQuota(c, "/app", "count=1,bytes=-1=;countHardLimit=3");
    ok(await c.request("create", { path: "/app/a" }));
    ok(await c.request("create", { path: "/app/b" }));
    refused(await c.request("create", { path: "/app/c" }), "countHardLimit=3");
  });
});

describe("the stats stay exact", () => {
  it("across deletes, a session's ephemerals going with it, and data changes", async () => {
    const c = await client();
    const s = await client(c.namespace);
    ok(await c.request("create", { path: "/app", data: b64("abc") }));
    await setQuota(c, "/app", "count=-1,bytes=-1=;countHardLimit=100");
    for (let i = 0; i < 3; i++) ok(await s.request("create", { path: "/app/e-", data: b64("eph"), mode: "ephemeral_sequential" }));
    ok(await c.request("create", { path: "/app/p", data: b64("persistent") }));
    expect(await exact(c, "/app")).toEqual({ count: 5, bytes: 22 });
    ok(await s.request("close"));
    expect(await exact(c, "/app")).toEqual({ count: 2, bytes: 13 });
    ok(await c.request("setData", { path: "/app/p", data: b64("p") }));
    ok(await c.request("delete", { path: "/app/p" }));
    expect(await exact(c, "/app")).toEqual({ count: 1, bytes: 3 });
    ok(await c.request("delete", { path: "/app" }));
    expect(await stats(c, "/app")).toEqual({ count: 0, bytes: 0 });
    // The quota outlives its root, as in ZooKeeper: recreating it counts again.
    ok(await c.request("create", { path: "/app", data: b64("back") }));
    expect(await exact(c, "/app")).toEqual({ count: 1, bytes: 4 });
  });

  it("across TTL and container removal by the alarm", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/app" }));
    await setQuota(c, "/app", "count=-1,bytes=-1=;countHardLimit=100");
    ok(await c.request("create", { path: "/app/ttl", data: b64("t"), mode: "persistent_ttl", ttl: 300 }));
    ok(await c.request("create", { path: "/app/box", mode: "container" }));
    ok(await c.request("create", { path: "/app/box/item", data: b64("ii") }));
    expect(await exact(c, "/app")).toEqual({ count: 4, bytes: 3 });
    ok(await c.request("delete", { path: "/app/box/item" }));
    const deadline = Date.now() + 3000;
    while ((await counted(c, "/app")).count > 1) {
      if (Date.now() > deadline) throw new Error("TTL node and container were not removed");
      await sleep(20);
      await runDurableObjectAlarm(stubFor(c.namespace));
    }
    expect(await exact(c, "/app")).toEqual({ count: 1, bytes: 0 });
  });

  it("a client cannot write wrong stats: the stats node always holds the real usage", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/app", data: b64("xx") }));
    await setQuota(c, "/app", "count=-1,bytes=-1=;countHardLimit=2");
    const w = ok(await c.request("setData", { path: "/zookeeper/quota/app/zookeeper_stats", data: b64("count=0,bytes=0") }));
    expect(w.stat.dataLength).toBe("count=1,bytes=2".length);
    expect(await exact(c, "/app")).toEqual({ count: 1, bytes: 2 });
    ok(await c.request("create", { path: "/app/a" }));
    refused(await c.request("create", { path: "/app/b" }));
  });

  it("nested quotas are each charged and checked", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    ok(await c.request("create", { path: "/a/b" }));
    await setQuota(c, "/a", "count=-1,bytes=-1=;countHardLimit=4");
    await setQuota(c, "/a/b", "count=-1,bytes=-1=;countHardLimit=10");
    ok(await c.request("create", { path: "/a/b/1" }));
    ok(await c.request("create", { path: "/a/b/2" }));
    expect(await exact(c, "/a")).toEqual({ count: 4, bytes: 0 });
    expect(await exact(c, "/a/b")).toEqual({ count: 3, bytes: 0 });
    refused(await c.request("create", { path: "/a/b/3" }), "at /a:");
    expect(await exact(c, "/a/b")).toEqual({ count: 3, bytes: 0 });
  });
});

describe("setting and removing quotas", () => {
  it("without a stats node a quota is not in force; with it, it counts what is there", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/app" }));
    ok(await c.request("create", { path: "/zookeeper/quota/app" }));
    ok(await c.request("create", { path: "/zookeeper/quota/app/zookeeper_limits", data: b64("countHardLimit=2") }));
    ok(await c.request("create", { path: "/app/a" }));
    ok(await c.request("create", { path: "/app/b" }));
    ok(await c.request("create", { path: "/zookeeper/quota/app/zookeeper_stats", data: b64("count=0,bytes=0") }));
    expect(await exact(c, "/app")).toEqual({ count: 3, bytes: 0 });
    refused(await c.request("create", { path: "/app/c" }));
  });

  it("deleting the limits node lifts the quota; setting it again recounts the stats", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/app" }));
    await setQuota(c, "/app", "countHardLimit=1");
    refused(await c.request("create", { path: "/app/a" }));
    ok(await c.request("delete", { path: "/zookeeper/quota/app/zookeeper_limits" }));
    ok(await c.request("create", { path: "/app/a" }));
    ok(await c.request("create", { path: "/app/b" }));
    ok(await c.request("create", { path: "/zookeeper/quota/app/zookeeper_limits", data: b64("countHardLimit=3") }));
    expect(await exact(c, "/app")).toEqual({ count: 3, bytes: 0 });
    refused(await c.request("create", { path: "/app/c" }));
  });

  it("a quota set inside a multi governs the ops after it; a rolled-back one is gone", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/app" }));
    ok(await c.request("create", { path: "/zookeeper/quota/app" }));
    const failed = await c.request("multi", {
      ops: [
        { op: "create", path: "/zookeeper/quota/app/zookeeper_limits", data: b64("countHardLimit=1") },
        { op: "create", path: "/zookeeper/quota/app/zookeeper_stats", data: b64("") },
        { op: "create", path: "/app/a" },
      ],
    });
    expect(failed.results.map((r: Msg) => r.err)).toEqual([0, 0, -125]);
    // Rolled back: no quota, nothing in memory either.
    ok(await c.request("create", { path: "/app/a" }));
    ok(await c.request("create", { path: "/app/b" }));
    ok(await c.request("multi", {
      ops: [
        { op: "create", path: "/zookeeper/quota/app/zookeeper_limits", data: b64("countHardLimit=4") },
        { op: "create", path: "/zookeeper/quota/app/zookeeper_stats", data: b64("") },
        { op: "create", path: "/app/c" },
      ],
    }));
    expect(await exact(c, "/app")).toEqual({ count: 4, bytes: 0 });
    refused(await c.request("create", { path: "/app/d" }));
  });

  it("quotas on / and on /zookeeper are ignored, as ZooKeeper ignores one on /", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/zookeeper/quota/zookeeper_limits", data: b64("countHardLimit=1") }));
    ok(await c.request("create", { path: "/zookeeper/quota/zookeeper_stats" }));
    ok(await c.request("create", { path: "/x" }));
    ok(await c.request("create", { path: "/y" }));
    await setQuota(c, "/zookeeper", "countHardLimit=1");
    ok(await c.request("create", { path: "/zookeeper/mine" }));
  });

  it("quotas are read back from storage after the object is evicted", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/app" }));
    await setQuota(c, "/app", "count=-1,bytes=-1=;countHardLimit=2");
    c.close();
    await evictDurableObject(stubFor(c.namespace));
    const d = await client(c.namespace);
    ok(await d.request("create", { path: "/app/a" }));
    refused(await d.request("create", { path: "/app/b" }));
    const roots = await runInDurableObject(stubFor(c.namespace), (o: NamespaceObject) => o.ns.quotas.list());
    expect(roots).toEqual([{ root: "/app", limits: { count: -1, bytes: -1, countHardLimit: 2, byteHardLimit: -1 } }]);
  });
});
