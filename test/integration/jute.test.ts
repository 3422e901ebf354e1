import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { JuteWriter } from "../../src/protocol/jute/io.js";
import { OpCode } from "../../src/protocol/jute/records.js";
import { bearer, keyedWorker, SECRET, token } from "../helpers/auth.js";
import { b64, freshNamespace, ok, RawClient, sleep, stubFor } from "../helpers/raw-client.js";
import {
  createBody,
  dec,
  enc,
  JuteClient,
  multiHeader,
  OPEN_ACL,
  readAclList,
  readMultiHeaders,
  readStat,
  readStrings,
  writeAcls,
} from "../helpers/jute-client.js";

/** ZooKeeper's binary protocol on /v1/namespaces/:ns/zk (docs/zookeeper-compat.md), against the real object. */

const opened: Array<{ close(): void }> = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.close();
});
async function zk(ns: string, o: Parameters<typeof JuteClient.connect>[1] = {}): Promise<JuteClient> {
  const c = await JuteClient.connect(ns, o);
  opened.push(c);
  return c;
}
async function json(ns: string): Promise<RawClient> {
  const c = await RawClient.connect(ns);
  opened.push(c);
  return c;
}
const sidHex = (c: JuteClient) => BigInt.asUintN(64, c.sessionId).toString(16).padStart(16, "0");
const path = (w: JuteWriter, p: string) => void w.ustring(p);
const pathWatch = (p: string, watch = false) => (w: JuteWriter) => void w.ustring(p).bool(watch);
const E = { created: 1, deleted: 2, dataChanged: 3, childrenChanged: 4 };

describe("handshake", () => {
  it("a ConnectRequest opens a session: ConnectResponse with the negotiated timeout, a 64-bit id, a 16-byte password, readOnly false", async () => {
    const ns = freshNamespace("zk");
    const c = await JuteClient.open(ns);
    opened.push(c);
    expect(c.protocol).toBe("zookeeper");
    const hello = await c.handshake({ timeout: 10_000_000 });
    // protocolVersion, timeOut, sessionId, passwd (len + 16), readOnly: 4 + 4 + 8 + 4 + 16 + 1 bytes.
    expect(hello.bytes.byteLength).toBe(37);
    expect(hello).toMatchObject({ protocolVersion: 0, timeOut: 60_000, readOnly: false });
    expect(hello.sessionId).not.toBe(0n);
    expect(hello.passwd.byteLength).toBe(16);
    // The same session, seen from the JSON side's admin view of ephemerals: the id is our 16 hex digits.
    const r = await c.request(OpCode.create, createBody("/e", "x", 1));
    expect(r.err).toBe(0);
    const j = await json(ns);
    const got = ok(await j.request("getData", { path: "/e" }));
    expect(got.stat.ephemeralOwner).toBe(sidHex(c));
  });

  it("an old client without the readOnly flag gets a response without it; no subprotocol offered works too", async () => {
    const c = await JuteClient.open(freshNamespace("zk"), { protocols: [] });
    opened.push(c);
    expect(c.protocol).toBeNull();
    const hello = await c.handshake({ readOnly: null });
    expect(hello.bytes.byteLength).toBe(36);
    expect(hello.timeOut).toBe(30_000);
  });

  it("resume with id and password keeps the session and its ephemeral nodes; a wrong password gets timeout 0, id 0, and a close", async () => {
    const ns = freshNamespace("zk");
    const a = await zk(ns);
    expect((await a.request(OpCode.create, createBody("/eph", "", 1))).err).toBe(0);
    const zxid = (await a.ping()).zxid;
    a.close();
    await sleep(30);
    const b = await zk(ns, { sessionId: a.sessionId, passwd: a.passwd, lastZxid: zxid });
    expect(b.sessionId).toBe(a.sessionId);
    const st = await b.request(OpCode.exists, pathWatch("/eph"));
    expect(st.err).toBe(0);
    expect(readStat(st.r).ephemeralOwner).toBe(sidHex(a));

    const bad = await JuteClient.open(ns);
    opened.push(bad);
    const wrong = new Uint8Array(a.passwd);
    wrong[0] ^= 1;
    const refused = await bad.handshake({ sessionId: a.sessionId, passwd: wrong });
    expect(refused).toMatchObject({ timeOut: 0, sessionId: 0n });
    expect(refused.passwd).toEqual(new Uint8Array(16));
    await bad.until(() => bad.closed !== null);
    expect(bad.closed!.code).toBe(4112);
    // The session itself is untouched.
    expect((await b.ping()).err).toBe(0);
  });

  it("a client that has seen a later zxid than the server is closed without an answer, as ZooKeeper does", async () => {
    const c = await JuteClient.open(freshNamespace("zk"));
    opened.push(c);
    await expect(c.handshake({ lastZxid: 1_000_000 })).rejects.toThrow(/closed without a ConnectResponse/);
    expect(c.closed!.code).toBe(4004);
  });
});

