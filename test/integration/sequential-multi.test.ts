import { describe, expect, it } from "vitest";
import { RawClient, b64, freshNamespace, ok, useClients, type Msg } from "../helpers/raw-client.js";

/**
 * Sequential numbering (ZooKeeper's `%010d` of the parent's child-create count), idempotent
 * creates with requestId, multi (one zxid, all or nothing, ZooKeeper's result vectors) and
 * multiRead (independent results).
 */

const client = useClients("seq");

async function seq(c: RawClient, path: string, mode: string | number = "persistent_sequential", extra: Msg = {}): Promise<string> {
  return ok(await c.request("create", { path, mode, ...extra })).path;
}

async function children(c: RawClient, path: string): Promise<string[]> {
  return ok(await c.request("getChildren", { path })).children;
}

async function exists(c: RawClient, path: string): Promise<boolean> {
  return ok(await c.request("exists", { path })).stat !== null;
}

/** Everything observable about a subtree: paths, data and stats, for before/after comparisons. */
async function snapshot(c: RawClient, root = "/"): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const walk = async (p: string) => {
    const g = ok(await c.request("getData", { path: p }));
    out[p] = { data: g.data, stat: g.stat };
    for (const n of await children(c, p)) await walk(p === "/" ? `/${n}` : `${p}/${n}`);
  };
  await walk(root);
  return out;
}

// ------------------------------------------------------------------------------------------

