import { describe, expect, it } from "vitest";
import { RawClient, b64, freshNamespace, ok, useClients, type Msg } from "../helpers/raw-client.js";

/**
 * Stat fields after every kind of change, exactly as ZooKeeper 3.8 reports them
 * (DataTree/DataNode.copyStat, /tmp/zk-semantics.md §0–1, §12), and the zxid sequence:
 * one per committed write, on its response; reads carry the current one; failed writes
 * take none (edgekeeper's documented choice, docs/protocol.md §3).
 */

const NO_OWNER = "0000000000000000";
const OPEN_ACL = [{ perms: 31, scheme: "world", id: "anyone" }];

const client = useClients("stat");

async function statOf(c: RawClient, path: string): Promise<Msg> {
  const r = ok(await c.request("exists", { path }));
  expect(r.stat, `no node ${path}`).not.toBeNull();
  return r.stat;
}

const ZERO_STAT = {
  czxid: 0,
  mzxid: 0,
  pzxid: 0,
  ctime: 0,
  mtime: 0,
  version: 0,
  cversion: 0,
  aversion: 0,
  ephemeralOwner: NO_OWNER,
  dataLength: 0,
  numChildren: 0,
};

describe("a fresh namespace", () => {
  it('"/" is all zeros with cversion -1 and one child', async () => {
    const c = await client();
    expect(await statOf(c, "/")).toEqual({ ...ZERO_STAT, cversion: -1, numChildren: 1 });
  });

  it('"/zookeeper" is all zeros with cversion -2 and two children', async () => {
    const c = await client();
    expect(await statOf(c, "/zookeeper")).toEqual({ ...ZERO_STAT, cversion: -2, numChildren: 2 });
  });

  it('"/zookeeper/quota" is all zeros', async () => {
    const c = await client();
    expect(await statOf(c, "/zookeeper/quota")).toEqual(ZERO_STAT);
  });

  it('"/zookeeper/config" is all zeros except aversion -1', async () => {
    const c = await client();
    expect(await statOf(c, "/zookeeper/config")).toEqual({ ...ZERO_STAT, aversion: -1 });
  });

  it("getData, getChildren and getACL report the same stat as exists", async () => {
    const c = await client();
    const s = await statOf(c, "/");
    expect(ok(await c.request("getData", { path: "/" })).stat).toEqual(s);
    expect(ok(await c.request("getChildren", { path: "/" })).stat).toEqual(s);
    expect(ok(await c.request("getChildren2", { path: "/" })).stat).toEqual(s);
    expect(ok(await c.request("getACL", { path: "/" })).stat).toEqual(s);
  });

  it('after the first create under "/", its cversion is 0', async () => {
    const c = await client();
    const r = ok(await c.request("create", { path: "/a" }));
    expect(await statOf(c, "/")).toEqual({ ...ZERO_STAT, cversion: 0, numChildren: 2, pzxid: r.zxid });
  });

  it("a create under /zookeeper moves its cversion from -2 to -1", async () => {
    const c = await client();
    const r = ok(await c.request("create", { path: "/zookeeper/x" }));
    expect(await statOf(c, "/zookeeper")).toEqual({ ...ZERO_STAT, cversion: -1, numChildren: 3, pzxid: r.zxid });
  });
});

