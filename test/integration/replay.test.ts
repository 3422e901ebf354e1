import { describe, expect, it } from "vitest";
import { runInDurableObject } from "cloudflare:test";
import type { NamespaceObject } from "../../src/objects/namespace-object.js";
import { RawClient, b64, disconnect, eventsOf, freshNamespace, lastZxidOf, roundTrip, stubFor, type Msg } from "../helpers/raw-client.js";

type Watches = { data?: string[]; exist?: string[]; child?: string[]; persistent?: string[]; persistentRecursive?: string[] };

/** Compacts the namespace's change log up to `zxid` (the admin operation); returns the new floor. */
const compactLog = (ns: string, zxid: number) =>
  runInDurableObject(stubFor(ns), (o: NamespaceObject) => o.ns.compactLog(zxid)) as Promise<number>;

/**
 * A watcher `w` (whose socket goes away and comes back) and a writer `x`, on a fresh
 * namespace. `away()` disconnects w and remembers its lastZxid; `back(watches)` resumes it.
 */
async function scenario() {
  const ns = freshNamespace();
  const w = await RawClient.connect(ns, { timeout: 10_000 });
  const x = await RawClient.connect(ns, { timeout: 10_000 });
  let last = 0;
  const s = {
    ns,
    w,
    x,
    /** Writes through x and returns the write's zxid. */
    async write(op: string, path: string, fields: Msg = {}): Promise<number> {
      const r = await x.request(op, { path, ...fields });
      if (r.err !== 0) throw new Error(`${op} ${path}: ${JSON.stringify(r)}`);
      return r.zxid;
    },
    async away(): Promise<number> {
      await roundTrip(w);
      last = lastZxidOf(w);
      await disconnect(w);
      return last;
    },
    async back(watches: Watches, lastZxid = last): Promise<RawClient> {
      return RawClient.connect(ns, { sessionId: w.sessionId, secret: w.secret, lastZxid, watches, timeout: 10_000 });
    },
    done(...more: RawClient[]) {
      for (const c of [w, x, ...more]) c.close();
    },
  };
  return s;
}

/** The events that arrived in the handshake reply's frame, right behind `connected`. */
function replayed(c: RawClient) {
  const first = c.frames[0];
  const msgs = Array.isArray(first) ? first : [first];
  expect(msgs[0]).toMatchObject({ type: "connected", resumed: true });
  return msgs.filter((m: Msg) => m.type === "event").map((e: Msg) => ({ event: e.event, path: e.path, zxid: e.zxid }));
}

