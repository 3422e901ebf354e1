import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { NamespaceObject } from "../../src/objects/namespace-object.js";
import { RawClient, b64, freshNamespace, stubFor, ok, useClients, type Msg } from "../helpers/raw-client.js";

/**
 * Every data operation of docs/protocol.md §3 over a real socket, checked against
 * ZooKeeper 3.8's behaviour (/tmp/zk-semantics.md): results, error codes, path rules,
 * versions, TTL arguments and data limits.
 */

const NO_OWNER = "0000000000000000";
const OPEN_ACL = [{ perms: 31, scheme: "world", id: "anyone" }];
const MiB = 1024 * 1024;

const client = useClients("ops");

function fails(r: Msg, err: number, code: string): Msg {
  expect({ err: r.err, code: r.code }, JSON.stringify(r).slice(0, 500)).toEqual({ err, code });
  expect(typeof r.message).toBe("string");
  return r;
}

/** base64 of raw bytes. */
function bytesB64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

async function children(c: RawClient, path: string): Promise<string[]> {
  return ok(await c.request("getChildren", { path })).children;
}

// ------------------------------------------------------------------------------------------

describe("create: the seven modes", () => {
  const MODES: Array<{ name: string; num: number; ttl?: number; sequential: boolean; ephemeral: boolean }> = [
    { name: "persistent", num: 0, sequential: false, ephemeral: false },
    { name: "ephemeral", num: 1, sequential: false, ephemeral: true },
    { name: "persistent_sequential", num: 2, sequential: true, ephemeral: false },
    { name: "ephemeral_sequential", num: 3, sequential: true, ephemeral: true },
    { name: "container", num: 4, sequential: false, ephemeral: false },
    { name: "persistent_ttl", num: 5, ttl: 60_000, sequential: false, ephemeral: false },
    { name: "persistent_sequential_ttl", num: 6, ttl: 60_000, sequential: true, ephemeral: false },
  ];
  const cases = MODES.flatMap((m) => [
    { ...m, mode: m.name as string | number, label: `"${m.name}"` },
    { ...m, mode: m.num as string | number, label: `${m.num} (${m.name})` },
  ]);

  it.each(cases)("mode $label creates the node with the right path and owner", async ({ mode, ttl, sequential, ephemeral }) => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    const r = ok(await c.request("create", { path: "/p/n-", data: b64("v"), mode, ...(ttl ? { ttl } : {}) }));
    expect(r.path).toBe(sequential ? "/p/n-0000000000" : "/p/n-");
    expect(r.stat.ephemeralOwner).toBe(ephemeral ? c.sessionId : NO_OWNER);
    const g = ok(await c.request("getData", { path: r.path }));
    expect(g.data).toBe(b64("v"));
    expect(g.stat).toEqual(r.stat);
    expect(await children(c, "/p")).toEqual([r.path.slice(3)]);
    const eph = ok(await c.request("getEphemerals", {}));
    expect(eph.paths).toEqual(ephemeral ? [r.path] : []);
  });

  it("an omitted mode means persistent", async () => {
    const c = await client();
    const r = ok(await c.request("create", { path: "/a" }));
    expect(r.path).toBe("/a");
    expect(r.stat.ephemeralOwner).toBe(NO_OWNER);
    expect(ok(await c.request("getEphemerals", {})).paths).toEqual([]);
  });

  it.each([7, -1, 1.5, "PERSISTENT", "ttl", null])("mode %j is BADARGUMENTS", async (mode) => {
    const c = await client();
    fails(await c.request("create", { path: "/a", mode }), -8, "BADARGUMENTS");
    expect(ok(await c.request("exists", { path: "/a" })).stat).toBeNull();
  });

  it("an ephemeral node is removed when its session closes, a persistent one stays", async () => {
    const ns = freshNamespace("ops");
    const a = await client(ns);
    ok(await a.request("create", { path: "/e", mode: "ephemeral" }));
    ok(await a.request("create", { path: "/p", mode: "persistent" }));
    ok(await a.request("close"));
    const b = await client(ns);
    expect(ok(await b.request("exists", { path: "/e" })).stat).toBeNull();
    expect(ok(await b.request("exists", { path: "/p" })).stat).not.toBeNull();
  });
});

