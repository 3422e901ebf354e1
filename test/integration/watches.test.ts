import { describe, expect, it } from "vitest";
import { runInDurableObject } from "cloudflare:test";
import { RawClient, b64, eventsOf, freshNamespace, roundTrip, stubFor } from "../helpers/raw-client.js";

/** Rows of the object's watches table. */
const watchRows = (ns: string) =>
  runInDurableObject(stubFor(ns), (_o: unknown, state: DurableObjectState) =>
    state.storage.sql.exec<{ session: string; path: string; kind: string }>(`SELECT session, path, kind FROM watch_list ORDER BY path, kind`).toArray(),
  );

/** Everything in the object's own tables, to show that an operation wrote nothing. */
const snapshot = (ns: string) =>
  runInDurableObject(stubFor(ns), (_o: unknown, state: DurableObjectState) => {
    const sql = state.storage.sql;
    const out: Record<string, unknown[]> = {};
    for (const t of ["meta", "znodes", "change_log", "sessions", "timer_list", "watch_list", "request_results"])
      out[t] = sql.exec(`SELECT * FROM ${t}`).toArray().map((r) => JSON.stringify(r, (_k, v) => (v instanceof ArrayBuffer ? [...new Uint8Array(v)] : v)));
    return out;
  });

/** Two clients on a fresh namespace: `w` watches, `x` writes. */
async function pair() {
  const ns = freshNamespace();
  const w = await RawClient.connect(ns);
  const x = await RawClient.connect(ns);
  return { ns, w, x, done: () => (w.close(), x.close()) };
}

/** The events `w` got from index `from` on, after a round trip so that all of them have arrived. */
async function settled(w: RawClient, from: number) {
  await roundTrip(w);
  return eventsOf(w, from);
}