describe("a created node", () => {
  it("has czxid = mzxid = pzxid = the response's zxid, ctime = mtime, versions 0", async () => {
    const c = await client();
    const t0 = Date.now();
    const r = ok(await c.request("create", { path: "/a", data: b64("hello") }));
    const s = r.stat;
    expect(s.czxid).toBe(r.zxid);
    expect(s.mzxid).toBe(r.zxid);
    expect(s.pzxid).toBe(r.zxid);
    expect(s.mtime).toBe(s.ctime);
    expect(s.ctime).toBeGreaterThanOrEqual(t0 - 60_000);
    expect(s.ctime).toBeLessThanOrEqual(Date.now() + 60_000);
    expect({ version: s.version, cversion: s.cversion, aversion: s.aversion }).toEqual({ version: 0, cversion: 0, aversion: 0 });
    expect(s.dataLength).toBe(5);
    expect(s.numChildren).toBe(0);
    expect(s.ephemeralOwner).toBe(NO_OWNER);
  });

  it("reads back the same stat as the create response", async () => {
    const c = await client();
    const r = ok(await c.request("create", { path: "/a", data: b64("xyz") }));
    expect(await statOf(c, "/a")).toEqual(r.stat);
  });

  it("with empty data has dataLength 0", async () => {
    const c = await client();
    expect(ok(await c.request("create", { path: "/a" })).stat.dataLength).toBe(0);
  });

  it("dataLength counts bytes, not base64 characters", async () => {
    const c = await client();
    const r = ok(await c.request("create", { path: "/a", data: btoa("\u0000\u00ff\u0010") }));
    expect(r.stat.dataLength).toBe(3);
  });

  it.each(["ephemeral", "ephemeral_sequential"])("a %s node's ephemeralOwner is the session id", async (mode) => {
    const c = await client();
    const r = ok(await c.request("create", { path: "/e", mode }));
    expect(r.stat.ephemeralOwner).toBe(c.sessionId);
    expect(r.stat.ephemeralOwner).toMatch(/^[0-9a-f]{16}$/);
    expect(await statOf(c, r.path)).toEqual(r.stat);
  });

  it.each([
    ["persistent", undefined],
    ["persistent_sequential", undefined],
    ["container", undefined],
    ["persistent_ttl", 60_000],
    ["persistent_sequential_ttl", 60_000],
  ])("a %s node's ephemeralOwner is all zeros", async (mode, ttl) => {
    const c = await client();
    const r = ok(await c.request("create", { path: "/n", mode, ...(ttl ? { ttl } : {}) }));
    expect(r.stat.ephemeralOwner).toBe(NO_OWNER);
    expect(await statOf(c, r.path)).toEqual(r.stat);
  });

  it("ephemeral nodes of different sessions carry their own owner", async () => {
    const ns = freshNamespace("stat");
    const a = await client(ns);
    const b = await client(ns);
    ok(await a.request("create", { path: "/ea", mode: "ephemeral" }));
    ok(await b.request("create", { path: "/eb", mode: "ephemeral" }));
    expect(a.sessionId).not.toBe(b.sessionId);
    expect((await statOf(b, "/ea")).ephemeralOwner).toBe(a.sessionId);
    expect((await statOf(a, "/eb")).ephemeralOwner).toBe(b.sessionId);
  });
});