describe("create: results and errors", () => {
  it("returns the actual path and a stat; data and default ACL are stored", async () => {
    const c = await client();
    const r = ok(await c.request("create", { path: "/a", data: b64("hello") }));
    expect(r.path).toBe("/a");
    expect(r.stat.dataLength).toBe(5);
    expect(ok(await c.request("getData", { path: "/a" })).data).toBe(b64("hello"));
    expect(ok(await c.request("getACL", { path: "/a" })).acl).toEqual(OPEN_ACL);
  });

  it("stores an explicit ACL", async () => {
    const c = await client();
    const acl = [
      { perms: 1, scheme: "world", id: "anyone" },
      { perms: 31, scheme: "ip", id: "10.1.2.3" },
    ];
    ok(await c.request("create", { path: "/a", acl }));
    expect(ok(await c.request("getACL", { path: "/a" })).acl).toEqual(acl);
  });

  it("creates nested nodes once their parents exist", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    ok(await c.request("create", { path: "/a/b" }));
    ok(await c.request("create", { path: "/a/b/c" }));
    expect(await children(c, "/a/b")).toEqual(["c"]);
  });

  it("an existing node is NODEEXISTS", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a", data: b64("1") }));
    fails(await c.request("create", { path: "/a", data: b64("2") }), -110, "NODEEXISTS");
    expect(ok(await c.request("getData", { path: "/a" })).data).toBe(b64("1"));
  });

  it("a missing parent is NONODE", async () => {
    const c = await client();
    fails(await c.request("create", { path: "/missing/child" }), -101, "NONODE");
    expect(ok(await c.request("exists", { path: "/missing/child" })).stat).toBeNull();
  });

  it("a child of an ephemeral node is NOCHILDRENFOREPHEMERALS", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/e", mode: "ephemeral" }));
    fails(await c.request("create", { path: "/e/c" }), -108, "NOCHILDRENFOREPHEMERALS");
    fails(await c.request("create", { path: "/e/s-", mode: "ephemeral_sequential" }), -108, "NOCHILDRENFOREPHEMERALS");
    expect(await children(c, "/e")).toEqual([]);
  });

  it("a child of an ephemeral node created by another session is NOCHILDRENFOREPHEMERALS too", async () => {
    const ns = freshNamespace("ops");
    const a = await client(ns);
    const b = await client(ns);
    ok(await a.request("create", { path: "/e", mode: "ephemeral" }));
    fails(await b.request("create", { path: "/e/c" }), -108, "NOCHILDRENFOREPHEMERALS");
  });

  it("container and TTL nodes may have children", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/c", mode: "container" }));
    ok(await c.request("create", { path: "/t", mode: "persistent_ttl", ttl: 60_000 }));
    ok(await c.request("create", { path: "/c/x" }));
    ok(await c.request("create", { path: "/t/x" }));
  });

  it("re-creating an existing ephemeral node is NODEEXISTS", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/e", mode: "ephemeral" }));
    fails(await c.request("create", { path: "/e", mode: "ephemeral" }), -110, "NODEEXISTS");
  });

  it("NODEEXISTS is checked before NOCHILDRENFOREPHEMERALS", async () => {
    // A child under an ephemeral cannot be made through the protocol, so the tree is arranged
    // in storage: /p gets a child, then is marked as owned by the session.
    const ns = freshNamespace("ops");
    const c = await client(ns);
    ok(await c.request("create", { path: "/p" }));
    ok(await c.request("create", { path: "/p/c" }));
    const session = c.sessionId;
    await runInDurableObject(stubFor(ns), (obj: NamespaceObject) => {
      const node = obj.ns.store.getNode("/p")!;
      node.stat.ephemeralOwner = session;
      obj.ns.store.putNode(node);
    });
    expect(ok(await c.request("exists", { path: "/p" })).stat.ephemeralOwner).toBe(session);
    fails(await c.request("create", { path: "/p/c" }), -110, "NODEEXISTS");
    fails(await c.request("create", { path: "/p/d" }), -108, "NOCHILDRENFOREPHEMERALS");
  });

  it("creating /zookeeper is NODEEXISTS", async () => {
    const c = await client();
    fails(await c.request("create", { path: "/zookeeper" }), -110, "NODEEXISTS");
  });

  it("creating under /zookeeper and /zookeeper/quota is allowed, and such nodes can be deleted", async () => {
    const c = await client();
    expect(ok(await c.request("create", { path: "/zookeeper/mine", data: b64("x") })).path).toBe("/zookeeper/mine");
    expect(ok(await c.request("create", { path: "/zookeeper/quota/app" })).path).toBe("/zookeeper/quota/app");
    expect(await children(c, "/zookeeper")).toEqual(["config", "mine", "quota"]);
    ok(await c.request("delete", { path: "/zookeeper/mine" }));
    ok(await c.request("delete", { path: "/zookeeper/quota/app" }));
    expect(await children(c, "/zookeeper")).toEqual(["config", "quota"]);
  });

  it("creating under the read-only /zookeeper/config is NOAUTH", async () => {
    const c = await client();
    fails(await c.request("create", { path: "/zookeeper/config/x" }), -102, "NOAUTH");
  });

  it("an invalid ACL on create is INVALIDACL and creates nothing", async () => {
    const c = await client();
    fails(await c.request("create", { path: "/a", acl: [] }), -114, "INVALIDACL");
    fails(await c.request("create", { path: "/a", acl: [{ perms: 31, scheme: "nope", id: "x" }] }), -114, "INVALIDACL");
    fails(await c.request("create", { path: "/a", acl: [{ perms: 31, scheme: "auth", id: "" }] }), -114, "INVALIDACL");
    expect(ok(await c.request("exists", { path: "/a" })).stat).toBeNull();
  });

  it("INVALIDACL is checked before NONODE on create", async () => {
    const c = await client();
    fails(await c.request("create", { path: "/missing/a", acl: [] }), -114, "INVALIDACL");
  });
});