describe("one-shot data watches (getData / exists)", () => {
  it("getData watch fires NodeDataChanged on setData, with the write's zxid and eventType 3", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/a", data: b64("1") });
    await w.request("getData", { path: "/a", watch: true });
    const from = w.received.length;
    const set = await x.request("setData", { path: "/a", data: b64("2") });
    const ev = await w.waitFor((m) => m.type === "event", from);
    expect(ev).toEqual({ type: "event", event: "NodeDataChanged", eventType: 3, path: "/a", zxid: set.zxid });
    done();
  });

  it("getData watch fires NodeDeleted (eventType 2) on delete", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/a" });
    await w.request("getData", { path: "/a", watch: true });
    const from = w.received.length;
    const del = await x.request("delete", { path: "/a" });
    const ev = await w.waitFor((m) => m.type === "event", from);
    expect(ev).toEqual({ type: "event", event: "NodeDeleted", eventType: 2, path: "/a", zxid: del.zxid });
    done();
  });

  it("a data watch is one-shot: a second change fires nothing", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/a" });
    await w.request("getData", { path: "/a", watch: true });
    const from = w.received.length;
    const s1 = await x.request("setData", { path: "/a", data: b64("1") });
    await x.request("setData", { path: "/a", data: b64("2") });
    await x.request("delete", { path: "/a" });
    expect(await settled(w, from)).toEqual([{ event: "NodeDataChanged", path: "/a", zxid: s1.zxid }]);
    done();
  });

  it("exists watch on an existing node fires NodeDataChanged", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/a" });
    await w.request("exists", { path: "/a", watch: true });
    const from = w.received.length;
    const set = await x.request("setData", { path: "/a", data: b64("z") });
    expect(await settled(w, from)).toEqual([{ event: "NodeDataChanged", path: "/a", zxid: set.zxid }]);
    done();
  });

  it("exists watch on a missing node fires NodeCreated (eventType 1)", async () => {
    const { w, x, done } = await pair();
    const r = await w.request("exists", { path: "/later", watch: true });
    expect(r).toMatchObject({ err: 0, stat: null });
    const from = w.received.length;
    const created = await x.request("create", { path: "/later" });
    const ev = await w.waitFor((m) => m.type === "event", from);
    expect(ev).toEqual({ type: "event", event: "NodeCreated", eventType: 1, path: "/later", zxid: created.zxid });
    await x.request("setData", { path: "/later", data: "" });
    expect(await settled(w, from)).toHaveLength(1);
    done();
  });

  it("getData on a missing node sets no watch", async () => {
    const { ns, w, x, done } = await pair();
    const r = await w.request("getData", { path: "/nope", watch: true });
    expect(r.err).toBe(-101);
    expect(await watchRows(ns)).toEqual([]);
    expect((await w.request("checkWatches", { path: "/nope", type: "data" })).err).toBe(-121);
    const from = w.received.length;
    await x.request("create", { path: "/nope" });
    expect(await settled(w, from)).toEqual([]);
    done();
  });

  it("getChildren on a missing node sets no watch", async () => {
    const { ns, w, x, done } = await pair();
    const r = await w.request("getChildren", { path: "/nope", watch: true });
    expect(r.err).toBe(-101);
    expect(await watchRows(ns)).toEqual([]);
    const from = w.received.length;
    await x.request("create", { path: "/nope" });
    await x.request("create", { path: "/nope/c" });
    expect(await settled(w, from)).toEqual([]);
    done();
  });

  it("a setACL fires no watch", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/a" });
    await w.request("getData", { path: "/a", watch: true });
    const from = w.received.length;
    expect((await x.request("setACL", { path: "/a", acl: [{ perms: 31, scheme: "world", id: "anyone" }] })).err).toBe(0);
    expect(await settled(w, from)).toEqual([]);
    done();
  });

  it("a session gets one event when several of its watches match (data + exist on the same path)", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/a" });
    await w.request("getData", { path: "/a", watch: true });
    await w.request("exists", { path: "/a", watch: true });
    await w.request("addWatch", { path: "/a", mode: "persistent" });
    await w.request("addWatch", { path: "/", mode: "persistentRecursive" });
    const from = w.received.length;
    const set = await x.request("setData", { path: "/a", data: "" });
    expect(await settled(w, from)).toEqual([{ event: "NodeDataChanged", path: "/a", zxid: set.zxid }]);
    done();
  });

  it("each watching session gets its own event", async () => {
    const ns = freshNamespace();
    const [a, b, x] = await Promise.all([RawClient.connect(ns), RawClient.connect(ns), RawClient.connect(ns)]);
    await x.request("create", { path: "/a" });
    await a.request("getData", { path: "/a", watch: true });
    await b.request("exists", { path: "/a", watch: true });
    const [fa, fb] = [a.received.length, b.received.length];
    const set = await x.request("setData", { path: "/a", data: "" });
    expect(await settled(a, fa)).toEqual([{ event: "NodeDataChanged", path: "/a", zxid: set.zxid }]);
    expect(await settled(b, fb)).toEqual([{ event: "NodeDataChanged", path: "/a", zxid: set.zxid }]);
    expect(x.events()).toEqual([]);
    for (const c of [a, b, x]) c.close();
  });
});