describe("operations", () => {
  it("create modes: persistent, create2 with stat, sequential, ephemeral, container, TTL; errors", async () => {
    const ns = freshNamespace("zk");
    const c = await zk(ns);
    const r1 = await c.request(OpCode.create, createBody("/a", "hello"));
    expect(r1.err).toBe(0);
    expect(r1.r.string("path")).toBe("/a");
    expect(r1.r.remaining).toBe(0);

    const r2 = await c.request(OpCode.create2, createBody("/a/s-", "", 2));
    expect(r2.err).toBe(0);
    expect(r2.r.string("path")).toBe("/a/s-0000000000");
    const st = readStat(r2.r);
    expect(st).toMatchObject({ czxid: r2.zxid, mzxid: r2.zxid, version: 0, dataLength: 0, ephemeralOwner: "0000000000000000" });

    const r3 = await c.request(OpCode.create2, createBody("/a/e-", "z", 3));
    expect(r3.r.string("path")).toBe("/a/e-0000000001");
    expect(readStat(r3.r)).toMatchObject({ ephemeralOwner: sidHex(c), dataLength: 1 });

    const r4 = await c.request(OpCode.createContainer, createBody("/box", "", 4));
    expect(r4.err).toBe(0);
    expect(r4.r.string("path")).toBe("/box");
    expect(readStat(r4.r).ephemeralOwner).toBe("0000000000000000");
    expect((await c.request(OpCode.createContainer, createBody("/box2", "", 0))).err).toBe(-8);

    const r5 = await c.request(OpCode.createTTL, createBody("/ttl-", "", 6, OPEN_ACL, 60_000));
    expect(r5.err).toBe(0);
    expect(r5.r.string("path")).toBe("/ttl-0000000002");
    // A TTL mode without a TTL (plain create) is BADARGUMENTS, as in ZooKeeper.
    expect((await c.request(OpCode.create, createBody("/t", "", 5))).err).toBe(-8);
    expect((await c.request(OpCode.create, createBody("/t", "", 9))).err).toBe(-8);

    expect((await c.request(OpCode.create, createBody("/a", ""))).err).toBe(-110);
    expect((await c.request(OpCode.create, createBody("/none/x", ""))).err).toBe(-101);
    expect((await c.request(OpCode.create, createBody("/a/e-0000000001/x", ""))).err).toBe(-108);
    expect((await c.request(OpCode.create, createBody("bad", ""))).err).toBe(-8);
    expect((await c.request(OpCode.create, createBody("/noacl", "", 0, []))).err).toBe(-114);
  });

  it("exists, getData, setData with versions, getChildren (sorted), getChildren2, delete, sync, check", async () => {
    const c = await zk(freshNamespace("zk"));
    for (const p of ["/p", "/p/b", "/p/a", "/p/c"]) expect((await c.request(OpCode.create, createBody(p, p))).err).toBe(0);
    const ex = await c.request(OpCode.exists, pathWatch("/p"));
    expect(readStat(ex.r)).toMatchObject({ numChildren: 3, dataLength: 2 });
    const missing = await c.request(OpCode.exists, pathWatch("/nope"));
    expect(missing.err).toBe(-101);
    expect(missing.r.remaining).toBe(0);

    const gd = await c.request(OpCode.getData, pathWatch("/p/a"));
    expect(dec(gd.r.buffer())).toBe("/p/a");
    expect(readStat(gd.r).version).toBe(0);
    expect((await c.request(OpCode.getData, pathWatch("/zz"))).err).toBe(-101);

    const sd = await c.request(OpCode.setData, (w) => void w.ustring("/p/a").buffer(enc("v1")).int(0));
    expect(sd.err).toBe(0);
    expect(readStat(sd.r)).toMatchObject({ version: 1, dataLength: 2, mzxid: sd.zxid });
    expect((await c.request(OpCode.setData, (w) => void w.ustring("/p/a").buffer(enc("v2")).int(0))).err).toBe(-103);
    expect((await c.request(OpCode.setData, (w) => void w.ustring("/p/a").buffer(enc("v2")).int(-1))).err).toBe(0);

    const gc = await c.request(OpCode.getChildren, pathWatch("/p"));
    expect(readStrings(gc.r)).toEqual(["a", "b", "c"]);
    expect(gc.r.remaining).toBe(0);
    const gc2 = await c.request(OpCode.getChildren2, pathWatch("/p"));
    expect(readStrings(gc2.r)).toEqual(["a", "b", "c"]);
    expect(readStat(gc2.r).numChildren).toBe(3);

    expect((await c.request(OpCode.check, (w) => void w.ustring("/p/a").int(2))).err).toBe(0);
    expect((await c.request(OpCode.check, (w) => void w.ustring("/p/a").int(7))).err).toBe(-103);

    expect((await c.request(OpCode.delete, (w) => void w.ustring("/p").int(-1))).err).toBe(-111);
    expect((await c.request(OpCode.delete, (w) => void w.ustring("/p/a").int(5))).err).toBe(-103);
    expect((await c.request(OpCode.delete, (w) => void w.ustring("/p/a").int(2))).err).toBe(0);
    expect((await c.request(OpCode.delete, (w) => void w.ustring("/p/a").int(-1))).err).toBe(-101);

    const sy = await c.request(OpCode.sync, (w) => path(w, "/p"));
    expect(sy.r.string("path")).toBe("/p");
  });

  it("getACL, setACL (aversion), getEphemerals, getAllChildrenNumber, whoAmI", async () => {
    const c = await zk(freshNamespace("zk"));
    await c.request(OpCode.create, createBody("/acl", ""));
    await c.request(OpCode.create, createBody("/acl/x", ""));
    await c.request(OpCode.create, createBody("/acl/x/y", ""));
    await c.request(OpCode.create, createBody("/acl/e1", "", 1));
    await c.request(OpCode.create, createBody("/other", "", 1));
    const ga = await c.request(OpCode.getACL, (w) => path(w, "/acl"));
    expect(readAclList(ga.r)).toEqual(OPEN_ACL);
    expect(readStat(ga.r).aversion).toBe(0);
    const acl = [{ perms: 1 | 16, scheme: "world", id: "anyone" }]; // READ and ADMIN: setACL again reaches the version check
    const sa = await c.request(OpCode.setACL, (w) => (w.ustring("/acl/x"), writeAcls(w, acl), w.int(0)));
    expect(sa.err).toBe(0);
    expect(readStat(sa.r).aversion).toBe(1);
    expect((await c.request(OpCode.setACL, (w) => (w.ustring("/acl/x"), writeAcls(w, acl), w.int(0)))).err).toBe(-103);
    expect((await c.request(OpCode.setData, (w) => void w.ustring("/acl/x").buffer(enc("no")).int(-1))).err).toBe(-102);

    const eph = await c.request(OpCode.getEphemerals, (w) => path(w, "/acl"));
    expect(readStrings(eph.r)).toEqual(["/acl/e1"]);
    const all = await c.request(OpCode.getEphemerals, (w) => path(w, "/"));
    expect(readStrings(all.r).sort()).toEqual(["/acl/e1", "/other"]);
    const n = await c.request(OpCode.getAllChildrenNumber, (w) => path(w, "/acl"));
    expect(n.r.int()).toBe(3);

    const who = await c.request(OpCode.whoAmI);
    const ids = who.r.vector((r) => ({ scheme: r.string("s"), user: r.string("u") }));
    expect(ids).toContainEqual({ scheme: "ip", user: "127.0.0.1" });
  });

  it("multi: MultiHeader-framed results on success (one zxid), the error vector on failure with nothing applied", async () => {
    const ns = freshNamespace("zk");
    const c = await zk(ns);
    await c.request(OpCode.create, createBody("/m", "0"));
    const multi = (ops: Array<(w: JuteWriter) => void>) => (w: JuteWriter) => {
      for (const op of ops) op(w);
      multiHeader(w, -1, true, -1);
    };
    const okRes = await c.request(
      OpCode.multi,
      multi([
        (w) => (multiHeader(w, OpCode.create), createBody("/m/a", "x")(w)),
        (w) => (multiHeader(w, OpCode.create2), createBody("/m/s-", "", 2)(w)),
        (w) => (multiHeader(w, OpCode.check), w.ustring("/m").int(0)),
        (w) => (multiHeader(w, OpCode.setData), w.ustring("/m").buffer(enc("1")).int(0)),
        (w) => (multiHeader(w, OpCode.delete), w.ustring("/m/a").int(0)),
      ]),
    );
    expect(okRes.err).toBe(0);
    const results = readMultiHeaders(okRes.r, (type, r) => {
      if (type === OpCode.create) return r.string("path");
      if (type === OpCode.create2) return { path: r.string("path"), stat: readStat(r) };
      if (type === OpCode.setData) return readStat(r);
      return null;
    });
    expect(results.map((x) => [x.type, x.err])).toEqual([[1, 0], [15, 0], [13, 0], [5, 0], [2, 0]]);
    expect(results[0].value).toBe("/m/a");
    expect(results[1].value).toMatchObject({ path: "/m/s-0000000001", stat: { czxid: okRes.zxid } });
    expect(results[3].value).toMatchObject({ version: 1, mzxid: okRes.zxid });

    const bad = await c.request(
      OpCode.multi,
      multi([
        (w) => (multiHeader(w, OpCode.create), createBody("/m/b", "")(w)),
        (w) => (multiHeader(w, OpCode.setData), w.ustring("/m").buffer(enc("2")).int(99)),
        (w) => (multiHeader(w, OpCode.delete), w.ustring("/m/s-0000000001").int(-1)),
      ]),
    );
    // ZooKeeper: err 0 in the header, the errors in the results (ErrorResult: type -1 + ErrorResponse).
    expect(bad.err).toBe(0);
    const errs = readMultiHeaders(bad.r, () => {
      throw new Error("only error results expected");
    });
    expect(errs.map((x) => [x.type, x.err, x.value])).toEqual([[-1, 0, 0], [-1, -103, -103], [-1, -2, -2]]);
    expect(bad.zxid).toBe(okRes.zxid);
    expect((await c.request(OpCode.exists, pathWatch("/m/b"))).err).toBe(-101);
    // An op that cannot be part of a multi, and an empty multi.
    expect((await c.request(OpCode.multi, multi([(w) => (multiHeader(w, OpCode.getData), pathWatch("/m")(w))]))).err).toBe(-8);
    const empty = await c.request(OpCode.multi, multi([]));
    expect(empty.err).toBe(0);
    expect(readMultiHeaders(empty.r, () => null)).toEqual([]);
  });

  it("multiRead: getData and getChildren results, each independent, errors as ErrorResults", async () => {
    const c = await zk(freshNamespace("zk"));
    await c.request(OpCode.create, createBody("/r", "root"));
    await c.request(OpCode.create, createBody("/r/k", ""));
    const res = await c.request(OpCode.multiRead, (w) => {
      multiHeader(w, OpCode.getData);
      pathWatch("/r")(w);
      multiHeader(w, OpCode.getChildren);
      pathWatch("/r")(w);
      multiHeader(w, OpCode.getData);
      pathWatch("/missing")(w);
      multiHeader(w, -1, true, -1);
    });
    expect(res.err).toBe(0);
    const out = readMultiHeaders(res.r, (type, r) => (type === OpCode.getData ? { data: dec(r.buffer()), stat: readStat(r) } : readStrings(r)));
    expect(out[0]).toMatchObject({ type: 4, err: 0, value: { data: "root", stat: { numChildren: 1 } } });
    expect(out[1]).toMatchObject({ type: 8, err: 0, value: ["k"] });
    expect(out[2]).toMatchObject({ type: -1, err: -101, value: -101 });
  });

  it("ping is answered with xid -2; reconfig, sasl, deleteContainer and unknown opcodes get UNIMPLEMENTED (-6)", async () => {
    const c = await zk(freshNamespace("zk"));
    const p = await c.ping();
    expect(p).toMatchObject({ xid: -2, err: 0 });
    for (const type of [OpCode.reconfig, OpCode.sasl, OpCode.deleteContainer, OpCode.createSession, 77, 9999])
      expect((await c.request(type, (w) => void w.ustring("x"))).err, `op ${type}`).toBe(-6);
    expect((await c.ping()).err).toBe(0);
  });
});