describe("delete", () => {
  it("removes a node", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    const r = ok(await c.request("delete", { path: "/a" }));
    expect(Object.keys(r).sort()).toEqual(["err", "xid", "zxid"]);
    expect(ok(await c.request("exists", { path: "/a" })).stat).toBeNull();
  });

  it("a missing node is NONODE", async () => {
    const c = await client();
    fails(await c.request("delete", { path: "/a" }), -101, "NONODE");
    fails(await c.request("delete", { path: "/a/b" }), -101, "NONODE");
  });

  it("a node with children is NOTEMPTY", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    ok(await c.request("create", { path: "/a/b" }));
    fails(await c.request("delete", { path: "/a" }), -111, "NOTEMPTY");
    expect(await children(c, "/a")).toEqual(["b"]);
  });

  it("version -1 deletes whatever the version", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    ok(await c.request("setData", { path: "/a", data: b64("1") }));
    ok(await c.request("setData", { path: "/a", data: b64("2") }));
    ok(await c.request("delete", { path: "/a", version: -1 }));
    expect(ok(await c.request("exists", { path: "/a" })).stat).toBeNull();
  });

  it("the matching version deletes", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    ok(await c.request("setData", { path: "/a", data: b64("1") }));
    ok(await c.request("delete", { path: "/a", version: 1 }));
    expect(ok(await c.request("exists", { path: "/a" })).stat).toBeNull();
  });

  it("a wrong version is BADVERSION and deletes nothing", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    fails(await c.request("delete", { path: "/a", version: 1 }), -103, "BADVERSION");
    expect(ok(await c.request("exists", { path: "/a" })).stat).not.toBeNull();
  });

  it("BADVERSION wins over NOTEMPTY", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    ok(await c.request("create", { path: "/a/b" }));
    fails(await c.request("delete", { path: "/a", version: 5 }), -103, "BADVERSION");
    fails(await c.request("delete", { path: "/a", version: 0 }), -111, "NOTEMPTY");
  });

  it.each(["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"])("deleting %s is BADARGUMENTS", async (path) => {
    const c = await client();
    fails(await c.request("delete", { path }), -8, "BADARGUMENTS");
    fails(await c.request("delete", { path, version: 0 }), -8, "BADARGUMENTS");
    expect(ok(await c.request("exists", { path })).stat).not.toBeNull();
  });

  it("any session may delete another session's ephemeral node", async () => {
    const ns = freshNamespace("ops");
    const a = await client(ns);
    const b = await client(ns);
    ok(await a.request("create", { path: "/e", mode: "ephemeral" }));
    ok(await b.request("delete", { path: "/e" }));
    expect(ok(await a.request("exists", { path: "/e" })).stat).toBeNull();
    expect(ok(await a.request("getEphemerals", {})).paths).toEqual([]);
  });

  it("a deleted node can be created again", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a", data: b64("1") }));
    ok(await c.request("delete", { path: "/a" }));
    const r = ok(await c.request("create", { path: "/a", data: b64("2") }));
    expect(r.stat.version).toBe(0);
    expect(ok(await c.request("getData", { path: "/a" })).data).toBe(b64("2"));
  });
});

describe("exists / getData / setData", () => {
  it("exists returns the stat of an existing node", async () => {
    const c = await client();
    const created = ok(await c.request("create", { path: "/a", data: b64("xy") }));
    const r = ok(await c.request("exists", { path: "/a" }));
    expect(r.stat).toEqual(created.stat);
  });

  it("exists on a missing node is not an error: stat is null", async () => {
    const c = await client();
    const r = await c.request("exists", { path: "/nope" });
    expect(r.err).toBe(0);
    expect(r).toHaveProperty("stat", null);
    expect(r.code).toBeUndefined();
  });

  it("getData returns the data and the stat", async () => {
    const c = await client();
    const created = ok(await c.request("create", { path: "/a", data: b64("payload") }));
    const r = ok(await c.request("getData", { path: "/a" }));
    expect(r.data).toBe(b64("payload"));
    expect(r.stat).toEqual(created.stat);
  });

  it("getData on a missing node is NONODE", async () => {
    const c = await client();
    fails(await c.request("getData", { path: "/nope" }), -101, "NONODE");
  });

  it("setData replaces the data and returns the new stat", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a", data: b64("old") }));
    const r = ok(await c.request("setData", { path: "/a", data: b64("newer") }));
    expect(r.stat.version).toBe(1);
    expect(r.stat.dataLength).toBe(5);
    const g = ok(await c.request("getData", { path: "/a" }));
    expect(g.data).toBe(b64("newer"));
    expect(g.stat).toEqual(r.stat);
  });

  it("setData with the matching version succeeds, and the version moves on", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    expect(ok(await c.request("setData", { path: "/a", data: b64("1"), version: 0 })).stat.version).toBe(1);
    expect(ok(await c.request("setData", { path: "/a", data: b64("2"), version: 1 })).stat.version).toBe(2);
  });

  it("setData with a wrong version is BADVERSION and changes nothing", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a", data: b64("keep") }));
    fails(await c.request("setData", { path: "/a", data: b64("lost"), version: 3 }), -103, "BADVERSION");
    const g = ok(await c.request("getData", { path: "/a" }));
    expect(g.data).toBe(b64("keep"));
    expect(g.stat.version).toBe(0);
  });

  it("setData with version -1 or no version writes whatever the version", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    ok(await c.request("setData", { path: "/a", data: b64("1"), version: 0 }));
    expect(ok(await c.request("setData", { path: "/a", data: b64("2"), version: -1 })).stat.version).toBe(2);
    expect(ok(await c.request("setData", { path: "/a", data: b64("3") })).stat.version).toBe(3);
  });

  it.each([-2, 2 ** 31])("version %d is out of range: BADARGUMENTS", async (version) => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    fails(await c.request("setData", { path: "/a", data: "", version }), -8, "BADARGUMENTS");
    fails(await c.request("delete", { path: "/a", version }), -8, "BADARGUMENTS");
  });

  it("setData on a missing node is NONODE", async () => {
    const c = await client();
    fails(await c.request("setData", { path: "/nope", data: b64("x") }), -101, "NONODE");
    expect(ok(await c.request("exists", { path: "/nope" })).stat).toBeNull();
  });

  it("setData on /zookeeper/config is NOAUTH", async () => {
    const c = await client();
    fails(await c.request("setData", { path: "/zookeeper/config", data: b64("x") }), -102, "NOAUTH");
    const g = ok(await c.request("getData", { path: "/zookeeper/config" }));
    expect(g.data).toBe("");
    expect(g.stat.version).toBe(0);
  });

  it.each(["/", "/zookeeper", "/zookeeper/quota"])("setData on %s is allowed", async (path) => {
    const c = await client();
    const r = ok(await c.request("setData", { path, data: b64("x") }));
    expect(r.stat.version).toBe(1);
    expect(ok(await c.request("getData", { path })).data).toBe(b64("x"));
  });
});