describe("sequential numbering", () => {
  it("numbers children %010d from 0", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    expect(await seq(c, "/p/n-")).toBe("/p/n-0000000000");
    expect(await seq(c, "/p/n-")).toBe("/p/n-0000000001");
    expect(await seq(c, "/p/n-")).toBe("/p/n-0000000002");
    expect(await children(c, "/p")).toEqual(["n-0000000000", "n-0000000001", "n-0000000002"]);
  });

  it("the counter is the parent's, shared by different prefixes", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    expect(await seq(c, "/p/a-")).toBe("/p/a-0000000000");
    expect(await seq(c, "/p/b-")).toBe("/p/b-0000000001");
    expect(await seq(c, "/p/a-")).toBe("/p/a-0000000002");
  });

  it("each parent has its own counter", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    ok(await c.request("create", { path: "/q" }));
    expect(await seq(c, "/p/n-")).toBe("/p/n-0000000000");
    expect(await seq(c, "/q/n-")).toBe("/q/n-0000000000");
    expect(await seq(c, "/p/n-")).toBe("/p/n-0000000001");
  });

  it("all sequential modes share the parent's counter", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    expect(await seq(c, "/p/n-", "persistent_sequential")).toBe("/p/n-0000000000");
    expect(await seq(c, "/p/n-", "ephemeral_sequential")).toBe("/p/n-0000000001");
    expect(await seq(c, "/p/n-", "persistent_sequential_ttl", { ttl: 60_000 })).toBe("/p/n-0000000002");
    expect(await seq(c, "/p/n-", 2)).toBe("/p/n-0000000003");
    expect(await seq(c, "/p/n-", 3)).toBe("/p/n-0000000004");
    expect(await seq(c, "/p/n-", 6, { ttl: 60_000 })).toBe("/p/n-0000000005");
  });

  it("interleaved non-sequential creates bump the counter", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    expect(await seq(c, "/p/n-")).toBe("/p/n-0000000000");
    ok(await c.request("create", { path: "/p/plain" }));
    ok(await c.request("create", { path: "/p/eph", mode: "ephemeral" }));
    expect(await seq(c, "/p/n-")).toBe("/p/n-0000000003");
  });

  it("children created before the first sequential one count", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    ok(await c.request("create", { path: "/p/x" }));
    ok(await c.request("create", { path: "/p/y" }));
    expect(await seq(c, "/p/n-")).toBe("/p/n-0000000002");
  });

  it("after children are deleted, the counter continues", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    const made = [await seq(c, "/p/n-"), await seq(c, "/p/n-"), await seq(c, "/p/n-")];
    for (const p of made) ok(await c.request("delete", { path: p }));
    expect(await children(c, "/p")).toEqual([]);
    expect(await seq(c, "/p/n-")).toBe("/p/n-0000000003");
  });

  it("after a parent is deleted and recreated, the counter starts again", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    ok(await c.request("delete", { path: (await seq(c, "/p/n-")) }));
    ok(await c.request("delete", { path: "/p" }));
    ok(await c.request("create", { path: "/p" }));
    expect(await seq(c, "/p/n-")).toBe("/p/n-0000000000");
  });

  it("failed creates do not bump the counter", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    ok(await c.request("create", { path: "/p/a" }));
    expect((await c.request("create", { path: "/p/a" })).err).toBe(-110);
    expect((await c.request("create", { path: "/p/b", acl: [] })).err).toBe(-114);
    expect(await seq(c, "/p/n-")).toBe("/p/n-0000000001");
  });

  it('a path ending in "/" is a valid prefix for a sequential create', async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    expect(await seq(c, "/p/")).toBe("/p/0000000000");
    expect(await seq(c, "/p/", "ephemeral_sequential")).toBe("/p/0000000001");
    expect(await children(c, "/p")).toEqual(["0000000000", "0000000001"]);
  });

  it('"/" as a sequential prefix creates numbered children of the root', async () => {
    const c = await client();
    expect(await seq(c, "/")).toBe("/0000000000");
    ok(await c.request("create", { path: "/x" }));
    expect(await seq(c, "/")).toBe("/0000000002");
    expect(await children(c, "/")).toEqual(["0000000000", "0000000002", "x", "zookeeper"]);
  });

  it("a root-level sequential create counts only user creates (not /zookeeper)", async () => {
    const c = await client();
    expect(await seq(c, "/lock-")).toBe("/lock-0000000000");
  });

  it('a path ending in "/" without a sequential mode is BADARGUMENTS', async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    const r = await c.request("create", { path: "/p/" });
    expect([r.err, r.code]).toEqual([-8, "BADARGUMENTS"]);
    expect(await children(c, "/p")).toEqual([]);
  });

  it("a sequential create under a missing parent is NONODE and bumps nothing", async () => {
    const c = await client();
    expect((await c.request("create", { path: "/nope/n-", mode: "persistent_sequential" })).err).toBe(-101);
    expect((await c.request("create", { path: "/nope/", mode: "persistent_sequential" })).err).toBe(-101);
  });

  it("a sequential create whose generated name exists is NODEEXISTS", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    ok(await c.request("create", { path: "/p/n-0000000001" }));
    const r = await c.request("create", { path: "/p/n-", mode: "persistent_sequential" });
    expect([r.err, r.code]).toEqual([-110, "NODEEXISTS"]);
    // Another prefix is free; it takes the same, still unconsumed, number.
    expect(await seq(c, "/p/m-")).toBe("/p/m-0000000001");
  });

  it("a sequential create returns the stat of the new node and stores its data", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    const r = ok(await c.request("create", { path: "/p/n-", mode: "persistent_sequential", data: b64("d") }));
    expect(r.stat.czxid).toBe(r.zxid);
    expect(r.stat.dataLength).toBe(1);
    expect(ok(await c.request("getData", { path: r.path })).data).toBe(b64("d"));
  });

  it("sequential creates in one batch are numbered in request order", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    const rs = await c.batch(Array.from({ length: 5 }, () => ({ op: "create", path: "/p/n-", mode: "persistent_sequential" })));
    expect(rs.map((r) => r.path)).toEqual([0, 1, 2, 3, 4].map((i) => `/p/n-000000000${i}`));
  });

  it("two clients creating sequential children get distinct numbers", async () => {
    const ns = freshNamespace("seq");
    const a = await client(ns);
    const b = await client(ns);
    ok(await a.request("create", { path: "/q" }));
    const [ra, rb] = await Promise.all([
      a.request("create", { path: "/q/n-", mode: "ephemeral_sequential" }),
      b.request("create", { path: "/q/n-", mode: "ephemeral_sequential" }),
    ]);
    expect(new Set([ok(ra).path, ok(rb).path])).toEqual(new Set(["/q/n-0000000000", "/q/n-0000000001"]));
  });
});