describe("one-shot child watches (getChildren)", () => {
  it("fires NodeChildrenChanged (eventType 4) when a child is created", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/p" });
    await w.request("getChildren", { path: "/p", watch: true });
    const from = w.received.length;
    const c = await x.request("create", { path: "/p/c" });
    const ev = await w.waitFor((m) => m.type === "event", from);
    expect(ev).toEqual({ type: "event", event: "NodeChildrenChanged", eventType: 4, path: "/p", zxid: c.zxid });
    done();
  });

  it("fires NodeChildrenChanged when a child is deleted", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/p" });
    await x.request("create", { path: "/p/c" });
    await w.request("getChildren", { path: "/p", watch: true });
    const from = w.received.length;
    const del = await x.request("delete", { path: "/p/c" });
    expect(await settled(w, from)).toEqual([{ event: "NodeChildrenChanged", path: "/p", zxid: del.zxid }]);
    done();
  });

  it("fires NodeDeleted when the watched node itself is deleted", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/p" });
    await w.request("getChildren", { path: "/p", watch: true });
    const from = w.received.length;
    const del = await x.request("delete", { path: "/p" });
    expect(await settled(w, from)).toEqual([{ event: "NodeDeleted", path: "/p", zxid: del.zxid }]);
    done();
  });

  it("does not fire on the node's own data change or on a grandchild change", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/p" });
    await x.request("create", { path: "/p/c" });
    await w.request("getChildren", { path: "/p", watch: true });
    const from = w.received.length;
    await x.request("setData", { path: "/p", data: b64("d") });
    await x.request("setData", { path: "/p/c", data: b64("d") });
    await x.request("create", { path: "/p/c/g" });
    expect(await settled(w, from)).toEqual([]);
    // Still armed: the next child change fires it.
    const c2 = await x.request("create", { path: "/p/c2" });
    expect(await settled(w, from)).toEqual([{ event: "NodeChildrenChanged", path: "/p", zxid: c2.zxid }]);
    done();
  });

  it("is one-shot", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/p" });
    await w.request("getChildren", { path: "/p", watch: true });
    const from = w.received.length;
    const c1 = await x.request("create", { path: "/p/c1" });
    await x.request("create", { path: "/p/c2" });
    await x.request("delete", { path: "/p/c1" });
    expect(await settled(w, from)).toEqual([{ event: "NodeChildrenChanged", path: "/p", zxid: c1.zxid }]);
    done();
  });

  it("a data watch does not fire for a child change", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/p" });
    await w.request("getData", { path: "/p", watch: true });
    const from = w.received.length;
    await x.request("create", { path: "/p/c" });
    expect(await settled(w, from)).toEqual([]);
    done();
  });

  it("sends a single NodeDeleted when a session holds both a data and a child watch on the node", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/p" });
    await w.request("getData", { path: "/p", watch: true });
    await w.request("getChildren", { path: "/p", watch: true });
    const from = w.received.length;
    const del = await x.request("delete", { path: "/p" });
    expect(await settled(w, from)).toEqual([{ event: "NodeDeleted", path: "/p", zxid: del.zxid }]);
    // Both watches were consumed.
    expect((await w.request("checkWatches", { path: "/p", type: "any" })).err).toBe(-121);
    done();
  });

  it("sends NodeDeleted(P) before NodeChildrenChanged(parent) on delete", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/p" });
    await x.request("create", { path: "/p/c" });
    await w.request("getChildren", { path: "/p", watch: true });
    await w.request("exists", { path: "/p/c", watch: true });
    const from = w.received.length;
    const del = await x.request("delete", { path: "/p/c" });
    expect(await settled(w, from)).toEqual([
      { event: "NodeDeleted", path: "/p/c", zxid: del.zxid },
      { event: "NodeChildrenChanged", path: "/p", zxid: del.zxid },
    ]);
    done();
  });

  it("a child watch on / fires for a top-level create", async () => {
    const { w, x, done } = await pair();
    await w.request("getChildren", { path: "/", watch: true });
    const from = w.received.length;
    const c = await x.request("create", { path: "/top" });
    expect(await settled(w, from)).toEqual([{ event: "NodeChildrenChanged", path: "/", zxid: c.zxid }]);
    done();
  });
});

