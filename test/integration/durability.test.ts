import { describe, expect, it } from "vitest";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { RawClient, b64, eventsOf, freshNamespace, lastZxidOf, roundTrip, stubFor, tryConnect, unb64 } from "../helpers/raw-client.js";
import type { NamespaceObject } from "../../src/objects/namespace-object.js";

/** Restarts the namespace's object at once: its in-memory state goes and its sockets are closed. */
async function restart(ns: string): Promise<void> {
  await evictDurableObject(stubFor(ns), { webSockets: "close" });
}

describe("linearizable reads across clients", () => {
  it("a write acknowledged to one client is seen by every later read from any other client", async () => {
    const ns = freshNamespace();
    const clients = await Promise.all([0, 1, 2, 3].map(() => RawClient.connect(ns)));
    await clients[0].request("create", { path: "/k", data: b64("init") });
    for (let i = 0; i < 12; i++) {
      const writer = clients[i % clients.length];
      const ack = await writer.request("setData", { path: "/k", data: b64(`v${i}`) });
      expect(ack.err).toBe(0);
      const reads = await Promise.all(clients.filter((c) => c !== writer).map((c) => c.request("getData", { path: "/k" })));
      for (const r of reads) {
        expect(unb64(r.data)).toBe(`v${i}`);
        expect(r.stat.version).toBe(i + 1);
        expect(r.stat.mzxid).toBe(ack.zxid);
        expect(r.zxid).toBeGreaterThanOrEqual(ack.zxid);
      }
    }
    for (const c of clients) c.close();
  });

  it("a node created by one client exists for all others as soon as the create is acknowledged", async () => {
    const ns = freshNamespace();
    const [a, b, c] = await Promise.all([RawClient.connect(ns), RawClient.connect(ns), RawClient.connect(ns)]);
    for (let i = 0; i < 8; i++) {
      const creator = [a, b, c][i % 3];
      const ack = await creator.request("create", { path: `/n${i}` });
      for (const other of [a, b, c].filter((x) => x !== creator)) {
        const r = await other.request("exists", { path: `/n${i}` });
        expect(r.stat?.czxid).toBe(ack.zxid);
      }
      const kids = await [a, b, c][(i + 1) % 3].request("getChildren", { path: "/" });
      expect(kids.children).toContain(`n${i}`);
    }
    for (const x of [a, b, c]) x.close();
  });

  it("with concurrent writers, no read returns an older version than one acknowledged before it was sent", async () => {
    const ns = freshNamespace();
    const writers = await Promise.all([0, 1].map(() => RawClient.connect(ns)));
    const readers = await Promise.all([0, 1].map(() => RawClient.connect(ns)));
    await writers[0].request("create", { path: "/ctr", data: b64("0") });
    let acked = 0;
    const violations: string[] = [];
    const writeLoop = async (c: RawClient) => {
      for (let i = 0; i < 15; i++) {
        const r = await c.request("setData", { path: "/ctr", data: b64(String(i)) });
        expect(r.err).toBe(0);
        acked = Math.max(acked, r.stat.version);
      }
    };
    const readLoop = async (c: RawClient) => {
      let seen = 0;
      for (let i = 0; i < 25; i++) {
        const floor = acked;
        const r = await c.request("getData", { path: "/ctr" });
        if (r.stat.version < floor) violations.push(`read version ${r.stat.version} after ${floor} was acknowledged`);
        if (r.stat.version < seen) violations.push(`version went back from ${seen} to ${r.stat.version}`);
        seen = r.stat.version;
      }
    };
    await Promise.all([...writers.map(writeLoop), ...readers.map(readLoop)]);
    expect(violations).toEqual([]);
    expect((await readers[0].request("getData", { path: "/ctr" })).stat.version).toBe(30);
    for (const c of [...writers, ...readers]) c.close();
  });
});