describe("data", () => {
  it("empty data is stored and returned as an empty string", async () => {
    const c = await client();
    expect(ok(await c.request("create", { path: "/a", data: "" })).stat.dataLength).toBe(0);
    const g = ok(await c.request("getData", { path: "/a" }));
    expect(g.data).toBe("");
    expect(g.stat.dataLength).toBe(0);
  });

  it("null or absent data on create means empty data", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a", data: null }));
    ok(await c.request("create", { path: "/b" }));
    expect(ok(await c.request("getData", { path: "/a" })).data).toBe("");
    expect(ok(await c.request("getData", { path: "/b" })).data).toBe("");
  });

  it("setData to empty data empties the node", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a", data: b64("abc") }));
    expect(ok(await c.request("setData", { path: "/a", data: "" })).stat.dataLength).toBe(0);
    expect(ok(await c.request("getData", { path: "/a" })).data).toBe("");
  });

  it("binary data (every byte value) round-trips exactly", async () => {
    const c = await client();
    const bytes = new Uint8Array(512);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff;
    bytes[0] = 0;
    bytes[1] = 0xff;
    const data = bytesB64(bytes);
    expect(ok(await c.request("create", { path: "/bin", data })).stat.dataLength).toBe(512);
    expect(ok(await c.request("getData", { path: "/bin" })).data).toBe(data);
    const all = bytesB64(Uint8Array.from({ length: 256 }, (_, i) => i));
    ok(await c.request("setData", { path: "/bin", data: all }));
    const g = ok(await c.request("getData", { path: "/bin" }));
    expect(g.data).toBe(all);
    expect(g.stat.dataLength).toBe(256);
  });

  it("data of exactly 1 MiB is accepted", async () => {
    const c = await client();
    const data = bytesB64(new Uint8Array(MiB).fill(0x61));
    expect(ok(await c.request("create", { path: "/big", data })).stat.dataLength).toBe(MiB);
    expect(ok(await c.request("exists", { path: "/big" })).stat.dataLength).toBe(MiB);
  });

  it("data over 1 MiB on create is BADARGUMENTS and creates nothing", async () => {
    const c = await client();
    const data = bytesB64(new Uint8Array(MiB + 1).fill(0x61));
    fails(await c.request("create", { path: "/big", data }), -8, "BADARGUMENTS");
    expect(ok(await c.request("exists", { path: "/big" })).stat).toBeNull();
  });

  it("data over 1 MiB on setData is BADARGUMENTS and changes nothing", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a", data: b64("small") }));
    const data = bytesB64(new Uint8Array(MiB + 1).fill(0x62));
    fails(await c.request("setData", { path: "/a", data }), -8, "BADARGUMENTS");
    const g = ok(await c.request("getData", { path: "/a" }));
    expect(g.data).toBe(b64("small"));
    expect(g.stat.version).toBe(0);
  });

  it("the handshake announces the data limit", async () => {
    const c = await client();
    expect(c.hello!.maxDataBytes).toBe(MiB);
  });
});