describe("persistent watches (addWatch persistent)", () => {
  it("fires NodeCreated, NodeDataChanged, NodeChildrenChanged and NodeDeleted and stays registered", async () => {
    const { w, x, done } = await pair();
    expect((await w.request("addWatch", { path: "/p", mode: "persistent" })).err).toBe(0);
    const from = w.received.length;
    const z: number[] = [];
    z.push((await x.request("create", { path: "/p" })).zxid);
    z.push((await x.request("setData", { path: "/p", data: b64("1") })).zxid);
    z.push((await x.request("setData", { path: "/p", data: b64("2") })).zxid);
    z.push((await x.request("create", { path: "/p/c" })).zxid);
    await x.request("setData", { path: "/p/c", data: b64("1") }); // not P's business
    await x.request("create", { path: "/p/c/g" }); // neither
    await x.request("delete", { path: "/p/c/g" });
    z.push((await x.request("delete", { path: "/p/c" })).zxid);
    z.push((await x.request("delete", { path: "/p" })).zxid);
    z.push((await x.request("create", { path: "/p" })).zxid);
    expect(await settled(w, from)).toEqual([
      { event: "NodeCreated", path: "/p", zxid: z[0] },
      { event: "NodeDataChanged", path: "/p", zxid: z[1] },
      { event: "NodeDataChanged", path: "/p", zxid: z[2] },
      { event: "NodeChildrenChanged", path: "/p", zxid: z[3] },
      { event: "NodeChildrenChanged", path: "/p", zxid: z[4] },
      { event: "NodeDeleted", path: "/p", zxid: z[5] },
      { event: "NodeCreated", path: "/p", zxid: z[6] },
    ]);
    expect((await w.request("checkWatches", { path: "/p", type: "persistent" })).err).toBe(0);
    done();
  });

  it("accepts the numeric mode 0", async () => {
    const { w, x, done } = await pair();
    expect((await w.request("addWatch", { path: "/p", mode: 0 })).err).toBe(0);
    const from = w.received.length;
    const c = await x.request("create", { path: "/p" });
    const d = await x.request("create", { path: "/p/c" });
    expect(await settled(w, from)).toEqual([
      { event: "NodeCreated", path: "/p", zxid: c.zxid },
      { event: "NodeChildrenChanged", path: "/p", zxid: d.zxid },
    ]);
    done();
  });

  it("rejects an unknown addWatch mode", async () => {
    const { w, done } = await pair();
    const r = await w.request("addWatch", { path: "/p", mode: 2 });
    expect(r.err).not.toBe(0);
    done();
  });
});

describe("persistent recursive watches (addWatch persistentRecursive)", () => {
  it("fires for the path and every descendant, and never NodeChildrenChanged", async () => {
    const { w, x, done } = await pair();
    expect((await w.request("addWatch", { path: "/r", mode: "persistentRecursive" })).err).toBe(0);
    const from = w.received.length;
    const z: number[] = [];
    z.push((await x.request("create", { path: "/r" })).zxid);
    z.push((await x.request("create", { path: "/r/a" })).zxid);
    z.push((await x.request("create", { path: "/r/a/b" })).zxid);
    z.push((await x.request("setData", { path: "/r/a/b", data: b64("1") })).zxid);
    z.push((await x.request("setData", { path: "/r", data: b64("1") })).zxid);
    z.push((await x.request("delete", { path: "/r/a/b" })).zxid);
    z.push((await x.request("delete", { path: "/r/a" })).zxid);
    expect(await settled(w, from)).toEqual([
      { event: "NodeCreated", path: "/r", zxid: z[0] },
      { event: "NodeCreated", path: "/r/a", zxid: z[1] },
      { event: "NodeCreated", path: "/r/a/b", zxid: z[2] },
      { event: "NodeDataChanged", path: "/r/a/b", zxid: z[3] },
      { event: "NodeDataChanged", path: "/r", zxid: z[4] },
      { event: "NodeDeleted", path: "/r/a/b", zxid: z[5] },
      { event: "NodeDeleted", path: "/r/a", zxid: z[6] },
    ]);
    done();
  });

  it("ignores paths outside the subtree, including siblings that share a name prefix", async () => {
    const { w, x, done } = await pair();
    await w.request("addWatch", { path: "/r", mode: 1 });
    const from = w.received.length;
    await x.request("create", { path: "/rx" });
    await x.request("create", { path: "/rx/y" });
    await x.request("create", { path: "/other" });
    await x.request("setData", { path: "/rx", data: "" });
    expect(await settled(w, from)).toEqual([]);
    done();
  });

  it("a recursive watch on / sees every node", async () => {
    const { w, x, done } = await pair();
    await w.request("addWatch", { path: "/", mode: "persistentRecursive" });
    const from = w.received.length;
    const a = await x.request("create", { path: "/a" });
    const b = await x.request("create", { path: "/a/b" });
    expect(await settled(w, from)).toEqual([
      { event: "NodeCreated", path: "/a", zxid: a.zxid },
      { event: "NodeCreated", path: "/a/b", zxid: b.zxid },
    ]);
    done();
  });

  it("stays registered after NodeDeleted of its own path", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/r" });
    await w.request("addWatch", { path: "/r", mode: "persistentRecursive" });
    const from = w.received.length;
    const d = await x.request("delete", { path: "/r" });
    const c = await x.request("create", { path: "/r" });
    expect(await settled(w, from)).toEqual([
      { event: "NodeDeleted", path: "/r", zxid: d.zxid },
      { event: "NodeCreated", path: "/r", zxid: c.zxid },
    ]);
    done();
  });

  it("with a child watch on the same parent, the session gets NodeDeleted(child) once and the parent's NodeChildrenChanged", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/r" });
    await x.request("create", { path: "/r/c" });
    await w.request("addWatch", { path: "/r", mode: "persistentRecursive" });
    await w.request("getChildren", { path: "/r", watch: true });
    const from = w.received.length;
    const d = await x.request("delete", { path: "/r/c" });
    expect(await settled(w, from)).toEqual([
      { event: "NodeDeleted", path: "/r/c", zxid: d.zxid },
      { event: "NodeChildrenChanged", path: "/r", zxid: d.zxid },
    ]);
    done();
  });
});