describe("restart right after an acknowledgement", () => {
  it("an acknowledged create survives an immediate restart of the object", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    const ack = await a.request("create", { path: "/durable", data: b64("kept") });
    expect(ack.err).toBe(0);
    await restart(ns);
    const b = await RawClient.connect(ns);
    const r = await b.request("getData", { path: "/durable" });
    expect(unb64(r.data)).toBe("kept");
    expect(r.stat.czxid).toBe(ack.zxid);
    // The zxid sequence continues where it was: the new session is the next transaction.
    expect(b.hello!.zxid).toBe(ack.zxid + 1);
    b.close();
  });

  it("an acknowledged setData and delete survive an immediate restart", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    await a.request("create", { path: "/s", data: b64("1") });
    await a.request("create", { path: "/d" });
    await a.request("setData", { path: "/s", data: b64("2") });
    const del = await a.request("delete", { path: "/d" });
    expect(del.err).toBe(0);
    await restart(ns);
    const b = await RawClient.connect(ns);
    const s = await b.request("getData", { path: "/s" });
    expect([unb64(s.data), s.stat.version]).toEqual(["2", 1]);
    expect((await b.request("exists", { path: "/d" })).stat).toBeNull();
    expect((await b.request("exists", { path: "/" })).stat.pzxid).toBe(del.zxid);
    b.close();
  });

  it("every write of an acknowledged batch (one commit) survives an immediate restart", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    const acks = await a.batch(Array.from({ length: 40 }, (_, i) => ({ op: "create", path: `/b${String(i).padStart(2, "0")}`, data: b64(String(i)) })));
    expect(acks.every((r) => r.err === 0)).toBe(true);
    await restart(ns);
    const b = await RawClient.connect(ns);
    const kids = await b.request("getChildren", { path: "/" });
    expect(kids.children.filter((n: string) => n.startsWith("b"))).toHaveLength(40);
    expect(unb64((await b.request("getData", { path: "/b39" })).data)).toBe("39");
    expect(b.hello!.zxid).toBe(acks[39].zxid + 1);
    b.close();
  });

  it("an acknowledged multi survives an immediate restart", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    const ack = await a.request("multi", {
      ops: [
        { op: "create", path: "/m" },
        { op: "create", path: "/m/a", data: b64("x") },
        { op: "setData", path: "/m", data: b64("y") },
      ],
    });
    expect(ack.err).toBe(0);
    await restart(ns);
    const b = await RawClient.connect(ns);
    expect(unb64((await b.request("getData", { path: "/m/a" })).data)).toBe("x");
    const m = await b.request("getData", { path: "/m" });
    expect([unb64(m.data), m.stat.mzxid]).toEqual(["y", ack.zxid]);
    b.close();
  });
});

