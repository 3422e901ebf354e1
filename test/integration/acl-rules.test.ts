import { afterEach, describe, expect, it } from "vitest";
import { b64, freshNamespace, RawClient, type Msg } from "../helpers/raw-client.js";
import { digestId } from "../../src/protocol/digest.js";

/**
 * Per-node ACLs over the WebSocket protocol, checked where ZooKeeper 3.8.4+ checks them:
 *
 *   create → CREATE on the parent      delete → DELETE on the parent
 *   getData, getChildren, exists, getAllChildrenNumber, addWatch, check → READ on the node
 *   setData → WRITE                    setACL → ADMIN
 *   getACL → READ or ADMIN; digest hashes masked without ADMIN
 *   persistent-recursive watch events → only for nodes the watcher may READ
 *
 * Each rule: with every permission but the one it needs, NOAUTH and nothing changes; with
 * only that one, it works. The test clients' identities: ip 127.0.0.1, plus digests they add.
 */

const ALL = 31;
const [READ, WRITE, CREATE, DELETE, ADMIN] = [1, 2, 4, 8, 16];
const open: RawClient[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

async function client(ns: string, auth?: string): Promise<RawClient> {
  const c = await RawClient.connect(ns);
  open.push(c);
  if (auth) expect((await c.request("addAuth", { scheme: "digest", auth })).err).toBe(0);
  return c;
}

/** A node /n whose ACL gives the owner (digest owner:pw) ALL and 127.0.0.1 exactly `perms`. */
async function setup(perms: number, children = false) {
  const ns = freshNamespace("acl");
  const owner = await client(ns, "owner:pw");
  const acl = [
    { scheme: "digest", id: digestId("owner:pw"), perms: ALL },
    { scheme: "ip", id: "127.0.0.1", perms },
  ];
  expect((await owner.request("create", { path: "/n", data: b64("v0"), acl })).err).toBe(0);
  if (children) expect((await owner.request("create", { path: "/n/c", data: b64("c") })).err).toBe(0);
  const other = await client(ns);
  return { ns, owner, other };
}

async function nodeState(c: RawClient): Promise<Msg> {
  const r = await c.request("getData", { path: "/n" });
  const kids = await c.request("getChildren", { path: "/n" });
  const acl = await c.request("getACL", { path: "/n" });
  return { data: r.data, version: r.stat?.version, children: kids.children, acl: acl.acl, aversion: acl.stat?.aversion };
}

/** Runs `op` as the other client: NOAUTH (and nothing changed) without `perm`, success with only `perm`. */
async function rule(perm: number, op: string, fields: Msg, opts: { children?: boolean } = {}) {
  const without = await setup(ALL & ~perm, opts.children);
  const before = await nodeState(without.owner);
  const zxid = await without.owner.currentZxid();
  const denied = await without.other.request(op, fields);
  expect(denied.err, `${op} without its permission`).toBe(-102);
  expect(denied.message).toMatch(/not authorized/);
  expect(await nodeState(without.owner)).toEqual(before);
  expect(await without.owner.currentZxid()).toBe(zxid);

  const withOnly = await setup(perm, opts.children);
  const allowed = await withOnly.other.request(op, fields);
  expect(allowed.err, `${op} with only its permission: ${JSON.stringify(allowed)}`).toBe(0);
}

describe("ZooKeeper's ACL table", () => {
  it("create needs CREATE on the parent", () => rule(CREATE, "create", { path: "/n/new", data: "" }));
  it("delete needs DELETE on the parent", () => rule(DELETE, "delete", { path: "/n/c" }, { children: true }));
  it("setData needs WRITE", () => rule(WRITE, "setData", { path: "/n", data: b64("v1") }));
  it("setACL needs ADMIN", () => rule(ADMIN, "setACL", { path: "/n", acl: [{ scheme: "world", id: "anyone", perms: ALL }] }));
  it("getData needs READ", () => rule(READ, "getData", { path: "/n" }));
  it("getChildren needs READ", () => rule(READ, "getChildren", { path: "/n" }));
  it("exists needs READ on an existing node", () => rule(READ, "exists", { path: "/n" }));
  it("getAllChildrenNumber needs READ", () => rule(READ, "getAllChildrenNumber", { path: "/n" }));
  it("addWatch needs READ", () => rule(READ, "addWatch", { path: "/n", mode: "persistent" }));
  it("check needs READ", () => rule(READ, "check", { path: "/n", version: 0 }));

  it("a multi with one op lacking its permission fails whole with NOAUTH at that op", async () => {
    const { owner, other } = await setup(ALL & ~WRITE);
    const r = await other.request("multi", { ops: [{ op: "create", path: "/n/x" }, { op: "setData", path: "/n", data: b64("z") }] });
    expect(r.err).toBe(-102);
    expect(r.results.map((x: Msg) => x.err)).toEqual([0, -102]);
    expect((await owner.request("exists", { path: "/n/x" })).stat).toBeNull();
  });

  it("exists on a missing node needs nothing (there is no ACL to check)", async () => {
    const { other } = await setup(0);
    expect(await other.request("exists", { path: "/n/missing" })).toMatchObject({ err: 0, stat: null });
  });

  it("getACL needs READ or ADMIN; without ADMIN digest hashes are masked", async () => {
    const none = await setup(ALL & ~(READ | ADMIN));
    expect((await none.other.request("getACL", { path: "/n" })).err).toBe(-102);
    const readOnly = await setup(READ);
    const masked = await readOnly.other.request("getACL", { path: "/n" });
    expect(masked.err).toBe(0);
    expect(masked.acl).toContainEqual({ scheme: "digest", id: "owner:x", perms: ALL });
    const adminOnly = await setup(ADMIN);
    const full = await adminOnly.other.request("getACL", { path: "/n" });
    expect(full.acl).toContainEqual({ scheme: "digest", id: digestId("owner:pw"), perms: ALL });
    expect((await readOnly.owner.request("getACL", { path: "/n" })).acl).toContainEqual({ scheme: "digest", id: digestId("owner:pw"), perms: ALL });
  });

  it("sync and getEphemerals need no permission", async () => {
    const { other } = await setup(0);
    expect((await other.request("sync", { path: "/n" })).err).toBe(0);
    expect((await other.request("getEphemerals", { path: "/" })).err).toBe(0);
  });
});

describe("identities", () => {
  it("addAuth digest adds an identity shown by whoAmI; bad credentials get AUTHFAILED and change nothing", async () => {
    const ns = freshNamespace("acl");
    const c = await client(ns);
    expect((await c.request("addAuth", { scheme: "digest", auth: "alice:pw" })).err).toBe(0);
    expect((await c.request("addAuth", { scheme: "digest", auth: "no-colon" })).err).toBe(-115);
    expect((await c.request("addAuth", { scheme: "kerberos", auth: "x" })).err).toBe(-115);
    const who = await c.request("whoAmI");
    expect(who.identities).toEqual([
      { scheme: "ip", id: "127.0.0.1" },
      { scheme: "digest", id: digestId("alice:pw") },
    ]);
  });

  it("the auth scheme grants to the creator's authenticated identities", async () => {
    const ns = freshNamespace("acl");
    const alice = await client(ns, "alice:pw");
    expect((await alice.request("create", { path: "/mine", data: "", acl: [{ scheme: "auth", id: "", perms: ALL }] })).err).toBe(0);
    expect((await alice.request("getACL", { path: "/mine" })).acl).toEqual([{ scheme: "digest", id: digestId("alice:pw"), perms: ALL }]);
    const bob = await client(ns, "bob:pw");
    expect((await bob.request("getData", { path: "/mine" })).err).toBe(-102);
    const alice2 = await client(ns, "alice:pw");
    expect((await alice2.request("getData", { path: "/mine" })).err).toBe(0);
    // Without an authenticated identity, `auth` is an invalid ACL.
    const anon = await client(ns);
    expect((await anon.request("create", { path: "/x", data: "", acl: [{ scheme: "auth", id: "", perms: ALL }] })).err).toBe(-114);
  });

  it("ip entries match the client's address by range", async () => {
    const ns = freshNamespace("acl");
    const c = await client(ns);
    await c.request("create", { path: "/lan", data: "", acl: [{ scheme: "ip", id: "127.0.0.0/8", perms: ALL }] });
    await c.request("create", { path: "/v6", data: "", acl: [{ scheme: "ip", id: "2001:db8::/32", perms: ALL }] });
    expect((await c.request("getData", { path: "/lan" })).err).toBe(0);
    expect((await c.request("getData", { path: "/v6" })).err).toBe(-102);
    expect((await c.request("create", { path: "/bad", data: "", acl: [{ scheme: "ip", id: "not-an-ip", perms: ALL }] })).err).toBe(-114);
  });

  it("the configured super digest passes every ACL", async () => {
    const { ns } = await setup(0);
    const sup = await client(ns, "super:test");
    expect((await sup.request("whoAmI")).identities).toContainEqual({ scheme: "super", id: "" });
    expect((await sup.request("setData", { path: "/n", data: b64("by super") })).err).toBe(0);
    expect((await sup.request("getACL", { path: "/n" })).acl).toContainEqual({ scheme: "digest", id: digestId("owner:pw"), perms: ALL });
  });

  it("addAuth credentials sent with the handshake apply to the session", async () => {
    const ns = freshNamespace("acl");
    const c = await RawClient.open(ns);
    open.push(c);
    expect((await c.handshake({ auth: [{ scheme: "digest", auth: "alice:pw" }] })).type).toBe("connected");
    expect((await c.request("whoAmI")).identities).toContainEqual({ scheme: "digest", id: digestId("alice:pw") });
    const bad = await RawClient.open(ns);
    open.push(bad);
    expect(await bad.handshake({ auth: [{ scheme: "digest", auth: "nocolon" }] })).toMatchObject({ type: "connect-error", err: -115 });
  });

  it("a resumed session has the new connection's identities (as in ZooKeeper, auth is per connection)", async () => {
    const ns = freshNamespace("acl");
    const c = await client(ns, "alice:pw");
    const { sessionId, secret } = c;
    c.close();
    const r = await RawClient.open(ns);
    open.push(r);
    expect((await r.handshake({ sessionId, secret })).resumed).toBe(true);
    expect((await r.request("whoAmI")).identities).toEqual([{ scheme: "ip", id: "127.0.0.1" }]);
  });
});

describe("recursive watches see only what their session may read (CVE-2024-23944)", () => {
  it("events for unreadable nodes below a recursive watch are withheld, live and on replay", async () => {
    const ns = freshNamespace("acl");
    const owner = await client(ns, "owner:pw");
    const priv = [{ scheme: "digest", id: digestId("owner:pw"), perms: ALL }];
    await owner.request("create", { path: "/app", data: "" });
    const watcher = await client(ns);
    expect((await watcher.request("addWatch", { path: "/app", mode: "persistentRecursive" })).err).toBe(0);
    const from = watcher.received.length;
    await owner.request("create", { path: "/app/secret", data: "", acl: priv });
    await owner.request("setData", { path: "/app/secret", data: b64("s") });
    await owner.request("create", { path: "/app/public", data: "" });
    await watcher.waitFor((m) => m.type === "event" && m.path === "/app/public", from);
    await owner.request("delete", { path: "/app/secret" });
    await owner.request("setData", { path: "/app/public", data: b64("p") });
    await watcher.waitFor((m) => m.type === "event" && m.event === "NodeDataChanged" && m.path === "/app/public", from);
    expect(watcher.events(from).map((e) => `${e.event} ${e.path}`)).toEqual(["NodeCreated /app/public", "NodeDataChanged /app/public"]);

    // Replay on resume applies the same filter.
    const { sessionId, secret } = watcher;
    const lastZxid = Math.max(...watcher.received.map((m) => m.zxid ?? 0));
    watcher.close();
    await owner.request("create", { path: "/app/secret2", data: "", acl: priv });
    await owner.request("create", { path: "/app/public2", data: "" });
    const back = await RawClient.open(ns);
    open.push(back);
    const hello = await back.handshake({ sessionId, secret, lastZxid, watches: { persistentRecursive: ["/app"] } });
    expect(hello.resumed).toBe(true);
    await back.waitFor((m) => m.type === "event" && m.path === "/app/public2");
    expect(back.events().map((e) => `${e.event} ${e.path}`)).toEqual(["NodeCreated /app/public2"]);
  });
});