describe("idempotent create (requestId)", () => {
  it("a retried sequential create returns the first result and creates nothing more", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    const first = ok(await c.request("create", { path: "/p/n-", mode: "persistent_sequential", data: b64("v"), requestId: "req-1" }));
    const z = await c.currentZxid();
    const again = ok(await c.request("create", { path: "/p/n-", mode: "persistent_sequential", data: b64("v"), requestId: "req-1" }));
    expect(again.path).toBe(first.path);
    expect(again.stat).toEqual(first.stat);
    expect(again.zxid).toBe(z);
    expect(await c.currentZxid()).toBe(z);
    expect(await children(c, "/p")).toEqual(["n-0000000000"]);
  });

  it("a retried plain create returns the first result instead of NODEEXISTS", async () => {
    const c = await client();
    const first = ok(await c.request("create", { path: "/a", requestId: "r" }));
    const again = ok(await c.request("create", { path: "/a", requestId: "r" }));
    expect(again.path).toBe("/a");
    expect(again.stat).toEqual(first.stat);
    // Without the requestId it is an ordinary create.
    expect((await c.request("create", { path: "/a" })).err).toBe(-110);
  });

  it("a retry in the same batch as the first attempt returns the same result", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    const [r1, r2] = await c.batch([
      { op: "create", path: "/p/n-", mode: "ephemeral_sequential", requestId: "x" },
      { op: "create", path: "/p/n-", mode: "ephemeral_sequential", requestId: "x" },
    ]);
    expect(ok(r2).path).toBe(ok(r1).path);
    expect(await children(c, "/p")).toEqual(["n-0000000000"]);
  });

  it("different requestIds create different nodes", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    expect(await seq(c, "/p/n-", "persistent_sequential", { requestId: "a" })).toBe("/p/n-0000000000");
    expect(await seq(c, "/p/n-", "persistent_sequential", { requestId: "b" })).toBe("/p/n-0000000001");
    expect(await seq(c, "/p/n-", "persistent_sequential", { requestId: "a" })).toBe("/p/n-0000000000");
    expect(await children(c, "/p")).toEqual(["n-0000000000", "n-0000000001"]);
  });

  it("requestIds belong to a session: another session's equal id creates its own node", async () => {
    const ns = freshNamespace("seq");
    const a = await client(ns);
    const b = await client(ns);
    ok(await a.request("create", { path: "/p" }));
    expect(await seq(a, "/p/n-", "persistent_sequential", { requestId: "same" })).toBe("/p/n-0000000000");
    expect(await seq(b, "/p/n-", "persistent_sequential", { requestId: "same" })).toBe("/p/n-0000000001");
  });

  it("a failed create is not remembered: its retry runs again", async () => {
    const c = await client();
    const r = await c.request("create", { path: "/p/n-", mode: "persistent_sequential", requestId: "later" });
    expect(r.err).toBe(-101);
    ok(await c.request("create", { path: "/p" }));
    expect(await seq(c, "/p/n-", "persistent_sequential", { requestId: "later" })).toBe("/p/n-0000000000");
    expect(await children(c, "/p")).toEqual(["n-0000000000"]);
  });

  it("the remembered result is returned even after the node was deleted", async () => {
    const c = await client();
    const first = ok(await c.request("create", { path: "/a", requestId: "once" }));
    ok(await c.request("delete", { path: "/a" }));
    const again = ok(await c.request("create", { path: "/a", requestId: "once" }));
    expect(again.path).toBe(first.path);
    expect(await exists(c, "/a")).toBe(false);
  });

  it.each([
    ["empty", ""],
    ["65 characters", "x".repeat(65)],
    ["a number", 7],
  ])("a requestId that is %s is BADARGUMENTS", async (_label, requestId) => {
    const c = await client();
    const r = await c.request("create", { path: "/a", requestId });
    expect([r.err, r.code]).toEqual([-8, "BADARGUMENTS"]);
    expect(await exists(c, "/a")).toBe(false);
  });

  it("a requestId of 64 characters is accepted", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a", requestId: "y".repeat(64) }));
  });
});