describe("removeWatches / checkWatches", () => {
  it("checkWatches finds a child watch and leaves it in place", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/p" });
    await w.request("getChildren", { path: "/p", watch: true });
    expect((await w.request("checkWatches", { path: "/p", type: "children" })).err).toBe(0);
    expect((await w.request("checkWatches", { path: "/p", type: 1 })).err).toBe(0);
    expect((await w.request("checkWatches", { path: "/p", type: "any" })).err).toBe(0);
    const from = w.received.length;
    await x.request("create", { path: "/p/c" });
    expect((await settled(w, from)).map((e) => e.event)).toEqual(["NodeChildrenChanged"]);
    done();
  });

  it("removeWatches children removes a child watch: it no longer fires", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/p" });
    await w.request("getChildren", { path: "/p", watch: true });
    expect((await w.request("removeWatches", { path: "/p", type: "children" })).err).toBe(0);
    expect((await w.request("checkWatches", { path: "/p", type: "children" })).err).toBe(-121);
    const from = w.received.length;
    await x.request("create", { path: "/p/c" });
    await x.request("delete", { path: "/p" + "/c" });
    expect(await settled(w, from)).toEqual([]);
    done();
  });

  it("removeWatches data removes a data watch and an exist watch", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/a" });
    await w.request("getData", { path: "/a", watch: true });
    await w.request("exists", { path: "/b", watch: true });
    expect((await w.request("removeWatches", { path: "/a", type: "data" })).err).toBe(0);
    expect((await w.request("removeWatches", { path: "/b", type: 2 })).err).toBe(0);
    const from = w.received.length;
    await x.request("setData", { path: "/a", data: "" });
    await x.request("create", { path: "/b" });
    expect(await settled(w, from)).toEqual([]);
    done();
  });

  it("removeWatches data leaves the child watch on the same path", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/p" });
    await w.request("getData", { path: "/p", watch: true });
    await w.request("getChildren", { path: "/p", watch: true });
    expect((await w.request("removeWatches", { path: "/p", type: "data" })).err).toBe(0);
    expect((await w.request("checkWatches", { path: "/p", type: "data" })).err).toBe(-121);
    expect((await w.request("checkWatches", { path: "/p", type: "children" })).err).toBe(0);
    const from = w.received.length;
    await x.request("setData", { path: "/p", data: "" });
    const c = await x.request("create", { path: "/p/c" });
    expect(await settled(w, from)).toEqual([{ event: "NodeChildrenChanged", path: "/p", zxid: c.zxid }]);
    done();
  });

  it("removeWatches any (3) removes data, child, persistent and recursive watches on the path", async () => {
    const { ns, w, x, done } = await pair();
    await x.request("create", { path: "/p" });
    await w.request("getData", { path: "/p", watch: true });
    await w.request("getChildren", { path: "/p", watch: true });
    await w.request("addWatch", { path: "/p", mode: "persistent" });
    await w.request("addWatch", { path: "/p", mode: "persistentRecursive" });
    expect(await watchRows(ns)).toHaveLength(4);
    expect((await w.request("removeWatches", { path: "/p", type: 3 })).err).toBe(0);
    expect(await watchRows(ns)).toEqual([]);
    const from = w.received.length;
    await x.request("create", { path: "/p/c" });
    await x.request("setData", { path: "/p", data: "" });
    expect(await settled(w, from)).toEqual([]);
    expect((await w.request("checkWatches", { path: "/p", type: "any" })).err).toBe(-121);
    done();
  });

  it("removeWatches persistent (4) removes a persistent watch only", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/p" });
    await w.request("addWatch", { path: "/p", mode: "persistent" });
    await w.request("getData", { path: "/p", watch: true });
    expect((await w.request("checkWatches", { path: "/p", type: "persistent" })).err).toBe(0);
    expect((await w.request("checkWatches", { path: "/p", type: 4 })).err).toBe(0);
    expect((await w.request("removeWatches", { path: "/p", type: 4 })).err).toBe(0);
    expect((await w.request("checkWatches", { path: "/p", type: "persistent" })).err).toBe(-121);
    const from = w.received.length;
    const s1 = await x.request("setData", { path: "/p", data: "" }); // the one-shot data watch
    await x.request("setData", { path: "/p", data: "" });
    await x.request("create", { path: "/p/c" });
    expect(await settled(w, from)).toEqual([{ event: "NodeDataChanged", path: "/p", zxid: s1.zxid }]);
    done();
  });

  it("removeWatches persistentRecursive (5) removes a recursive watch", async () => {
    const { w, x, done } = await pair();
    await w.request("addWatch", { path: "/r", mode: "persistentRecursive" });
    expect((await w.request("checkWatches", { path: "/r", type: "persistentRecursive" })).err).toBe(0);
    expect((await w.request("checkWatches", { path: "/r", type: 5 })).err).toBe(0);
    expect((await w.request("checkWatches", { path: "/r", type: "persistent" })).err).toBe(-121);
    expect((await w.request("removeWatches", { path: "/r", type: "persistentRecursive" })).err).toBe(0);
    const from = w.received.length;
    await x.request("create", { path: "/r" });
    await x.request("create", { path: "/r/a" });
    expect(await settled(w, from)).toEqual([]);
    done();
  });

  it.each([
    ["children", 1],
    ["data", 2],
    ["any", 3],
    ["persistent", 4],
    ["persistentRecursive", 5],
  ])("answers NOWATCHER (-121) when there is no %s watch (type %i)", async (name, num) => {
    const { w, done } = await pair();
    for (const type of [name, num])
      for (const op of ["checkWatches", "removeWatches"]) {
        const r = await w.request(op, { path: "/nothing", type });
        expect(r).toMatchObject({ err: -121, code: "NOWATCHER" });
      }
    done();
  });

  it("another session's watch is not this session's: removeWatches answers NOWATCHER and leaves it", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/a" });
    await w.request("getData", { path: "/a", watch: true });
    expect((await x.request("removeWatches", { path: "/a", type: "data" })).err).toBe(-121);
    const from = w.received.length;
    await x.request("setData", { path: "/a", data: "" });
    expect((await settled(w, from)).map((e) => e.event)).toEqual(["NodeDataChanged"]);
    done();
  });

  it("rejects an unknown watcher type", async () => {
    const { w, done } = await pair();
    for (const type of [0, 6, "bogus"]) expect((await w.request("removeWatches", { path: "/a", type })).err).toBe(-8);
    done();
  });
});