describe("eviction with hibernation", () => {
  it("keeps the socket usable and the session the same", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    await a.request("create", { path: "/eph", mode: "ephemeral" });
    await evictDurableObject(stubFor(ns));
    expect(a.closed).toBeNull();
    const r = await a.request("create", { path: "/eph2", mode: "ephemeral" });
    expect(r.err).toBe(0);
    expect((await a.request("getEphemerals", {})).paths).toEqual(["/eph", "/eph2"]);
    expect((await a.request("exists", { path: "/eph" })).stat.ephemeralOwner).toBe(a.sessionId);
    a.close();
  });

  it("keeps one-shot watches set before the eviction: they fire after it", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    const b = await RawClient.connect(ns);
    await b.request("create", { path: "/w" });
    await b.request("create", { path: "/p" });
    await a.request("getData", { path: "/w", watch: true });
    await a.request("exists", { path: "/new", watch: true });
    await a.request("getChildren", { path: "/p", watch: true });
    await evictDurableObject(stubFor(ns));
    const from = a.received.length;
    const z1 = (await b.request("setData", { path: "/w", data: b64("1") })).zxid;
    const z2 = (await b.request("create", { path: "/new" })).zxid;
    const z3 = (await b.request("create", { path: "/p/c" })).zxid;
    await roundTrip(a);
    expect(eventsOf(a, from)).toEqual([
      { event: "NodeDataChanged", path: "/w", zxid: z1 },
      { event: "NodeCreated", path: "/new", zxid: z2 },
      { event: "NodeChildrenChanged", path: "/p", zxid: z3 },
    ]);
    a.close();
    b.close();
  });

  it("keeps persistent and recursive watches across several evictions", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    const b = await RawClient.connect(ns);
    await a.request("addWatch", { path: "/p", mode: "persistent" });
    await a.request("addWatch", { path: "/r", mode: "persistentRecursive" });
    const from = a.received.length;
    const z: number[] = [];
    for (const [op, path] of [
      ["create", "/p"],
      ["create", "/r"],
      ["create", "/p/c"],
      ["create", "/r/x"],
    ]) {
      await evictDurableObject(stubFor(ns));
      z.push((await b.request(op, { path })).zxid);
    }
    await roundTrip(a);
    expect(eventsOf(a, from)).toEqual([
      { event: "NodeCreated", path: "/p", zxid: z[0] },
      { event: "NodeCreated", path: "/r", zxid: z[1] },
      { event: "NodeChildrenChanged", path: "/p", zxid: z[2] },
      { event: "NodeCreated", path: "/r/x", zxid: z[3] },
    ]);
    a.close();
    b.close();
  });

  it("a resume on a second socket after a hibernation still moves the session off the first", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    await evictDurableObject(stubFor(ns));
    const again = await RawClient.connect(ns, { sessionId: a.sessionId, secret: a.secret, lastZxid: lastZxidOf(a) });
    expect(again.hello!.resumed).toBe(true);
    expect((await a.waitClosed()).code).toBe(4118);
    expect(a.received.at(-1)).toEqual({ type: "session", state: "moved" });
    again.close();
  });

  it("a watch that fired before the eviction does not fire again after it", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    const b = await RawClient.connect(ns);
    await b.request("create", { path: "/w" });
    await a.request("getData", { path: "/w", watch: true });
    const from = a.received.length;
    const z = (await b.request("setData", { path: "/w", data: b64("1") })).zxid;
    await evictDurableObject(stubFor(ns));
    await b.request("setData", { path: "/w", data: b64("2") });
    await roundTrip(a);
    expect(eventsOf(a, from)).toEqual([{ event: "NodeDataChanged", path: "/w", zxid: z }]);
    a.close();
    b.close();
  });

  it("a socket that closes while the object hibernates still releases its watches", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    const b = await RawClient.connect(ns);
    await b.request("create", { path: "/w" });
    await a.request("getData", { path: "/w", watch: true });
    await evictDurableObject(stubFor(ns));
    a.close();
    await a.waitClosed();
    await roundTrip(b);
    await new Promise((r) => setTimeout(r, 20));
    const rows = await runInDurableObject(stubFor(ns), (_o: unknown, state: DurableObjectState) =>
      state.storage.sql.exec(`SELECT session, path, kind FROM watch_list`).toArray(),
    );
    expect(rows).toEqual([]);
    const resumed = await RawClient.connect(ns, { sessionId: a.sessionId, secret: a.secret, lastZxid: lastZxidOf(a) });
    expect(resumed.hello!.resumed).toBe(true);
    const from = resumed.received.length;
    await b.request("setData", { path: "/w", data: b64("1") });
    await roundTrip(resumed);
    // The resume sent no watches: none is left over from the old socket.
    expect(eventsOf(resumed, from)).toEqual([]);
    resumed.close();
    b.close();
  });
});