describe("resume replay: one-shot data watches", () => {
  it("delivers only the first missed change of a data watch (NodeDataChanged)", async () => {
    const s = await scenario();
    await s.write("create", "/a");
    await s.w.request("getData", { path: "/a", watch: true });
    await s.away();
    const z1 = await s.write("setData", "/a", { data: b64("1") });
    await s.write("setData", "/a", { data: b64("2") });
    await s.write("delete", "/a");
    const r = await s.back({ data: ["/a"] });
    expect(replayed(r)).toEqual([{ event: "NodeDataChanged", path: "/a", zxid: z1 }]);
    await roundTrip(r);
    expect(eventsOf(r)).toHaveLength(1);
    s.done(r);
  });

  it("delivers NodeDeleted when the watched node was deleted while away", async () => {
    const s = await scenario();
    await s.write("create", "/a");
    await s.w.request("getData", { path: "/a", watch: true });
    await s.away();
    const z = await s.write("delete", "/a");
    const r = await s.back({ data: ["/a"] });
    expect(replayed(r)).toEqual([{ event: "NodeDeleted", path: "/a", zxid: z }]);
    s.done(r);
  });

  it("a data watch that fired during replay is consumed: later changes fire nothing", async () => {
    const s = await scenario();
    await s.write("create", "/a");
    await s.w.request("getData", { path: "/a", watch: true });
    await s.away();
    await s.write("setData", "/a", { data: b64("1") });
    const r = await s.back({ data: ["/a"] });
    const from = r.received.length;
    await s.write("setData", "/a", { data: b64("2") });
    await roundTrip(r);
    expect(eventsOf(r, from)).toEqual([]);
    s.done(r);
  });

  it("a data watch whose node did not change is registered and fires later", async () => {
    const s = await scenario();
    await s.write("create", "/a");
    await s.write("create", "/b");
    await s.w.request("getData", { path: "/a", watch: true });
    await s.away();
    await s.write("setData", "/b", { data: b64("other node") });
    await s.write("create", "/a/child"); // not a data change of /a
    const r = await s.back({ data: ["/a"] });
    expect(replayed(r)).toEqual([]);
    const from = r.received.length;
    const z = await s.write("setData", "/a", { data: b64("now") });
    await roundTrip(r);
    expect(eventsOf(r, from)).toEqual([{ event: "NodeDataChanged", path: "/a", zxid: z }]);
    s.done(r);
  });

  it("does not replay changes the client had already seen (at or before its lastZxid)", async () => {
    const s = await scenario();
    await s.write("create", "/a");
    await s.w.request("getData", { path: "/a", watch: true });
    await s.write("setData", "/a", { data: b64("seen") });
    await s.w.waitFor((m) => m.type === "event");
    await s.w.request("getData", { path: "/a", watch: true }); // re-armed, as a client would
    await s.away();
    const r = await s.back({ data: ["/a"] });
    expect(replayed(r)).toEqual([]);
    s.done(r);
  });

  it("an exist watch on a missing node gets NodeCreated when it was created while away, and is consumed", async () => {
    const s = await scenario();
    await s.w.request("exists", { path: "/e", watch: true });
    await s.away();
    const z = await s.write("create", "/e");
    await s.write("setData", "/e", { data: b64("x") });
    const r = await s.back({ exist: ["/e"] });
    expect(replayed(r)).toEqual([{ event: "NodeCreated", path: "/e", zxid: z }]);
    const from = r.received.length;
    await s.write("delete", "/e");
    await roundTrip(r);
    expect(eventsOf(r, from)).toEqual([]);
    s.done(r);
  });

  it("an exist watch on a node that is still missing is registered and fires NodeCreated later", async () => {
    const s = await scenario();
    await s.w.request("exists", { path: "/e", watch: true });
    await s.away();
    await s.write("create", "/other");
    const r = await s.back({ exist: ["/e"] });
    expect(replayed(r)).toEqual([]);
    const from = r.received.length;
    const z = await s.write("create", "/e");
    await roundTrip(r);
    expect(eventsOf(r, from)).toEqual([{ event: "NodeCreated", path: "/e", zxid: z }]);
    s.done(r);
  });

  it("an exist watch on an existing node replays its first data change", async () => {
    const s = await scenario();
    await s.write("create", "/e");
    await s.w.request("exists", { path: "/e", watch: true });
    await s.away();
    const z = await s.write("setData", "/e", { data: b64("1") });
    const r = await s.back({ exist: ["/e"] });
    expect(replayed(r)).toEqual([{ event: "NodeDataChanged", path: "/e", zxid: z }]);
    s.done(r);
  });
});

describe("resume replay: one-shot child watches", () => {
  it("delivers the first missed child change only (NodeChildrenChanged)", async () => {
    const s = await scenario();
    await s.write("create", "/p");
    await s.w.request("getChildren", { path: "/p", watch: true });
    await s.away();
    await s.write("setData", "/p", { data: b64("not a child change") });
    const z1 = await s.write("create", "/p/a");
    await s.write("create", "/p/b");
    await s.write("delete", "/p/a");
    const r = await s.back({ child: ["/p"] });
    expect(replayed(r)).toEqual([{ event: "NodeChildrenChanged", path: "/p", zxid: z1 }]);
    s.done(r);
  });

  it("delivers NodeChildrenChanged for a missed child delete", async () => {
    const s = await scenario();
    await s.write("create", "/p");
    await s.write("create", "/p/a");
    await s.w.request("getChildren", { path: "/p", watch: true });
    await s.away();
    const z = await s.write("delete", "/p/a");
    const r = await s.back({ child: ["/p"] });
    expect(replayed(r)).toEqual([{ event: "NodeChildrenChanged", path: "/p", zxid: z }]);
    s.done(r);
  });

  it("delivers NodeDeleted when the watched parent itself was deleted", async () => {
    const s = await scenario();
    await s.write("create", "/p");
    await s.w.request("getChildren", { path: "/p", watch: true });
    await s.away();
    const z = await s.write("delete", "/p");
    const r = await s.back({ child: ["/p"] });
    expect(replayed(r)).toEqual([{ event: "NodeDeleted", path: "/p", zxid: z }]);
    s.done(r);
  });

  it("a child watch with no missed child change is registered and fires later", async () => {
    const s = await scenario();
    await s.write("create", "/p");
    await s.write("create", "/p/a");
    await s.w.request("getChildren", { path: "/p", watch: true });
    await s.away();
    await s.write("setData", "/p", { data: b64("1") });
    await s.write("create", "/p/a/grandchild");
    const r = await s.back({ child: ["/p"] });
    expect(replayed(r)).toEqual([]);
    const from = r.received.length;
    const z = await s.write("create", "/p/b");
    await roundTrip(r);
    expect(eventsOf(r, from)).toEqual([{ event: "NodeChildrenChanged", path: "/p", zxid: z }]);
    s.done(r);
  });
});