describe("multi", () => {
  it("returns one result per op, in order, with ZooKeeper's shapes", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/old" }));
    ok(await c.request("create", { path: "/d", data: b64("1") }));
    const r = ok(
      await c.request("multi", {
        ops: [
          { op: "create", path: "/new", data: b64("n") },
          { op: "delete", path: "/old" },
          { op: "setData", path: "/d", data: b64("22"), version: 0 },
          { op: "check", path: "/d", version: 1 },
        ],
      }),
    );
    expect(r.results).toHaveLength(4);
    expect(r.results[0]).toEqual({ op: "create", path: "/new", stat: expect.any(Object) });
    expect(r.results[1]).toEqual({ op: "delete" });
    expect(r.results[2]).toEqual({ op: "setData", stat: expect.any(Object) });
    expect(r.results[3]).toEqual({ op: "check" });
    expect(r.results[0].stat).toEqual(ok(await c.request("exists", { path: "/new" })).stat);
    expect(r.results[2].stat).toEqual(ok(await c.request("exists", { path: "/d" })).stat);
    expect(r.results[2].stat.version).toBe(1);
    expect(await exists(c, "/old")).toBe(false);
    expect(ok(await c.request("getData", { path: "/d" })).data).toBe(b64("22"));
  });

  it("takes one zxid for the whole multi, on every stat it changed", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/d" }));
    const z = await c.currentZxid();
    const r = ok(
      await c.request("multi", {
        ops: [
          { op: "create", path: "/a" },
          { op: "create", path: "/a/b" },
          { op: "setData", path: "/d", data: b64("x") },
          { op: "create", path: "/gone" },
          { op: "delete", path: "/gone" },
        ],
      }),
    );
    expect(r.zxid).toBe(z + 1);
    expect(r.results[0].stat.czxid).toBe(z + 1);
    expect(r.results[1].stat.czxid).toBe(z + 1);
    expect(r.results[2].stat.mzxid).toBe(z + 1);
    expect(await c.currentZxid()).toBe(z + 1);
    const root = ok(await c.request("exists", { path: "/" })).stat;
    expect(root.pzxid).toBe(z + 1);
  });

  it("later ops see the effects of earlier ones", async () => {
    const c = await client();
    const r = ok(
      await c.request("multi", {
        ops: [
          { op: "create", path: "/m" },
          { op: "create", path: "/m/c", data: b64("1") },
          { op: "setData", path: "/m/c", data: b64("2"), version: 0 },
          { op: "check", path: "/m/c", version: 1 },
          { op: "delete", path: "/m/c", version: 1 },
          { op: "delete", path: "/m" },
          { op: "create", path: "/m", data: b64("again") },
        ],
      }),
    );
    expect(r.results.map((x: Msg) => x.op)).toEqual(["create", "create", "setData", "check", "delete", "delete", "create"]);
    expect(ok(await c.request("getData", { path: "/m" })).data).toBe(b64("again"));
    expect(await children(c, "/m")).toEqual([]);
  });

  it("a parent's stat counts each create and delete of the multi", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    const r = ok(
      await c.request("multi", {
        ops: [
          { op: "create", path: "/p/a" },
          { op: "create", path: "/p/b" },
          { op: "delete", path: "/p/a" },
        ],
      }),
    );
    const s = ok(await c.request("exists", { path: "/p" })).stat;
    expect({ cversion: s.cversion, numChildren: s.numChildren, pzxid: s.pzxid }).toEqual({ cversion: 3, numChildren: 1, pzxid: r.zxid });
  });

  it("on failure applies nothing: the state and the zxid are unchanged", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/keep", data: b64("k") }));
    ok(await c.request("create", { path: "/del" }));
    const before = await snapshot(c);
    const z = await c.currentZxid();
    const r = await c.request("multi", {
      ops: [
        { op: "create", path: "/new" },
        { op: "setData", path: "/keep", data: b64("changed") },
        { op: "delete", path: "/del" },
        { op: "create", path: "/new/child", mode: "persistent_sequential" },
        { op: "delete", path: "/missing" },
      ],
    });
    expect(r.err).toBe(-101);
    expect(r.zxid).toBe(z);
    expect(await c.currentZxid()).toBe(z);
    expect(await snapshot(c)).toEqual(before);
  });

  it("the failure vector is {err:0} before, {err:code} at, {err:-2} after the failing op; err is the failing code", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/v" }));
    const r = await c.request("multi", {
      ops: [
        { op: "create", path: "/a" },
        { op: "check", path: "/v", version: 0 },
        { op: "setData", path: "/v", data: b64("x"), version: 5 },
        { op: "create", path: "/b" },
        { op: "delete", path: "/a" },
      ],
    });
    expect(r.err).toBe(-103);
    expect(r.code).toBe("BADVERSION");
    expect(r.results.map((x: Msg) => x.err)).toEqual([0, 0, -103, -2, -2]);
    expect(r.results[0]).toEqual({ err: 0 });
    expect(r.results[3]).toEqual({ err: -2 });
    expect(r.results[4]).toEqual({ err: -2 });
    expect(await exists(c, "/a")).toBe(false);
    expect(await exists(c, "/b")).toBe(false);
  });

  it("a failure at the first op gives {err:code} then -2s", async () => {
    const c = await client();
    const r = await c.request("multi", {
      ops: [
        { op: "delete", path: "/missing" },
        { op: "create", path: "/a" },
      ],
    });
    expect(r.err).toBe(-101);
    expect(r.results.map((x: Msg) => x.err)).toEqual([-101, -2]);
    expect(await exists(c, "/a")).toBe(false);
  });

  it("a failure at the last op gives 0s then {err:code}", async () => {
    const c = await client();
    const r = await c.request("multi", {
      ops: [
        { op: "create", path: "/a" },
        { op: "create", path: "/b" },
        { op: "create", path: "/a" },
      ],
    });
    expect(r.err).toBe(-110);
    expect(r.code).toBe("NODEEXISTS");
    expect(r.results.map((x: Msg) => x.err)).toEqual([0, 0, -110]);
    expect(await exists(c, "/a")).toBe(false);
    expect(await exists(c, "/b")).toBe(false);
  });

  it.each([
    ["NOTEMPTY", [{ op: "create", path: "/p" }, { op: "create", path: "/p/c" }, { op: "delete", path: "/p" }], -111],
    ["NOCHILDRENFOREPHEMERALS", [{ op: "create", path: "/e", mode: "ephemeral" }, { op: "create", path: "/e/c" }], -108],
    ["BADVERSION on check", [{ op: "create", path: "/p" }, { op: "check", path: "/p", version: 1 }], -103],
    ["NONODE on check", [{ op: "create", path: "/p" }, { op: "check", path: "/q" }], -101],
    ["BADARGUMENTS for a bad path", [{ op: "create", path: "/p" }, { op: "create", path: "/p//q" }], -8],
    ["BADARGUMENTS for deleting /zookeeper", [{ op: "create", path: "/p" }, { op: "delete", path: "/zookeeper" }], -8],
    ["INVALIDACL", [{ op: "create", path: "/p" }, { op: "create", path: "/q", acl: [] }], -114],
    ["NOAUTH", [{ op: "create", path: "/p" }, { op: "setData", path: "/zookeeper/config", data: "" }], -102],
  ])("a multi failing with %s rolls back", async (_label, ops, err) => {
    const c = await client();
    const z = await c.currentZxid();
    const r = await c.request("multi", { ops });
    expect(r.err).toBe(err);
    expect(r.results.map((x: Msg) => x.err)).toEqual([...Array(ops.length - 1).fill(0), err]);
    expect(r.zxid).toBe(z);
    expect(await children(c, "/")).toEqual(["zookeeper"]);
    expect(await c.currentZxid()).toBe(z);
  });

  it("sequential creates inside a multi are numbered in op order, and share its zxid", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    const r = ok(
      await c.request("multi", {
        ops: [
          { op: "create", path: "/p/n-", mode: "persistent_sequential" },
          { op: "create", path: "/p/plain" },
          { op: "create", path: "/p/n-", mode: "ephemeral_sequential" },
        ],
      }),
    );
    expect(r.results.map((x: Msg) => x.path)).toEqual(["/p/n-0000000000", "/p/plain", "/p/n-0000000002"]);
    expect(r.results.map((x: Msg) => x.stat.czxid)).toEqual([r.zxid, r.zxid, r.zxid]);
    expect(r.results[2].stat.ephemeralOwner).toBe(c.sessionId);
  });

  it("sequential creates in a failed multi consume no numbers", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    const r = await c.request("multi", {
      ops: [
        { op: "create", path: "/p/n-", mode: "persistent_sequential" },
        { op: "create", path: "/p/n-", mode: "persistent_sequential" },
        { op: "delete", path: "/missing" },
      ],
    });
    expect(r.err).toBe(-101);
    expect(await seq(c, "/p/n-")).toBe("/p/n-0000000000");
  });

  it("a create in a multi can make the parent of a later sequential create", async () => {
    const c = await client();
    const r = ok(
      await c.request("multi", {
        ops: [
          { op: "create", path: "/q" },
          { op: "create", path: "/q/", mode: "persistent_sequential" },
        ],
      }),
    );
    expect(r.results[1].path).toBe("/q/0000000000");
  });

  it("an empty multi succeeds with no results", async () => {
    const c = await client();
    const r = ok(await c.request("multi", { ops: [] }));
    expect(r.results).toEqual([]);
  });

  it("a multi with a read op is refused before anything runs", async () => {
    const c = await client();
    const z = await c.currentZxid();
    const r = await c.request("multi", {
      ops: [
        { op: "create", path: "/a" },
        { op: "getData", path: "/a" },
      ],
    });
    expect(r.err).not.toBe(0);
    expect(await exists(c, "/a")).toBe(false);
    expect(await c.currentZxid()).toBe(z);
  });
});