describe("ordering", () => {
  it("the writer receives the event before its own write's response, in the same frame", async () => {
    const ns = freshNamespace();
    const c = await RawClient.connect(ns);
    await c.request("create", { path: "/a" });
    await c.request("getData", { path: "/a", watch: true });
    const from = c.received.length;
    const set = await c.request("setData", { path: "/a", data: b64("x") });
    const msgs = c.received.slice(from);
    expect(msgs[0]).toMatchObject({ type: "event", event: "NodeDataChanged", path: "/a", zxid: set.zxid });
    expect(msgs[1]).toBe(set);
    expect(c.frames.at(-1)).toEqual([msgs[0], msgs[1]]);
    c.close();
  });

  it("another client receives the event before the response to its next request that reflects the change", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/a", data: b64("old") });
    await w.request("getData", { path: "/a", watch: true });
    const from = w.received.length;
    const set = await x.request("setData", { path: "/a", data: b64("new") });
    const read = await w.request("getData", { path: "/a" });
    expect(read.data).toBe(b64("new"));
    const msgs = w.received.slice(from);
    const evAt = msgs.findIndex((m) => m.type === "event");
    expect(evAt).toBeGreaterThanOrEqual(0);
    expect(msgs[evAt].zxid).toBe(set.zxid);
    expect(evAt).toBeLessThan(msgs.indexOf(read));
    done();
  });

  it("a client that sends its read right behind another's write never sees the response before the event", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/n" });
    await w.request("addWatch", { path: "/n", mode: "persistent" });
    for (let i = 0; i < 10; i++) {
      const from = w.received.length;
      const writing = x.request("setData", { path: "/n", data: b64(String(i)) });
      const reading = w.request("getData", { path: "/n" });
      const [set, read] = await Promise.all([writing, reading]);
      if (read.data === b64(String(i))) {
        // The read reflects the write: the event must already be there.
        const msgs = w.received.slice(from);
        const evAt = msgs.findIndex((m) => m.type === "event" && m.zxid === set.zxid);
        expect(evAt).toBeGreaterThanOrEqual(0);
        expect(evAt).toBeLessThan(msgs.indexOf(read));
      }
      expect(read.zxid).toBeGreaterThanOrEqual(read.data === b64(String(i)) ? set.zxid : 0);
    }
    done();
  });

  it("events arrive in zxid order, each with its transaction's zxid", async () => {
    const ns = freshNamespace();
    const w = await RawClient.connect(ns);
    const [x, y] = await Promise.all([RawClient.connect(ns), RawClient.connect(ns)]);
    await w.request("addWatch", { path: "/", mode: "persistentRecursive" });
    const from = w.received.length;
    const writes: Array<Promise<Record<string, any>>> = [];
    for (let i = 0; i < 10; i++) {
      writes.push(x.request("create", { path: `/x${i}` }));
      writes.push(y.request("create", { path: `/y${i}` }));
    }
    // A batch from one client: each request its own transaction.
    const batch = x.batch([
      { op: "create", path: "/b1" },
      { op: "setData", path: "/b1", data: b64("v") },
      { op: "delete", path: "/b1" },
    ]);
    const responses = [...(await Promise.all(writes)), ...(await batch)];
    await roundTrip(w);
    const evs = eventsOf(w, from);
    expect(evs).toHaveLength(23);
    for (let i = 1; i < evs.length; i++) expect(evs[i].zxid).toBeGreaterThan(evs[i - 1].zxid);
    const byPath = new Map(evs.filter((e) => e.event === "NodeCreated").map((e) => [e.path, e.zxid]));
    for (const r of responses.slice(0, 20)) expect(byPath.get(r.path)).toBe(r.zxid);
    const [c, s, d] = responses.slice(20);
    expect(evs.slice(-3)).toEqual([
      { event: "NodeCreated", path: "/b1", zxid: c.zxid },
      { event: "NodeDataChanged", path: "/b1", zxid: s.zxid },
      { event: "NodeDeleted", path: "/b1", zxid: d.zxid },
    ]);
    for (const cl of [w, x, y]) cl.close();
  });

  it("a multi's events all carry the multi's one zxid, in op order", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/m" });
    await w.request("addWatch", { path: "/m", mode: "persistentRecursive" });
    const from = w.received.length;
    const r = await x.request("multi", {
      ops: [
        { op: "create", path: "/m/a" },
        { op: "create", path: "/m/b" },
        { op: "setData", path: "/m", data: b64("1") },
        { op: "delete", path: "/m/a" },
      ],
    });
    expect(r.err).toBe(0);
    expect(await settled(w, from)).toEqual([
      { event: "NodeCreated", path: "/m/a", zxid: r.zxid },
      { event: "NodeCreated", path: "/m/b", zxid: r.zxid },
      { event: "NodeDataChanged", path: "/m", zxid: r.zxid },
      { event: "NodeDeleted", path: "/m/a", zxid: r.zxid },
    ]);
    done();
  });

  it("a failed multi fires nothing", async () => {
    const { w, x, done } = await pair();
    await x.request("create", { path: "/m" });
    await w.request("getChildren", { path: "/m", watch: true });
    await w.request("getData", { path: "/m", watch: true });
    const from = w.received.length;
    const r = await x.request("multi", {
      ops: [
        { op: "create", path: "/m/a" },
        { op: "setData", path: "/m", data: "" },
        { op: "check", path: "/m", version: 99 },
      ],
    });
    expect(r.err).toBe(-103);
    expect(await settled(w, from)).toEqual([]);
    done();
  });
});