describe("the parent", () => {
  it("after a child create: cversion +1, pzxid = the create's zxid, numChildren +1; nothing else", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p", data: b64("pp") }));
    const before = await statOf(c, "/p");
    const r = ok(await c.request("create", { path: "/p/a" }));
    expect(await statOf(c, "/p")).toEqual({ ...before, cversion: before.cversion + 1, pzxid: r.zxid, numChildren: before.numChildren + 1 });
  });

  it("after a second child create: cversion 2, numChildren 2", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    ok(await c.request("create", { path: "/p/a" }));
    const r = ok(await c.request("create", { path: "/p/b" }));
    const s = await statOf(c, "/p");
    expect({ cversion: s.cversion, numChildren: s.numChildren, pzxid: s.pzxid }).toEqual({ cversion: 2, numChildren: 2, pzxid: r.zxid });
  });

  it("after a sequential or ephemeral child create: cversion +1 as well", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    ok(await c.request("create", { path: "/p/s-", mode: "persistent_sequential" }));
    const r = ok(await c.request("create", { path: "/p/e", mode: "ephemeral" }));
    const s = await statOf(c, "/p");
    expect({ cversion: s.cversion, numChildren: s.numChildren, pzxid: s.pzxid }).toEqual({ cversion: 2, numChildren: 2, pzxid: r.zxid });
  });

  it("after a child delete: cversion +1, pzxid = the delete's zxid, numChildren -1; nothing else", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p", data: b64("pp") }));
    ok(await c.request("create", { path: "/p/a" }));
    ok(await c.request("create", { path: "/p/b" }));
    const before = await statOf(c, "/p");
    const r = ok(await c.request("delete", { path: "/p/a" }));
    expect(await statOf(c, "/p")).toEqual({ ...before, cversion: before.cversion + 1, pzxid: r.zxid, numChildren: before.numChildren - 1 });
  });

  it("create, delete, create of one child: cversion 3, numChildren 1", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    ok(await c.request("create", { path: "/p/a" }));
    ok(await c.request("delete", { path: "/p/a" }));
    const r = ok(await c.request("create", { path: "/p/a" }));
    const s = await statOf(c, "/p");
    expect({ cversion: s.cversion, numChildren: s.numChildren, pzxid: s.pzxid }).toEqual({ cversion: 3, numChildren: 1, pzxid: r.zxid });
  });

  it("after a child's setData or setACL: unchanged", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    ok(await c.request("create", { path: "/p/a" }));
    const before = await statOf(c, "/p");
    ok(await c.request("setData", { path: "/p/a", data: b64("x") }));
    ok(await c.request("setACL", { path: "/p/a", acl: OPEN_ACL }));
    expect(await statOf(c, "/p")).toEqual(before);
  });

  it("a grandchild create or delete does not touch the grandparent", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/g" }));
    ok(await c.request("create", { path: "/g/p" }));
    const before = await statOf(c, "/g");
    ok(await c.request("create", { path: "/g/p/c" }));
    ok(await c.request("delete", { path: "/g/p/c" }));
    expect(await statOf(c, "/g")).toEqual(before);
  });

  it("a failed child create leaves the parent unchanged", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    ok(await c.request("create", { path: "/p/a" }));
    const before = await statOf(c, "/p");
    expect((await c.request("create", { path: "/p/a" })).err).toBe(-110);
    expect((await c.request("create", { path: "/p/x", mode: "persistent_ttl" })).err).toBe(-8);
    expect(await statOf(c, "/p")).toEqual(before);
  });

  it("deleting an ephemeral child counts like any delete", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    ok(await c.request("create", { path: "/p/e", mode: "ephemeral" }));
    const r = ok(await c.request("delete", { path: "/p/e" }));
    const s = await statOf(c, "/p");
    expect({ cversion: s.cversion, numChildren: s.numChildren, pzxid: s.pzxid }).toEqual({ cversion: 2, numChildren: 0, pzxid: r.zxid });
  });
});

describe("setData", () => {
  it("bumps version, sets mzxid to its zxid, mtime and dataLength; czxid, ctime, pzxid, cversion, aversion stay", async () => {
    const c = await client();
    const created = ok(await c.request("create", { path: "/a", data: b64("1") }));
    const before = created.stat;
    const r = ok(await c.request("setData", { path: "/a", data: b64("12345") }));
    const s = r.stat;
    expect(s.version).toBe(before.version + 1);
    expect(s.mzxid).toBe(r.zxid);
    expect(s.mzxid).toBeGreaterThan(before.mzxid);
    expect(s.mtime).toBeGreaterThanOrEqual(before.mtime);
    expect(s.dataLength).toBe(5);
    expect({ czxid: s.czxid, ctime: s.ctime, pzxid: s.pzxid, cversion: s.cversion, aversion: s.aversion }).toEqual({
      czxid: before.czxid,
      ctime: before.ctime,
      pzxid: before.pzxid,
      cversion: before.cversion,
      aversion: before.aversion,
    });
    expect({ ephemeralOwner: s.ephemeralOwner, numChildren: s.numChildren }).toEqual({ ephemeralOwner: NO_OWNER, numChildren: 0 });
    expect(await statOf(c, "/a")).toEqual(s);
  });

  it("with the same data still bumps version and mzxid", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a", data: b64("same") }));
    const r = ok(await c.request("setData", { path: "/a", data: b64("same") }));
    expect(r.stat.version).toBe(1);
    expect(r.stat.mzxid).toBe(r.zxid);
  });

  it("each setData bumps the version by one", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    for (let v = 1; v <= 4; v++) expect(ok(await c.request("setData", { path: "/a", data: b64(String(v)) })).stat.version).toBe(v);
  });

  it("on a parent keeps its pzxid, cversion and numChildren", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    const child = ok(await c.request("create", { path: "/p/c" }));
    const r = ok(await c.request("setData", { path: "/p", data: b64("x") }));
    expect(r.stat.pzxid).toBe(child.zxid);
    expect(r.stat.cversion).toBe(1);
    expect(r.stat.numChildren).toBe(1);
    expect(r.stat.mzxid).toBe(r.zxid);
  });

  it("a failed setData changes no stat field", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a", data: b64("x") }));
    const before = await statOf(c, "/a");
    expect((await c.request("setData", { path: "/a", data: b64("y"), version: 7 })).err).toBe(-103);
    expect(await statOf(c, "/a")).toEqual(before);
  });
});