describe("getChildren / getChildren2", () => {
  it("returns the children sorted, with the parent's stat", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    for (const n of ["b", "a", "c", "aa", "B", "a0", "a-"]) ok(await c.request("create", { path: `/p/${n}` }));
    const r = ok(await c.request("getChildren", { path: "/p" }));
    expect(r.children).toEqual(["B", "a", "a-", "a0", "aa", "b", "c"]);
    expect(r.stat).toEqual(ok(await c.request("exists", { path: "/p" })).stat);
    expect(r.cursor).toBeUndefined();
  });

  it("returns only direct children", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    ok(await c.request("create", { path: "/p/a" }));
    ok(await c.request("create", { path: "/p/a/deep" }));
    ok(await c.request("create", { path: "/pp" }));
    expect(await children(c, "/p")).toEqual(["a"]);
  });

  it("a fresh root has only zookeeper; /zookeeper has config and quota", async () => {
    const c = await client();
    expect(await children(c, "/")).toEqual(["zookeeper"]);
    expect(await children(c, "/zookeeper")).toEqual(["config", "quota"]);
  });

  it("a leaf has an empty list", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/leaf" }));
    expect(await children(c, "/leaf")).toEqual([]);
  });

  it("a missing node is NONODE", async () => {
    const c = await client();
    fails(await c.request("getChildren", { path: "/nope" }), -101, "NONODE");
    fails(await c.request("getChildren2", { path: "/nope" }), -101, "NONODE");
  });

  it("getChildren2 answers like getChildren, stat included", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    ok(await c.request("create", { path: "/p/y" }));
    ok(await c.request("create", { path: "/p/x" }));
    const one = ok(await c.request("getChildren", { path: "/p" }));
    const two = ok(await c.request("getChildren2", { path: "/p" }));
    expect(two.children).toEqual(["x", "y"]);
    expect(two.stat).toEqual(one.stat);
    expect(two.stat.numChildren).toBe(2);
  });

  async function parentWith(c: RawClient, n: number): Promise<string[]> {
    ok(await c.request("create", { path: "/p" }));
    const names = Array.from({ length: n }, (_, i) => `c${String(i).padStart(2, "0")}`);
    const rs = await c.batch([...names].reverse().map((name) => ({ op: "create", path: `/p/${name}` })));
    for (const r of rs) ok(r);
    return names;
  }

  it("paginates with limit and cursor across several pages", async () => {
    const c = await client();
    const names = await parentWith(c, 10);
    const p1 = ok(await c.request("getChildren", { path: "/p", limit: 4 }));
    expect(p1.children).toEqual(names.slice(0, 4));
    expect(p1.cursor).toBe("c03");
    const p2 = ok(await c.request("getChildren", { path: "/p", limit: 4, cursor: p1.cursor }));
    expect(p2.children).toEqual(names.slice(4, 8));
    expect(p2.cursor).toBe("c07");
    const p3 = ok(await c.request("getChildren", { path: "/p", limit: 4, cursor: p2.cursor }));
    expect(p3.children).toEqual(names.slice(8));
    expect(p3.cursor).toBeUndefined();
    expect(p3.stat.numChildren).toBe(10);
  });

  it("getChildren2 paginates the same way", async () => {
    const c = await client();
    const names = await parentWith(c, 5);
    const p1 = ok(await c.request("getChildren2", { path: "/p", limit: 3 }));
    expect(p1.children).toEqual(names.slice(0, 3));
    const p2 = ok(await c.request("getChildren2", { path: "/p", limit: 3, cursor: p1.cursor }));
    expect(p2.children).toEqual(names.slice(3));
    expect(p2.cursor).toBeUndefined();
  });

  it("a page that ends exactly at the last child carries no cursor", async () => {
    const c = await client();
    const names = await parentWith(c, 6);
    const p1 = ok(await c.request("getChildren", { path: "/p", limit: 3 }));
    expect(p1.cursor).toBe("c02");
    const p2 = ok(await c.request("getChildren", { path: "/p", limit: 3, cursor: p1.cursor }));
    expect(p2.children).toEqual(names.slice(3));
    expect(p2.cursor).toBeUndefined();
    const all = ok(await c.request("getChildren", { path: "/p", limit: 6 }));
    expect(all.children).toEqual(names);
    expect(all.cursor).toBeUndefined();
  });

  it("a cursor need not be a current child: names after it are returned", async () => {
    const c = await client();
    const names = await parentWith(c, 6);
    const r = ok(await c.request("getChildren", { path: "/p", limit: 10, cursor: "c02x" }));
    expect(r.children).toEqual(names.slice(3));
    const deleted = ok(await c.request("delete", { path: "/p/c03" }));
    expect(deleted.err).toBe(0);
    const after = ok(await c.request("getChildren", { path: "/p", limit: 2, cursor: "c03" }));
    expect(after.children).toEqual(["c04", "c05"]);
  });

  it("a cursor past the last child gives an empty page", async () => {
    const c = await client();
    await parentWith(c, 3);
    const r = ok(await c.request("getChildren", { path: "/p", limit: 5, cursor: "zzz" }));
    expect(r.children).toEqual([]);
    expect(r.cursor).toBeUndefined();
  });

  it("limit 1 walks the children one by one", async () => {
    const c = await client();
    const names = await parentWith(c, 4);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const r = ok(await c.request("getChildren", { path: "/p", limit: 1, ...(cursor ? { cursor } : {}) }));
      seen.push(...r.children);
      cursor = r.cursor;
      if (!cursor) break;
    }
    expect(seen).toEqual(names);
  });

  it("limit 10000 is accepted", async () => {
    const c = await client();
    const names = await parentWith(c, 3);
    expect(ok(await c.request("getChildren", { path: "/p", limit: 10_000 })).children).toEqual(names);
  });

  it.each([0, -1, 10_001, 1.5, "3"])("limit %j is BADARGUMENTS", async (limit) => {
    const c = await client();
    await parentWith(c, 3);
    fails(await c.request("getChildren", { path: "/p", limit }), -8, "BADARGUMENTS");
    fails(await c.request("getChildren2", { path: "/p", limit }), -8, "BADARGUMENTS");
  });
});