describe("resume replay: persistent and recursive watches", () => {
  it("replays every missed event of a persistent watch, in zxid order, and keeps it registered", async () => {
    const s = await scenario();
    await s.w.request("addWatch", { path: "/d", mode: "persistent" });
    await s.away();
    const z = [
      await s.write("create", "/d"),
      await s.write("setData", "/d", { data: b64("1") }),
      await s.write("create", "/d/x"),
      await s.write("setData", "/d", { data: b64("2") }),
    ];
    await s.write("setData", "/d/x", { data: b64("child data: not /d's") });
    z.push(await s.write("delete", "/d/x"));
    z.push(await s.write("delete", "/d"));
    const r = await s.back({ persistent: ["/d"] });
    expect(replayed(r)).toEqual([
      { event: "NodeCreated", path: "/d", zxid: z[0] },
      { event: "NodeDataChanged", path: "/d", zxid: z[1] },
      { event: "NodeChildrenChanged", path: "/d", zxid: z[2] },
      { event: "NodeDataChanged", path: "/d", zxid: z[3] },
      { event: "NodeChildrenChanged", path: "/d", zxid: z[4] },
      { event: "NodeDeleted", path: "/d", zxid: z[5] },
    ]);
    const from = r.received.length;
    const again = await s.write("create", "/d");
    await roundTrip(r);
    expect(eventsOf(r, from)).toEqual([{ event: "NodeCreated", path: "/d", zxid: again }]);
    s.done(r);
  });

  it("replays every missed event of a recursive watch for the path and its descendants, never NodeChildrenChanged", async () => {
    const s = await scenario();
    await s.w.request("addWatch", { path: "/e", mode: "persistentRecursive" });
    await s.away();
    const z = [
      await s.write("create", "/e"),
      await s.write("create", "/e/f"),
      await s.write("create", "/e/f/g"),
      await s.write("setData", "/e/f/g", { data: b64("1") }),
      await s.write("delete", "/e/f/g"),
      await s.write("setData", "/e", { data: b64("1") }),
    ];
    await s.write("create", "/ex"); // outside the subtree
    const r = await s.back({ persistentRecursive: ["/e"] });
    expect(replayed(r)).toEqual([
      { event: "NodeCreated", path: "/e", zxid: z[0] },
      { event: "NodeCreated", path: "/e/f", zxid: z[1] },
      { event: "NodeCreated", path: "/e/f/g", zxid: z[2] },
      { event: "NodeDataChanged", path: "/e/f/g", zxid: z[3] },
      { event: "NodeDeleted", path: "/e/f/g", zxid: z[4] },
      { event: "NodeDataChanged", path: "/e", zxid: z[5] },
    ]);
    const from = r.received.length;
    const later = await s.write("create", "/e/later");
    await roundTrip(r);
    expect(eventsOf(r, from)).toEqual([{ event: "NodeCreated", path: "/e/later", zxid: later }]);
    s.done(r);
  });

  it("replays the events of a multi, all with its zxid", async () => {
    const s = await scenario();
    await s.write("create", "/m");
    await s.w.request("addWatch", { path: "/m", mode: "persistentRecursive" });
    await s.away();
    const r0 = await s.x.request("multi", {
      ops: [
        { op: "create", path: "/m/a" },
        { op: "setData", path: "/m", data: b64("1") },
      ],
    });
    const r = await s.back({ persistentRecursive: ["/m"] });
    expect(replayed(r)).toEqual([
      { event: "NodeCreated", path: "/m/a", zxid: r0.zxid },
      { event: "NodeDataChanged", path: "/m", zxid: r0.zxid },
    ]);
    s.done(r);
  });

  it("replays the deletes of another session's expiry or close", async () => {
    const s = await scenario();
    const other = await RawClient.connect(s.ns);
    await other.request("create", { path: "/eph1", mode: "ephemeral" });
    await other.request("create", { path: "/eph2", mode: "ephemeral" });
    await s.w.request("addWatch", { path: "/", mode: "persistentRecursive" });
    await s.away();
    const closed = await other.request("close");
    const r = await s.back({ persistentRecursive: ["/"] });
    expect(replayed(r)).toEqual([
      { event: "NodeDeleted", path: "/eph1", zxid: closed.zxid },
      { event: "NodeDeleted", path: "/eph2", zxid: closed.zxid },
    ]);
    s.done(r);
  });
});