describe("setACL", () => {
  it("bumps aversion only: mzxid, mtime, version, pzxid unchanged", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a", data: b64("d") }));
    ok(await c.request("setData", { path: "/a", data: b64("dd") }));
    const before = await statOf(c, "/a");
    const r = ok(await c.request("setACL", { path: "/a", acl: [{ perms: 31, scheme: "ip", id: "127.0.0.1" }] }));
    expect(r.stat).toEqual({ ...before, aversion: before.aversion + 1 });
    expect(await statOf(c, "/a")).toEqual(r.stat);
  });

  it("each setACL bumps aversion by one, though the zxid moves on", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    const r1 = ok(await c.request("setACL", { path: "/a", acl: OPEN_ACL }));
    const r2 = ok(await c.request("setACL", { path: "/a", acl: OPEN_ACL }));
    expect([r1.stat.aversion, r2.stat.aversion]).toEqual([1, 2]);
    expect(r2.zxid).toBe(r1.zxid + 1);
    expect(r2.stat.mzxid).toBe(r1.stat.mzxid);
  });

  it("on the root keeps everything but aversion", async () => {
    const c = await client();
    const before = await statOf(c, "/");
    const r = ok(await c.request("setACL", { path: "/", acl: OPEN_ACL }));
    expect(r.stat).toEqual({ ...before, aversion: 1 });
  });
});