describe("getACL / setACL", () => {
  it("getACL returns the ACL and the stat", async () => {
    const c = await client();
    const created = ok(await c.request("create", { path: "/a" }));
    const r = ok(await c.request("getACL", { path: "/a" }));
    expect(r.acl).toEqual(OPEN_ACL);
    expect(r.stat).toEqual(created.stat);
  });

  it("/zookeeper/config is world-readable only, with aversion -1", async () => {
    const c = await client();
    const r = ok(await c.request("getACL", { path: "/zookeeper/config" }));
    expect(r.acl).toEqual([{ perms: 1, scheme: "world", id: "anyone" }]);
    expect(r.stat.aversion).toBe(-1);
  });

  it("getACL on a missing node is NONODE", async () => {
    const c = await client();
    fails(await c.request("getACL", { path: "/nope" }), -101, "NONODE");
  });

  it("setACL replaces the ACL and bumps aversion", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    const acl = [{ perms: 3, scheme: "ip", id: "127.0.0.1" }];
    const r = ok(await c.request("setACL", { path: "/a", acl }));
    expect(r.stat.aversion).toBe(1);
    const g = ok(await c.request("getACL", { path: "/a" }));
    expect(g.acl).toEqual(acl);
    expect(g.stat).toEqual(r.stat);
  });

  it("setACL versions are checked against aversion", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    ok(await c.request("setData", { path: "/a", data: b64("1") }));
    ok(await c.request("setData", { path: "/a", data: b64("2") }));
    // version is 2, aversion 0: the data version does not count.
    fails(await c.request("setACL", { path: "/a", acl: OPEN_ACL, version: 2 }), -103, "BADVERSION");
    expect(ok(await c.request("setACL", { path: "/a", acl: OPEN_ACL, version: 0 })).stat.aversion).toBe(1);
    expect(ok(await c.request("setACL", { path: "/a", acl: OPEN_ACL, version: 1 })).stat.aversion).toBe(2);
    fails(await c.request("setACL", { path: "/a", acl: OPEN_ACL, version: 1 }), -103, "BADVERSION");
  });

  it("setACL with version -1 or none applies whatever the aversion", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    ok(await c.request("setACL", { path: "/a", acl: OPEN_ACL, version: 0 }));
    expect(ok(await c.request("setACL", { path: "/a", acl: OPEN_ACL, version: -1 })).stat.aversion).toBe(2);
    expect(ok(await c.request("setACL", { path: "/a", acl: OPEN_ACL })).stat.aversion).toBe(3);
  });

  it("BADVERSION on setACL leaves the ACL unchanged", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    fails(await c.request("setACL", { path: "/a", acl: [{ perms: 1, scheme: "world", id: "anyone" }], version: 4 }), -103, "BADVERSION");
    const g = ok(await c.request("getACL", { path: "/a" }));
    expect(g.acl).toEqual(OPEN_ACL);
    expect(g.stat.aversion).toBe(0);
  });

  it.each([
    ["an empty list", []],
    ["an unknown scheme", [{ perms: 31, scheme: "kerberos", id: "x" }]],
    ["world with an id other than anyone", [{ perms: 31, scheme: "world", id: "someone" }]],
    ["auth without authenticated identities", [{ perms: 31, scheme: "auth", id: "" }]],
    ["a good entry followed by a bad one", [{ perms: 31, scheme: "world", id: "anyone" }, { perms: 31, scheme: "bogus", id: "x" }]],
  ])("setACL with %s is INVALIDACL and changes nothing", async (_label, acl) => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    fails(await c.request("setACL", { path: "/a", acl }), -114, "INVALIDACL");
    const g = ok(await c.request("getACL", { path: "/a" }));
    expect(g.acl).toEqual(OPEN_ACL);
    expect(g.stat.aversion).toBe(0);
  });

  it("INVALIDACL is checked before NONODE on setACL", async () => {
    const c = await client();
    fails(await c.request("setACL", { path: "/nope", acl: [] }), -114, "INVALIDACL");
    fails(await c.request("setACL", { path: "/nope", acl: OPEN_ACL }), -101, "NONODE");
  });

  it("setACL on /zookeeper/config is NOAUTH", async () => {
    const c = await client();
    fails(await c.request("setACL", { path: "/zookeeper/config", acl: OPEN_ACL }), -102, "NOAUTH");
    expect(ok(await c.request("getACL", { path: "/zookeeper/config" })).stat.aversion).toBe(-1);
  });

  it("an ACL without WRITE makes setData NOAUTH", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a", data: b64("x") }));
    ok(await c.request("setACL", { path: "/a", acl: [{ perms: 1 | 16, scheme: "world", id: "anyone" }] }));
    fails(await c.request("setData", { path: "/a", data: b64("y") }), -102, "NOAUTH");
    expect(ok(await c.request("getData", { path: "/a" })).data).toBe(b64("x"));
  });
});