describe("resume replay: merging", () => {
  it("merges all kinds in zxid order, one event per (zxid, type, path)", async () => {
    const s = await scenario();
    await s.write("create", "/a");
    await s.write("create", "/p");
    await s.away();
    const z = [
      await s.write("setData", "/a", { data: b64("1") }),
      await s.write("create", "/p/c"),
      await s.write("setData", "/a", { data: b64("2") }),
      await s.write("create", "/new"),
    ];
    const r = await s.back({
      data: ["/a"],
      exist: ["/new", "/a"],
      child: ["/p"],
      persistent: ["/a"],
      persistentRecursive: ["/"],
    });
    expect(replayed(r)).toEqual([
      { event: "NodeDataChanged", path: "/a", zxid: z[0] },
      { event: "NodeCreated", path: "/p/c", zxid: z[1] },
      { event: "NodeChildrenChanged", path: "/p", zxid: z[1] },
      { event: "NodeDataChanged", path: "/a", zxid: z[2] },
      { event: "NodeCreated", path: "/new", zxid: z[3] },
    ]);
    s.done(r);
  });

  it("the replayed events come in the connected frame, before the response to any request", async () => {
    const s = await scenario();
    await s.write("create", "/a");
    await s.away();
    const z = await s.write("setData", "/a", { data: b64("1") });
    const c = await RawClient.open(s.ns);
    // The connect and a first request go out back to back.
    c.send({ type: "connect", v: 1, timeout: 10_000, sessionId: s.w.sessionId, secret: s.w.secret, lastZxid: lastZxidOf(s.w), watches: { data: ["/a"] } });
    c.send({ xid: 1, op: "getData", path: "/a" });
    const resp = await c.waitFor((m) => m.xid === 1);
    expect(c.received.map((m) => m.type ?? "response")).toEqual(["connected", "event", "response"]);
    expect(c.received[1]).toMatchObject({ event: "NodeDataChanged", zxid: z });
    expect(resp.data).toBe(b64("1"));
    s.done(c);
  });

  it("replays nothing when nothing happened", async () => {
    const s = await scenario();
    await s.write("create", "/a");
    await s.away();
    const r = await s.back({ data: ["/a"], child: ["/a"], exist: ["/b"], persistent: ["/a"], persistentRecursive: ["/"] });
    expect(replayed(r)).toEqual([]);
    expect(r.received).toHaveLength(1);
    s.done(r);
  });

  it("rejects a malformed watch path in the handshake", async () => {
    const s = await scenario();
    await s.away();
    const c = await RawClient.open(s.ns);
    const reply = await c.handshake({ sessionId: s.w.sessionId, secret: s.w.secret, lastZxid: lastZxidOf(s.w), watches: { data: ["no-slash"] } });
    expect(reply).toMatchObject({ type: "connect-error", err: -8 });
    s.done(c);
  });
});