describe("eviction that closes sockets, then resume", () => {
  it("the session survives with its ephemerals, and the missed events are replayed", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 10_000 });
    const setup = await RawClient.connect(ns);
    await a.request("create", { path: "/eph", mode: "ephemeral" });
    await setup.request("create", { path: "/w" });
    await a.request("getData", { path: "/w", watch: true });
    await a.request("addWatch", { path: "/p", mode: "persistent" });
    const last = lastZxidOf(a);
    await restart(ns);
    await a.waitClosed();

    const b = await RawClient.connect(ns);
    expect((await b.request("exists", { path: "/eph" })).stat?.ephemeralOwner).toBe(a.sessionId);
    const z1 = (await b.request("setData", { path: "/w", data: b64("1") })).zxid;
    await b.request("setData", { path: "/w", data: b64("2") });
    const z2 = (await b.request("create", { path: "/p" })).zxid;
    const z3 = (await b.request("create", { path: "/p/c" })).zxid;

    const again = await RawClient.connect(ns, {
      sessionId: a.sessionId,
      secret: a.secret,
      lastZxid: last,
      timeout: 10_000,
      watches: { data: ["/w"], persistent: ["/p"] },
    });
    expect(again.hello).toMatchObject({ resumed: true, sessionId: a.sessionId });
    expect(eventsOf(again)).toEqual([
      { event: "NodeDataChanged", path: "/w", zxid: z1 },
      { event: "NodeCreated", path: "/p", zxid: z2 },
      { event: "NodeChildrenChanged", path: "/p", zxid: z3 },
    ]);
    expect((await again.request("getEphemerals", {})).paths).toEqual(["/eph"]);
    // The persistent watch is live again.
    const z4 = (await b.request("delete", { path: "/p/c" })).zxid;
    await roundTrip(again);
    expect(eventsOf(again).at(-1)).toEqual({ event: "NodeChildrenChanged", path: "/p", zxid: z4 });
    again.close();
    b.close();
  });

  it("a session whose socket was closed by the restart and that does not come back expires after its timeout", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 200 });
    await a.request("create", { path: "/eph", mode: "ephemeral" });
    await restart(ns);
    await a.waitClosed();
    // Like ZooKeeper after a leader change, a session that lost its socket to a restart gets
    // a full timeout from the moment the object is back; the alarm wakes it, then expires it.
    await new Promise((r) => setTimeout(r, 350));
    await runDurableObjectAlarm(stubFor(ns));
    await new Promise((r) => setTimeout(r, 350));
    await runDurableObjectAlarm(stubFor(ns));
    const b = await RawClient.connect(ns);
    expect((await b.request("exists", { path: "/eph" })).stat).toBeNull();
    const { reply } = await tryConnect(ns, { sessionId: a.sessionId, secret: a.secret, lastZxid: lastZxidOf(a) });
    expect(reply.err).toBe(-112);
    b.close();
  });

  it("watches left behind by the closed socket do not leak into the resumed connection", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 10_000 });
    const setup = await RawClient.connect(ns);
    await setup.request("create", { path: "/w" });
    await a.request("getData", { path: "/w", watch: true });
    await a.request("addWatch", { path: "/", mode: "persistentRecursive" });
    const last = lastZxidOf(a);
    await restart(ns);
    await a.waitClosed();
    // Resume with no watches at all: the old socket's watches must not come back.
    const again = await RawClient.connect(ns, { sessionId: a.sessionId, secret: a.secret, lastZxid: last, timeout: 10_000 });
    const b = await RawClient.connect(ns);
    const from = again.received.length;
    await b.request("setData", { path: "/w", data: b64("1") });
    await b.request("create", { path: "/x" });
    await roundTrip(again);
    expect(eventsOf(again, from)).toEqual([]);
    again.close();
    b.close();
  });
});

describe("zxid across restarts", () => {
  it("continues from the last committed transaction, whether the log or the meta row records it", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 10_000 });
    const r1 = await a.request("create", { path: "/z1" });
    const checks = await a.request("multi", { ops: [{ op: "check", path: "/z1", version: 0 }] }); // leaves no log row
    expect(checks.zxid).toBe(r1.zxid + 1);
    await restart(ns);
    const b = await RawClient.connect(ns);
    expect(b.hello!.zxid).toBe(checks.zxid + 1); // b's createSession comes right after
    const r2 = await b.request("create", { path: "/z2" });
    expect(r2.zxid).toBe(checks.zxid + 2);
    // Compact the whole log: the zxid must still survive a restart.
    await runInDurableObject(stubFor(ns), (o: NamespaceObject) => o.ns.compactLog(r2.zxid));
    await restart(ns);
    const c = await RawClient.connect(ns);
    expect(c.hello!.zxid).toBe(r2.zxid + 1);
    c.close();
  });
});