describe("check / sync", () => {
  it("check succeeds on the current version and changes nothing", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    ok(await c.request("setData", { path: "/a", data: b64("1") }));
    const before = await c.currentZxid();
    const r = ok(await c.request("check", { path: "/a", version: 1 }));
    expect(r.zxid).toBe(before);
    expect(await c.currentZxid()).toBe(before);
  });

  it("check with version -1 or none only checks existence", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    ok(await c.request("check", { path: "/a", version: -1 }));
    ok(await c.request("check", { path: "/a" }));
  });

  it("check with a wrong version is BADVERSION", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    fails(await c.request("check", { path: "/a", version: 1 }), -103, "BADVERSION");
  });

  it("check on a missing node is NONODE", async () => {
    const c = await client();
    fails(await c.request("check", { path: "/nope" }), -101, "NONODE");
    fails(await c.request("check", { path: "/nope", version: 0 }), -101, "NONODE");
  });

  it("sync answers with its path and the current zxid", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    const z = await c.currentZxid();
    const r = ok(await c.request("sync", { path: "/a" }));
    expect(r.path).toBe("/a");
    expect(r.zxid).toBe(z);
    expect(await c.currentZxid()).toBe(z);
  });
});

describe("getEphemerals", () => {
  it("lists the session's ephemeral nodes, sorted, by default all of them", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/app" }));
    ok(await c.request("create", { path: "/z", mode: "ephemeral" }));
    ok(await c.request("create", { path: "/app/b", mode: "ephemeral" }));
    ok(await c.request("create", { path: "/app/a-", mode: "ephemeral_sequential" }));
    ok(await c.request("create", { path: "/p", mode: "persistent" }));
    const all = ["/app/a-0000000001", "/app/b", "/z"];
    expect(ok(await c.request("getEphemerals", {})).paths).toEqual(all);
    expect(ok(await c.request("getEphemerals", { path: "/" })).paths).toEqual(all);
  });

  it("the prefix is a plain string prefix, not a subtree", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a", mode: "ephemeral" }));
    ok(await c.request("create", { path: "/ab", mode: "ephemeral" }));
    ok(await c.request("create", { path: "/b", mode: "ephemeral" }));
    expect(ok(await c.request("getEphemerals", { path: "/a" })).paths).toEqual(["/a", "/ab"]);
    expect(ok(await c.request("getEphemerals", { path: "/ab" })).paths).toEqual(["/ab"]);
    expect(ok(await c.request("getEphemerals", { path: "/abc" })).paths).toEqual([]);
  });

  it("a blank or empty prefix means all", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/a", mode: "ephemeral" }));
    expect(ok(await c.request("getEphemerals", { path: "" })).paths).toEqual(["/a"]);
    expect(ok(await c.request("getEphemerals", { path: "   " })).paths).toEqual(["/a"]);
  });

  it("lists only the calling session's ephemerals", async () => {
    const ns = freshNamespace("ops");
    const a = await client(ns);
    const b = await client(ns);
    ok(await a.request("create", { path: "/mine", mode: "ephemeral" }));
    ok(await b.request("create", { path: "/yours", mode: "ephemeral" }));
    expect(ok(await a.request("getEphemerals", {})).paths).toEqual(["/mine"]);
    expect(ok(await b.request("getEphemerals", {})).paths).toEqual(["/yours"]);
  });

  it("is an empty list for a session without ephemerals", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    expect(ok(await c.request("getEphemerals", {})).paths).toEqual([]);
  });

  it("no longer lists a deleted ephemeral", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/e", mode: "ephemeral" }));
    ok(await c.request("delete", { path: "/e" }));
    expect(ok(await c.request("getEphemerals", {})).paths).toEqual([]);
  });
});

describe("getAllChildrenNumber", () => {
  it("a fresh namespace's root has 3 descendants (the /zookeeper subtree)", async () => {
    const c = await client();
    expect(ok(await c.request("getAllChildrenNumber", { path: "/" })).count).toBe(3);
  });

  it("counts all descendants, not the node itself, and not siblings sharing a prefix", async () => {
    const c = await client();
    for (const p of ["/a", "/a/b", "/a/b/c", "/a/d", "/a-x", "/a0", "/ab"]) ok(await c.request("create", { path: p }));
    expect(ok(await c.request("getAllChildrenNumber", { path: "/a" })).count).toBe(3);
    expect(ok(await c.request("getAllChildrenNumber", { path: "/a/b" })).count).toBe(1);
    expect(ok(await c.request("getAllChildrenNumber", { path: "/a/b/c" })).count).toBe(0);
    expect(ok(await c.request("getAllChildrenNumber", { path: "/" })).count).toBe(3 + 7);
    expect(ok(await c.request("getAllChildrenNumber", { path: "/zookeeper" })).count).toBe(2);
  });

  it("a missing node is NONODE", async () => {
    const c = await client();
    fails(await c.request("getAllChildrenNumber", { path: "/nope" }), -101, "NONODE");
  });
});

describe("whoAmI", () => {
  it("an unauthenticated client is known by its ip", async () => {
    const c = await client();
    const r = ok(await c.request("whoAmI"));
    expect(r.identities).toHaveLength(1);
    expect(r.identities[0].scheme).toBe("ip");
    expect(r.identities[0].id).toMatch(/^[0-9a-fA-F.:]+$/);
    expect(r.identities[0].id).toBe("127.0.0.1");
  });
});