describe("setWatches request", () => {
  it("replays missed events before its response and registers the watches that did not fire", async () => {
    const s = await scenario();
    await s.write("create", "/a");
    await s.write("create", "/b");
    await s.write("create", "/p");
    await s.w.request("getData", { path: "/a", watch: true });
    const last = await s.away();
    const z1 = await s.write("setData", "/a", { data: b64("1") });
    const z2 = await s.write("create", "/p/c");
    // Resume without watches, then send them with setWatches.
    const r = await s.back({});
    expect(replayed(r)).toEqual([]);
    const from = r.received.length;
    const resp = await r.request("setWatches", { lastZxid: last, watches: { data: ["/a", "/b"], persistent: ["/p"] } });
    expect(resp.err).toBe(0);
    const msgs = r.received.slice(from);
    expect(msgs.map((m) => m.type ?? "response")).toEqual(["event", "event", "response"]);
    expect(eventsOf(r, from)).toEqual([
      { event: "NodeDataChanged", path: "/a", zxid: z1 },
      { event: "NodeChildrenChanged", path: "/p", zxid: z2 },
    ]);
    // /b's data watch did not fire: it is registered now, and /p's persistent watch too.
    const after = r.received.length;
    const z3 = await s.write("setData", "/b", { data: b64("1") });
    const z4 = await s.write("delete", "/p/c");
    await s.write("setData", "/a", { data: b64("2") }); // consumed by the replay
    await roundTrip(r);
    expect(eventsOf(r, after)).toEqual([
      { event: "NodeDataChanged", path: "/b", zxid: z3 },
      { event: "NodeChildrenChanged", path: "/p", zxid: z4 },
    ]);
    s.done(r);
  });

  it("works on a brand-new session (a client that lost its session re-sends its watches)", async () => {
    const s = await scenario();
    await s.write("create", "/a");
    const last = lastZxidOf(s.x);
    const z = await s.write("setData", "/a", { data: b64("1") });
    const fresh = await RawClient.connect(s.ns);
    const from = fresh.received.length;
    const resp = await fresh.request("setWatches", { lastZxid: last, watches: { exist: ["/a"], child: ["/a"] } });
    expect(resp.err).toBe(0);
    expect(eventsOf(fresh, from)).toEqual([{ event: "NodeDataChanged", path: "/a", zxid: z }]);
    const after = fresh.received.length;
    const c = await s.write("create", "/a/c");
    await roundTrip(fresh);
    expect(eventsOf(fresh, after)).toEqual([{ event: "NodeChildrenChanged", path: "/a", zxid: c }]);
    s.done(fresh);
  });

  it("refuses a lastZxid ahead of the server and registers nothing", async () => {
    const s = await scenario();
    await s.write("create", "/a");
    const resp = await s.w.request("setWatches", { lastZxid: lastZxidOf(s.w) + 100, watches: { data: ["/a"] } });
    expect(resp.err).not.toBe(0);
    expect((await s.w.request("checkWatches", { path: "/a", type: "data" })).err).toBe(-121);
    s.done();
  });
});