describe("watches, one core for both protocols", () => {
  it("one-shot data, exist and child watches fire as WatcherEvent notifications (xid -1, SyncConnected), for a JSON client's writes too", async () => {
    const ns = freshNamespace("zk");
    const c = await zk(ns);
    const j = await json(ns);
    await c.request(OpCode.create, createBody("/w", ""));
    await c.request(OpCode.getData, pathWatch("/w", true));
    await c.request(OpCode.getChildren, pathWatch("/w", true));
    await c.request(OpCode.exists, pathWatch("/later", true));
    const set = ok(await j.request("setData", { path: "/w", data: b64("from json") }));
    ok(await j.request("create", { path: "/w/kid" }));
    ok(await j.request("create", { path: "/later" }));
    await c.until(() => c.notifications().length >= 3);
    await c.ping();
    expect(c.notifications()).toEqual([
      { type: E.dataChanged, state: 3, path: "/w", zxid: set.zxid },
      { type: E.childrenChanged, state: 3, path: "/w", zxid: set.zxid + 1 },
      { type: E.created, state: 3, path: "/later", zxid: set.zxid + 2 },
    ]);
    // One-shot: a second change fires nothing.
    ok(await j.request("setData", { path: "/w", data: "" }));
    await c.ping();
    expect(c.notifications()).toHaveLength(3);
  });

  it("the writer's own event precedes its reply; addWatch (persistent recursive) answers ErrorResponse(0); removeWatches and checkWatches", async () => {
    const c = await zk(freshNamespace("zk"));
    await c.request(OpCode.create, createBody("/tree", ""));
    const add = await c.request(OpCode.addWatch, (w) => void w.ustring("/tree").int(1));
    expect(add.err).toBe(0);
    expect(add.r.int()).toBe(0);
    const before = c.packets.length;
    const r = await c.request(OpCode.create, createBody("/tree/a", ""));
    const evIdx = c.packets.findIndex((p, i) => i >= before && new DataView(p.buffer, p.byteOffset).getInt32(0) === -1);
    const replyIdx = c.packets.findIndex((p, i) => i >= before && new DataView(p.buffer, p.byteOffset).getInt32(0) === r.xid);
    expect(evIdx).toBeGreaterThanOrEqual(0);
    expect(evIdx).toBeLessThan(replyIdx);
    expect(c.notifications().at(-1)).toEqual({ type: E.created, state: 3, path: "/tree/a", zxid: r.zxid });

    expect((await c.request(OpCode.checkWatches, (w) => void w.ustring("/tree").int(5))).err).toBe(0);
    expect((await c.request(OpCode.checkWatches, (w) => void w.ustring("/tree").int(2))).err).toBe(-121);
    expect((await c.request(OpCode.removeWatches, (w) => void w.ustring("/tree").int(5))).err).toBe(0);
    expect((await c.request(OpCode.removeWatches, (w) => void w.ustring("/tree").int(5))).err).toBe(-121);
    expect((await c.request(OpCode.addWatch, (w) => void w.ustring("/tree").int(7))).err).toBe(-8);
    const n = c.notifications().length;
    await c.request(OpCode.create, createBody("/tree/b", ""));
    await c.ping();
    expect(c.notifications()).toHaveLength(n);
  });

  it("setWatches after a reconnect replays what was missed (xid -8 reply after the events); setWatches2 replays persistent watches", async () => {
    const ns = freshNamespace("zk");
    const a = await zk(ns);
    const j = await json(ns);
    await a.request(OpCode.create, createBody("/x", ""));
    await a.request(OpCode.create, createBody("/y", ""));
    const seen = (await a.ping()).zxid;
    a.close();
    await sleep(30);
    const w1 = ok(await j.request("setData", { path: "/x", data: "" }));
    const w2 = ok(await j.request("create", { path: "/y/c" }));
    const w3 = ok(await j.request("create", { path: "/y/d" }));
    const b = await zk(ns, { sessionId: a.sessionId, passwd: a.passwd, lastZxid: seen });
    const strings = (list: string[]) => (w: JuteWriter) => void w.vector(list, (x, s) => x.ustring(s));
    const rep = await b.request(
      OpCode.setWatches,
      (w) => (w.long(seen), strings(["/x"])(w), strings(["/gone"])(w), strings(["/y"])(w)),
      -8,
    );
    expect(rep.err).toBe(0);
    expect(b.notifications()).toEqual([
      { type: E.dataChanged, state: 3, path: "/x", zxid: w1.zxid },
      { type: E.childrenChanged, state: 3, path: "/y", zxid: w2.zxid },
    ]);
    // The exist watch on /gone was registered: it fires on a later create.
    ok(await j.request("create", { path: "/gone" }));
    await b.until(() => b.notifications().length === 3);
    expect(b.notifications()[2]).toMatchObject({ type: E.created, path: "/gone" });

    // setWatches2: a persistent recursive watch replays every missed event.
    const c = await zk(ns);
    const rep2 = await c.request(
      OpCode.setWatches2,
      (w) => (w.long(seen), strings([])(w), strings([])(w), strings([])(w), strings([])(w), strings(["/y"])(w)),
      -8,
    );
    expect(rep2.err).toBe(0);
    expect(c.notifications().map((n) => [n.type, n.path, n.zxid])).toEqual([
      [E.created, "/y/c", w2.zxid],
      [E.created, "/y/d", w3.zxid],
    ]);
  });
});