describe("zxid", () => {
  it("the handshake reports the zxid of the session's own creation", async () => {
    const ns = freshNamespace("stat");
    const a = await client(ns);
    const z = a.hello!.zxid;
    expect(z).toBeGreaterThanOrEqual(1);
    expect(await a.currentZxid()).toBe(z);
    const b = await client(ns);
    expect(b.hello!.zxid).toBe(z + 1);
  });

  it("every committed write takes exactly the next zxid, shown on its response", async () => {
    const c = await client();
    let z = await c.currentZxid();
    const writes: Array<[string, Msg]> = [
      ["create", { path: "/a" }],
      ["create", { path: "/a/b", data: b64("x") }],
      ["setData", { path: "/a/b", data: b64("y") }],
      ["setACL", { path: "/a/b", acl: OPEN_ACL }],
      ["create", { path: "/a/s-", mode: "persistent_sequential" }],
      ["create", { path: "/e", mode: "ephemeral" }],
      ["create", { path: "/c", mode: "container" }],
      ["create", { path: "/t", mode: "persistent_ttl", ttl: 60_000 }],
      ["delete", { path: "/a/b" }],
      ["multi", { ops: [{ op: "create", path: "/m1" }, { op: "create", path: "/m2" }, { op: "delete", path: "/m1" }] }],
    ];
    for (const [op, fields] of writes) {
      const r = ok(await c.request(op, fields));
      expect(r.zxid, `${op} ${JSON.stringify(fields)}`).toBe(z + 1);
      z = r.zxid;
    }
    expect(await c.currentZxid()).toBe(z);
  });

  it("the zxid of a write appears in the stats it changed", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    const r = ok(await c.request("create", { path: "/p/a" }));
    expect((await statOf(c, "/p/a")).czxid).toBe(r.zxid);
    expect((await statOf(c, "/p")).pzxid).toBe(r.zxid);
    const s = ok(await c.request("setData", { path: "/p/a", data: b64("x") }));
    expect((await statOf(c, "/p/a")).mzxid).toBe(s.zxid);
    const d = ok(await c.request("delete", { path: "/p/a" }));
    expect((await statOf(c, "/p")).pzxid).toBe(d.zxid);
  });

  it("reads carry the current zxid and do not advance it", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a", data: b64("x") }));
    ok(await c.request("create", { path: "/e", mode: "ephemeral" }));
    const z = ok(await c.request("setData", { path: "/a", data: b64("y") })).zxid;
    const reads: Array<[string, Msg]> = [
      ["exists", { path: "/a" }],
      ["exists", { path: "/missing" }],
      ["getData", { path: "/a" }],
      ["getChildren", { path: "/" }],
      ["getChildren2", { path: "/", limit: 1 }],
      ["getACL", { path: "/a" }],
      ["check", { path: "/a", version: 1 }],
      ["sync", { path: "/a" }],
      ["getEphemerals", {}],
      ["getAllChildrenNumber", { path: "/" }],
      ["whoAmI", {}],
      ["multiRead", { ops: [{ op: "getData", path: "/a" }, { op: "getData", path: "/missing" }] }],
      ["ping", {}],
    ];
    for (const [op, fields] of reads) expect(ok(await c.request(op, fields)).zxid, op).toBe(z);
    expect(ok(await c.request("create", { path: "/b" })).zxid).toBe(z + 1);
  });

  it("reads see other clients' writes in their zxid", async () => {
    const ns = freshNamespace("stat");
    const a = await client(ns);
    const b = await client(ns);
    const w = ok(await b.request("create", { path: "/fromB" }));
    const r = ok(await a.request("exists", { path: "/fromB" }));
    expect(r.zxid).toBe(w.zxid);
    expect(r.stat.czxid).toBe(w.zxid);
  });

  it("failed writes take no zxid and report the current one", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a", data: b64("x") }));
    ok(await c.request("create", { path: "/a/b" }));
    ok(await c.request("create", { path: "/e", mode: "ephemeral" }));
    const z = await c.currentZxid();
    const failing: Array<[string, Msg, number]> = [
      ["create", { path: "/a" }, -110],
      ["create", { path: "/nope/x" }, -101],
      ["create", { path: "/e/x" }, -108],
      ["create", { path: "/bad/" }, -8],
      ["create", { path: "/t", mode: "persistent_ttl" }, -8],
      ["create", { path: "/acl", acl: [] }, -114],
      ["delete", { path: "/missing" }, -101],
      ["delete", { path: "/a" }, -111],
      ["delete", { path: "/a/b", version: 3 }, -103],
      ["delete", { path: "/zookeeper" }, -8],
      ["setData", { path: "/a", data: b64("y"), version: 9 }, -103],
      ["setData", { path: "/missing", data: "" }, -101],
      ["setData", { path: "/zookeeper/config", data: b64("y") }, -102],
      ["setACL", { path: "/a", acl: [] }, -114],
      ["setACL", { path: "/a", acl: OPEN_ACL, version: 4 }, -103],
      ["check", { path: "/a", version: 9 }, -103],
      ["multi", { ops: [{ op: "create", path: "/m" }, { op: "delete", path: "/missing" }] }, -101],
    ];
    for (const [op, fields, err] of failing) {
      const r = await c.request(op, fields);
      expect(r.err, `${op} ${JSON.stringify(fields)}`).toBe(err);
      expect(r.zxid, `${op} ${JSON.stringify(fields)}`).toBe(z);
    }
    expect(await c.currentZxid()).toBe(z);
    expect(ok(await c.request("create", { path: "/next" })).zxid).toBe(z + 1);
  });

  it("a batch of writes takes consecutive zxids, one per successful request", async () => {
    const c = await client();
    const z = await c.currentZxid();
    const rs = await c.batch([
      { op: "create", path: "/a" },
      { op: "create", path: "/a" },
      { op: "create", path: "/b" },
      { op: "setData", path: "/a", data: b64("x") },
    ]);
    expect(rs.map((r) => [r.err, r.zxid])).toEqual([
      [0, z + 1],
      [-110, z + 1],
      [0, z + 2],
      [0, z + 3],
    ]);
  });
});