describe("multiRead", () => {
  it("answers each op independently, errors included; the response err is 0", async () => {
    const c = await client();
    const a = ok(await c.request("create", { path: "/a", data: b64("A") }));
    ok(await c.request("create", { path: "/a/y" }));
    ok(await c.request("create", { path: "/a/x" }));
    const r = ok(
      await c.request("multiRead", {
        ops: [
          { op: "getData", path: "/a" },
          { op: "getData", path: "/missing" },
          { op: "getChildren", path: "/a" },
          { op: "getChildren", path: "/missing" },
          { op: "exists", path: "/a" },
          { op: "exists", path: "/missing" },
        ],
      }),
    );
    expect(r.results).toHaveLength(6);
    expect(r.results[0].data).toBe(b64("A"));
    expect(r.results[0].stat.czxid).toBe(a.zxid);
    expect(r.results[1]).toMatchObject({ err: -101, code: "NONODE" });
    expect(typeof r.results[1].message).toBe("string");
    expect(r.results[2].children).toEqual(["x", "y"]);
    expect(r.results[2].stat.numChildren).toBe(2);
    expect(r.results[3]).toMatchObject({ err: -101, code: "NONODE" });
    expect(r.results[4].stat.czxid).toBe(a.zxid);
    expect(r.results[5]).toEqual({ stat: null });
  });

  it("a bad path fails only its own op", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    const r = ok(
      await c.request("multiRead", {
        ops: [
          { op: "getData", path: "/a/" },
          { op: "getData", path: "/a" },
        ],
      }),
    );
    expect(r.results[0]).toMatchObject({ err: -8, code: "BADARGUMENTS" });
    expect(r.results[1].stat).toBeTruthy();
  });

  it("an empty multiRead returns no results", async () => {
    const c = await client();
    expect(ok(await c.request("multiRead", { ops: [] })).results).toEqual([]);
  });

  it("a multiRead with a write op is refused and writes nothing", async () => {
    const c = await client();
    const r = await c.request("multiRead", {
      ops: [
        { op: "getData", path: "/" },
        { op: "create", path: "/a" },
      ],
    });
    expect(r.err).not.toBe(0);
    expect(await exists(c, "/a")).toBe(false);
  });
});