describe("sessions and auth", () => {
  it("a jute session's ephemeral node is visible to a JSON client; closeSession deletes it, fires the JSON watch, and closes the socket", async () => {
    const ns = freshNamespace("zk");
    const c = await zk(ns);
    const j = await json(ns);
    await c.request(OpCode.create, createBody("/lock", "me", 1));
    const got = ok(await j.request("getData", { path: "/lock", watch: true }));
    expect(got.stat.ephemeralOwner).toBe(sidHex(c));
    const start = j.received.length;
    const closed = await c.request(OpCode.closeSession);
    expect(closed.err).toBe(0);
    await c.until(() => c.closed !== null);
    expect(c.closed!.code).toBe(1000);
    const ev = await j.waitFor((m) => m.type === "event", start);
    expect(ev).toMatchObject({ event: "NodeDeleted", path: "/lock" });
    expect(ok(await j.request("exists", { path: "/lock" })).stat).toBeNull();
    // The session is gone: a resume is refused.
    const again = await JuteClient.open(ns);
    opened.push(again);
    expect((await again.handshake({ sessionId: c.sessionId, passwd: c.passwd })).timeOut).toBe(0);
  });

  it("auth (digest, xid -4) adds the identity: digest ACLs then pass; others get NOAUTH; a bad scheme is AUTHFAILED and a close", async () => {
    const ns = freshNamespace("zk");
    const alice = await zk(ns);
    const auth = (c: JuteClient, scheme: string, cred: string) => c.request(OpCode.auth, (w) => void w.int(0).ustring(scheme).buffer(enc(cred)), -4);
    const a = await auth(alice, "digest", "alice:secret");
    expect(a).toMatchObject({ xid: -4, err: 0 });
    expect((await alice.request(OpCode.create, createBody("/private", "s", 0, [{ perms: 31, scheme: "auth", id: "" }]))).err).toBe(0);
    const who = await alice.request(OpCode.whoAmI);
    expect(who.r.vector((r) => ({ scheme: r.string("s"), user: r.string("u") }))).toContainEqual({ scheme: "digest", user: expect.stringMatching(/^alice:/) });

    const bob = await zk(ns);
    expect((await bob.request(OpCode.getData, pathWatch("/private"))).err).toBe(-102);
    expect((await auth(bob, "digest", "alice:secret")).err).toBe(0);
    const gd = await bob.request(OpCode.getData, pathWatch("/private"));
    expect(gd.err).toBe(0);
    expect(dec(gd.r.buffer())).toBe("s");

    const mallory = await zk(ns);
    const refused = await auth(mallory, "sasl", "x");
    expect(refused.err).toBe(-115);
    await mallory.until(() => mallory.closed !== null);
    expect(mallory.closed!.code).toBe(4115);
    expect((await bob.ping()).err).toBe(0);
  });

  it("a read-only token: reads work, every write is NOAUTH; no token at all is refused at the upgrade", async () => {
    const hs = keyedWorker({ EDGEKEEPER_JWT_SECRET: SECRET });
    const ns = freshNamespace("zk");
    const t = await token({ ns: { [ns]: ["read"] } });
    const c = await JuteClient.open(ns, { fetch: (u, init) => hs.fetch(u, { ...init, headers: { ...(init?.headers as Record<string, string>), ...bearer(t) } }) });
    opened.push(c);
    expect((await c.handshake()).timeOut).toBe(30_000);
    expect((await c.request(OpCode.create, createBody("/w", ""))).err).toBe(-102);
    expect((await c.request(OpCode.multi, (w) => multiHeader(w, -1, true, -1))).err).toBe(-102);
    expect((await c.request(OpCode.exists, pathWatch("/"))).err).toBe(0);
    const none = await hs.fetch(`/v1/namespaces/${ns}/zk`, { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": "zookeeper" } });
    expect(none.status).toBe(401);
  });
});

describe("bad input", () => {
  it("a malformed request body is MARSHALLINGERROR and the connection goes on; a packet shorter than a header, or a text message, closes only that connection", async () => {
    const ns = freshNamespace("zk");
    const c = await zk(ns);
    const other = await zk(ns);
    const j = await json(ns);
    // A create whose data length runs past the end.
    const bad = new JuteWriter().int(5).int(OpCode.create).ustring("/a").int(1000).bytes();
    expect((await c.send(bad, 5)).err).toBe(-5);
    // A vector that claims more elements than bytes.
    const lie = new JuteWriter().int(6).int(OpCode.setWatches).long(0).int(1_000_000).bytes();
    expect((await c.send(lie, 6)).err).toBe(-5);
    expect((await c.ping()).err).toBe(0);

    c.sendRaw(new Uint8Array([1, 2, 3]));
    await c.until(() => c.closed !== null);
    expect(c.closed!.code).toBe(4005);

    const t = await zk(ns);
    t.sendRaw("not binary");
    await t.until(() => t.closed !== null);
    expect(t.closed!.code).toBe(4005);

    const g = await JuteClient.open(ns);
    opened.push(g);
    g.sendRaw(new Uint8Array([0, 0, 0]));
    await g.until(() => g.closed !== null);
    expect(g.closed!.code).toBe(4005);

    // Everyone else carries on.
    expect((await other.request(OpCode.create, createBody("/still", ""))).err).toBe(0);
    ok(await j.request("exists", { path: "/still" }));
  });

  it("limits: data over 1 MiB is BADARGUMENTS; a packet over the 4 MiB frame limit closes only its connection (4005)", async () => {
    const ns = freshNamespace("zk");
    const c = await zk(ns);
    const other = await zk(ns);
    const big = "x".repeat(1024 * 1024 + 1);
    expect((await c.request(OpCode.create, createBody("/big", big))).err).toBe(-8);
    expect((await c.request(OpCode.exists, pathWatch("/big"))).err).toBe(-101);
    c.sendRaw(new JuteWriter().int(9).int(OpCode.create).ustring("/huge").buffer(new Uint8Array(4 * 1024 * 1024 + 1)).bytes());
    await c.until(() => c.closed !== null);
    expect(c.closed!.code).toBe(4005);
    expect((await other.request(OpCode.exists, pathWatch("/huge"))).err).toBe(-101);
  });

  it("the session of a connection closed for a bad packet survives and can be resumed", async () => {
    const ns = freshNamespace("zk");
    const c = await zk(ns);
    await c.request(OpCode.create, createBody("/mine", "", 1));
    c.sendRaw(new Uint8Array([9]));
    await c.until(() => c.closed !== null);
    const back = await zk(ns, { sessionId: c.sessionId, passwd: c.passwd });
    expect(back.sessionId).toBe(c.sessionId);
    expect((await back.request(OpCode.exists, pathWatch("/mine"))).err).toBe(0);
  });
});

describe("hibernation and session ends", () => {
  it("a jute socket survives an eviction: its watch fires for a JSON write afterwards, and its requests still work", async () => {
    const ns = freshNamespace("zk");
    const c = await zk(ns);
    await c.request(OpCode.create, createBody("/h", ""));
    await c.request(OpCode.getData, pathWatch("/h", true));
    await evictDurableObject(stubFor(ns));
    const j = await json(ns);
    const w = ok(await j.request("setData", { path: "/h", data: b64("after") }));
    await c.until(() => c.notifications().length === 1);
    expect(c.notifications()).toEqual([{ type: E.dataChanged, state: 3, path: "/h", zxid: w.zxid }]);
    const gd = await c.request(OpCode.getData, pathWatch("/h"));
    expect(dec(gd.r.buffer())).toBe("after");
  });

  it("a silent jute session expires (after an eviction too): its socket is closed with 4112 and its ephemeral nodes are gone", async () => {
    const ns = freshNamespace("zk");
    const c = await zk(ns, { timeout: 200 });
    expect(c.timeout).toBe(200);
    await c.request(OpCode.create, createBody("/eph", "", 1));
    await evictDurableObject(stubFor(ns));
    await sleep(350);
    await runDurableObjectAlarm(stubFor(ns));
    await c.until(() => c.closed !== null);
    expect(c.closed!.code).toBe(4112);
    const j = await json(ns);
    expect(ok(await j.request("exists", { path: "/eph" })).stat).toBeNull();
  });

  it("one session, either protocol: a JSON client resumes a jute session with its id and password (as hex); the jute socket is closed 4118", async () => {
    const ns = freshNamespace("zk");
    const c = await zk(ns);
    await c.request(OpCode.create, createBody("/both", "", 1));
    const secret = Array.from(c.passwd, (b) => b.toString(16).padStart(2, "0")).join("");
    const j = await RawClient.connect(ns, { sessionId: sidHex(c), secret, lastZxid: (await c.ping()).zxid });
    opened.push(j);
    expect(j.hello).toMatchObject({ resumed: true, sessionId: sidHex(c) });
    await c.until(() => c.closed !== null);
    expect(c.closed!.code).toBe(4118);
    expect(ok(await j.request("getEphemerals", {})).paths).toEqual(["/both"]);
  });
});