describe("watch storage", () => {
  it("a read without a watch writes nothing to storage", async () => {
    const { ns, w, x, done } = await pair();
    await x.request("create", { path: "/a", data: b64("data") });
    await x.request("create", { path: "/a/c" });
    const before = await snapshot(ns);
    await w.request("getData", { path: "/a" });
    await w.request("exists", { path: "/a" });
    await w.request("exists", { path: "/missing" });
    await w.request("getChildren", { path: "/a" });
    await w.request("getChildren2", { path: "/a" });
    await w.request("multiRead", { ops: [{ op: "getData", path: "/a" }, { op: "exists", path: "/zz" }] });
    await w.request("getACL", { path: "/a" });
    await w.batch([{ op: "getData", path: "/a" }, { op: "getData", path: "/nope" }]);
    expect(await snapshot(ns)).toEqual(before);
    done();
  });

  it("a read with a watch stores one row per watch, and a fired one-shot watch removes its row", async () => {
    const { ns, w, x, done } = await pair();
    await x.request("create", { path: "/a" });
    await w.request("getData", { path: "/a", watch: true });
    await w.request("getData", { path: "/a", watch: true }); // the same watch again: still one
    await w.request("getChildren", { path: "/a", watch: true });
    await w.request("exists", { path: "/b", watch: true });
    expect(await watchRows(ns)).toEqual([
      { session: w.sessionId, path: "/a", kind: "child" },
      { session: w.sessionId, path: "/a", kind: "data" },
      { session: w.sessionId, path: "/b", kind: "data" },
    ]);
    await x.request("setData", { path: "/a", data: "" });
    await roundTrip(w);
    expect(await watchRows(ns)).toEqual([
      { session: w.sessionId, path: "/a", kind: "child" },
      { session: w.sessionId, path: "/b", kind: "data" },
    ]);
    done();
  });

  it("watches go when their socket closes", async () => {
    const { ns, w, x, done } = await pair();
    await x.request("create", { path: "/a" });
    await w.request("getData", { path: "/a", watch: true });
    await w.request("addWatch", { path: "/", mode: "persistentRecursive" });
    expect(await watchRows(ns)).toHaveLength(2);
    w.close();
    await w.waitClosed();
    // The object handles the close before the next frame from another client.
    await roundTrip(x);
    await new Promise((r) => setTimeout(r, 20));
    expect(await watchRows(ns)).toEqual([]);
    done();
  });
});