describe("resync after log compaction", () => {
  it("compactLog moves the replay floor and never past the last zxid", async () => {
    const s = await scenario();
    await s.write("create", "/a");
    const z = await s.write("setData", "/a", { data: b64("1") });
    expect(await compactLog(s.ns, z - 1)).toBe(z - 1);
    expect(await compactLog(s.ns, z + 1000)).toBe(z);
    const left = await runInDurableObject(stubFor(s.ns), (o: NamespaceObject) => o.ns.changesAfter(0).length);
    expect(left).toBe(0);
    s.done();
  });

  it("a resume from before the retained log gets a resync message and state-based one-shot events", async () => {
    const s = await scenario();
    for (const p of ["/gone", "/changed", "/same", "/p", "/quiet"]) await s.write("create", p);
    await s.w.request("getData", { path: "/gone", watch: true });
    const last = await s.away();
    const zDel = await s.write("delete", "/gone");
    const zSet = await s.write("setData", "/changed", { data: b64("1") });
    const zCreated = await s.write("create", "/born");
    const zChild = await s.write("create", "/p/c");
    const top = await s.write("create", "/unrelated");
    const floor = await compactLog(s.ns, top);
    expect(floor).toBe(top);

    const r = await s.back({
      data: ["/gone", "/changed", "/same"],
      exist: ["/born", "/unborn"],
      child: ["/p", "/quiet", "/never"],
      persistent: ["/changed"],
      persistentRecursive: ["/"],
    });
    const first = r.frames[0] as Msg[];
    expect(first[0]).toMatchObject({ type: "connected", resumed: true });
    expect(first[1]).toEqual({ type: "resync", lastZxid: last, oldestZxid: floor, zxid: top });
    const evs = replayed(r);
    expect(evs).toEqual(
      expect.arrayContaining([
        { event: "NodeDeleted", path: "/gone", zxid: expect.any(Number) },
        { event: "NodeDataChanged", path: "/changed", zxid: zSet },
        { event: "NodeCreated", path: "/born", zxid: zCreated },
        { event: "NodeChildrenChanged", path: "/p", zxid: zChild },
        { event: "NodeDeleted", path: "/never", zxid: expect.any(Number) },
      ]),
    );
    expect(evs).toHaveLength(5);
    for (let i = 1; i < evs.length; i++) expect(evs[i].zxid).toBeGreaterThanOrEqual(evs[i - 1].zxid);
    expect(evs.find((e) => e.path === "/gone")!.zxid).toBeGreaterThanOrEqual(zDel);
    s.done(r);
  });

  it("after a resync, unfired one-shot watches and persistent watches are registered", async () => {
    const s = await scenario();
    for (const p of ["/same", "/quiet"]) await s.write("create", p);
    await s.away();
    const top = await s.write("create", "/x");
    await compactLog(s.ns, top);
    const r = await s.back({ data: ["/same"], exist: ["/unborn"], child: ["/quiet"], persistent: ["/pp"], persistentRecursive: ["/rr"] });
    expect((r.frames[0] as Msg[])[1]).toMatchObject({ type: "resync" });
    expect(replayed(r)).toEqual([]);
    const from = r.received.length;
    const z = [
      await s.write("setData", "/same", { data: b64("1") }),
      await s.write("create", "/unborn"),
      await s.write("create", "/quiet/c"),
      await s.write("create", "/pp"),
      await s.write("create", "/rr"),
    ];
    await roundTrip(r);
    expect(eventsOf(r, from)).toEqual([
      { event: "NodeDataChanged", path: "/same", zxid: z[0] },
      { event: "NodeCreated", path: "/unborn", zxid: z[1] },
      { event: "NodeChildrenChanged", path: "/quiet", zxid: z[2] },
      { event: "NodeCreated", path: "/pp", zxid: z[3] },
      { event: "NodeCreated", path: "/rr", zxid: z[4] },
    ]);
    s.done(r);
  });

  it("a resume at or after the floor still replays exactly, without a resync", async () => {
    const s = await scenario();
    await s.write("create", "/a");
    const last = await s.away();
    await compactLog(s.ns, last);
    const z1 = await s.write("setData", "/a", { data: b64("1") });
    const z2 = await s.write("setData", "/a", { data: b64("2") });
    const r = await s.back({ persistent: ["/a"] });
    expect(r.received.some((m) => m.type === "resync")).toBe(false);
    expect(replayed(r)).toEqual([
      { event: "NodeDataChanged", path: "/a", zxid: z1 },
      { event: "NodeDataChanged", path: "/a", zxid: z2 },
    ]);
    s.done(r);
  });

  it("a setWatches from before the floor reports the resync and fires state-based events before its response", async () => {
    const s = await scenario();
    await s.write("create", "/a");
    const last = lastZxidOf(s.w);
    const z = await s.write("setData", "/a", { data: b64("1") });
    await compactLog(s.ns, z);
    const from = s.w.received.length;
    const resp = await s.w.request("setWatches", { lastZxid: last, watches: { data: ["/a"] } });
    expect(resp.err).toBe(0);
    expect(resp.resync).toMatchObject({ lastZxid: last, oldestZxid: z });
    const msgs = s.w.received.slice(from);
    expect(msgs[0]).toMatchObject({ type: "event", event: "NodeDataChanged", path: "/a", zxid: z });
    expect(msgs.at(-1)).toBe(resp);
    s.done();
  });
});