describe("path rules", () => {
  const BAD: Array<[string, string]> = [
    ["empty", ""],
    ["relative", "a"],
    ["relative with slash", "a/b"],
    ["trailing slash", "/a/"],
    ["double slash", "//a"],
    ["inner double slash", "/a//b"],
    ['"." segment', "/a/."],
    ['"." segment in the middle', "/a/./b"],
    ['".." segment', "/a/.."],
    ['".." segment in the middle', "/a/../b"],
    ["lone dot", "/."],
    ["lone dot dot", "/.."],
    ["null char", "/a\u0000b"],
    ["control char \\u0001", "/a\u0001"],
    ["control char \\u001f", "/a\u001f"],
    ["DEL", "/a\u007f"],
    ["C1 control \\u009f", "/a\u009f"],
    ["non-BMP char", "/a\u{1F600}"],
    ["lone surrogate", "/a\ud800"],
    ["private use char", "/a\ue000"],
    ["\\ufff0", "/a\ufff0"],
    ["\\uffff", "/a\uffff"],
  ];

  it.each(BAD)("create with a path that is %s is BADARGUMENTS", async (_label, path) => {
    const c = await client();
    ok(await c.request("create", { path: "/a" }));
    const before = await c.currentZxid();
    fails(await c.request("create", { path }), -8, "BADARGUMENTS");
    expect(await c.currentZxid()).toBe(before);
    expect(await children(c, "/a")).toEqual([]);
    expect(await children(c, "/")).toEqual(["a", "zookeeper"]);
  });

  it.each(["getData", "exists", "getChildren", "delete", "setData", "getACL", "check", "sync", "getAllChildrenNumber"])(
    "%s with a bad path is BADARGUMENTS",
    async (op) => {
      const c = await client();
      ok(await c.request("create", { path: "/a" }));
      for (const path of ["/a/", "a", "/a//b", "/a/..", "/a\u0000"]) fails(await c.request(op, { path, data: "" }), -8, "BADARGUMENTS");
    },
  );

  it("setACL with a bad path is BADARGUMENTS", async () => {
    const c = await client();
    fails(await c.request("setACL", { path: "/a/", acl: OPEN_ACL }), -8, "BADARGUMENTS");
  });

  it.each([
    ["dot-prefixed name", "/.a"],
    ["dot-suffixed name", "/a."],
    ["three dots", "/..."],
    ["dots inside", "/a..b"],
    ["space", "/a b"],
    ["latin-1 letter", "/\u00fcber"],
    ["CJK", "/\u4e2d\u6587"],
    ["colon and punctuation", "/a:b-c_d~e"],
  ])("a %s is a valid name", async (_label, path) => {
    const c = await client();
    expect(ok(await c.request("create", { path })).path).toBe(path);
    expect(await children(c, "/")).toContain(path.slice(1));
    ok(await c.request("getData", { path }));
    ok(await c.request("delete", { path }));
  });

  it("a path over 4096 characters is BADARGUMENTS", async () => {
    const c = await client();
    fails(await c.request("create", { path: "/" + "a".repeat(4096) }), -8, "BADARGUMENTS");
  });
});

describe("TTL arguments", () => {
  it.each(["persistent_ttl", "persistent_sequential_ttl", 5, 6])("mode %j without a ttl is BADARGUMENTS", async (mode) => {
    const c = await client();
    fails(await c.request("create", { path: "/t", mode }), -8, "BADARGUMENTS");
    expect(await children(c, "/")).toEqual(["zookeeper"]);
  });

  it.each([0, -1, 2 ** 40, 2 ** 53, 1.5])("ttl %d is out of range for TTL modes: BADARGUMENTS", async (ttl) => {
    const c = await client();
    fails(await c.request("create", { path: "/t", mode: "persistent_ttl", ttl }), -8, "BADARGUMENTS");
    fails(await c.request("create", { path: "/t", mode: "persistent_sequential_ttl", ttl }), -8, "BADARGUMENTS");
    expect(await children(c, "/")).toEqual(["zookeeper"]);
  });

  it("ttl 1 and ttl 2^40-1 are the accepted bounds", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/p" }));
    ok(await c.request("create", { path: "/p/lo", mode: "persistent_ttl", ttl: 2 ** 40 - 1 }));
    ok(await c.request("create", { path: "/p/hi-", mode: "persistent_sequential_ttl", ttl: 2 ** 40 - 1 }));
    const one = ok(await c.request("create", { path: "/one", mode: "persistent_ttl", ttl: 1 }));
    expect(one.stat.ephemeralOwner).toBe(NO_OWNER);
  });

  it.each(["persistent", "ephemeral", "persistent_sequential", "ephemeral_sequential", "container"])(
    "a non-zero ttl with mode %s is BADARGUMENTS",
    async (mode) => {
      const c = await client();
      fails(await c.request("create", { path: "/x", mode, ttl: 1000 }), -8, "BADARGUMENTS");
      expect(await children(c, "/")).toEqual(["zookeeper"]);
    },
  );

  it("ttl 0 with a non-TTL mode is accepted (only a non-zero ttl is refused)", async () => {
    const c = await client();
    ok(await c.request("create", { path: "/x", mode: "persistent", ttl: 0 }));
  });

  it("the handshake says TTL nodes are enabled", async () => {
    const c = await client();
    expect(c.hello!.ttlEnabled).toBe(true);
  });
});
