import { describe, expect, it } from "vitest";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { NamespaceObject } from "../../src/objects/namespace-object.js";
import { RawClient, b64, eventsOf, freshNamespace, roundTrip, sleep, stubFor } from "../helpers/raw-client.js";

const runAlarm = (ns: string) => runDurableObjectAlarm(stubFor(ns));

/** Drives the alarm and waits until `path` is gone (the alarm may also fire on its own). */
async function untilGone(c: RawClient, path: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    await runAlarm(c.namespace);
    if ((await c.request("exists", { path })).stat === null) return;
    if (Date.now() > deadline) throw new Error(`${path} still exists`);
    await sleep(20);
  }
}

const exists = async (c: RawClient, path: string) => (await c.request("exists", { path })).stat !== null;

async function setup() {
  const ns = freshNamespace();
  const x = await RawClient.connect(ns);
  const w = await RawClient.connect(ns);
  return { ns, x, w, done: () => (x.close(), w.close()) };
}

describe("container nodes", () => {
  it("a container is deleted once its last child is deleted, firing NodeDeleted", async () => {
    const { x, w, done } = await setup();
    expect((await x.request("create", { path: "/c", mode: "container" })).err).toBe(0);
    await x.request("create", { path: "/c/a" });
    await x.request("create", { path: "/c/b" });
    await w.request("exists", { path: "/c", watch: true });
    await w.request("getChildren", { path: "/", watch: true });
    const from = w.received.length;
    await x.request("delete", { path: "/c/a" });
    await runAlarm(x.namespace);
    expect(await exists(x, "/c")).toBe(true); // one child left
    const last = await x.request("delete", { path: "/c/b" });
    await untilGone(x, "/c");
    await roundTrip(w);
    const evs = eventsOf(w, from);
    expect(evs).toEqual([
      { event: "NodeDeleted", path: "/c", zxid: expect.any(Number) },
      { event: "NodeChildrenChanged", path: "/", zxid: evs[0]?.zxid },
    ]);
    expect(evs[0].zxid).toBeGreaterThan(last.zxid);
    done();
  });

  it("the removal is its own transaction, made by the server (no session)", async () => {
    const { ns, x, done } = await setup();
    await x.request("create", { path: "/c", mode: 4 });
    await x.request("create", { path: "/c/a" });
    const del = await x.request("delete", { path: "/c/a" });
    await untilGone(x, "/c");
    const log = await runInDurableObject(stubFor(ns), (o: NamespaceObject) => o.ns.changesAfter(del.zxid));
    expect(log.map((c) => [c.zxid, c.type, c.path, c.session])).toEqual([[del.zxid + 1, "delete", "/c", ""]]);
    done();
  });

  it("a container that never had children is not removed", async () => {
    const { x, done } = await setup();
    await x.request("create", { path: "/c", mode: "container" });
    await runAlarm(x.namespace);
    await sleep(50);
    await runAlarm(x.namespace);
    expect(await exists(x, "/c")).toBe(true);
    done();
  });

  it("a container that got a new child before the alarm ran is kept", async () => {
    const { x, done } = await setup();
    await x.request("create", { path: "/c", mode: "container" });
    await x.request("create", { path: "/c/a" });
    // In one frame, so no alarm can run in between.
    const [d, c] = await x.batch([
      { op: "delete", path: "/c/a" },
      { op: "create", path: "/c/b" },
    ]);
    expect([d.err, c.err]).toEqual([0, 0]);
    await runAlarm(x.namespace);
    await sleep(30);
    await runAlarm(x.namespace);
    expect((await x.request("getChildren", { path: "/c" })).children).toEqual(["b"]);
    await x.request("delete", { path: "/c/b" });
    await untilGone(x, "/c");
    done();
  });

  it("cascades: a container emptied by the removal of a child container goes too", async () => {
    const { x, w, done } = await setup();
    await x.request("create", { path: "/c1", mode: "container" });
    await x.request("create", { path: "/c1/c2", mode: "container" });
    await x.request("create", { path: "/c1/c2/leaf" });
    await x.request("create", { path: "/c1/keep-out" }); // not a container child: keeps /c1 until deleted
    await w.request("addWatch", { path: "/", mode: "persistentRecursive" });
    const from = w.received.length;
    const d1 = await x.request("delete", { path: "/c1/c2/leaf" });
    await untilGone(x, "/c1/c2");
    expect(await exists(x, "/c1")).toBe(true);
    const d2 = await x.request("delete", { path: "/c1/keep-out" });
    await untilGone(x, "/c1");
    await roundTrip(w);
    const evs = eventsOf(w, from);
    expect(evs.map((e) => [e.event, e.path])).toEqual([
      ["NodeDeleted", "/c1/c2/leaf"],
      ["NodeDeleted", "/c1/c2"],
      ["NodeDeleted", "/c1/keep-out"],
      ["NodeDeleted", "/c1"],
    ]);
    expect(evs[0].zxid).toBe(d1.zxid);
    expect(evs[2].zxid).toBe(d2.zxid);
    for (let i = 1; i < evs.length; i++) expect(evs[i].zxid).toBeGreaterThan(evs[i - 1].zxid);
    done();
  });

  it("cascades through a chain of containers in one alarm", async () => {
    const { x, done } = await setup();
    await x.request("create", { path: "/a", mode: "container" });
    await x.request("create", { path: "/a/b", mode: "container" });
    await x.request("create", { path: "/a/b/c", mode: "container" });
    await x.request("create", { path: "/a/b/c/leaf" });
    await x.request("delete", { path: "/a/b/c/leaf" });
    await untilGone(x, "/a");
    done();
  });

  it("a container emptied by a session close (ephemeral children) is removed", async () => {
    const { ns, x, w, done } = await setup();
    await x.request("create", { path: "/lock", mode: "container" });
    const owner = await RawClient.connect(ns);
    await owner.request("create", { path: "/lock/n-", mode: "ephemeral_sequential" });
    await w.request("exists", { path: "/lock", watch: true });
    await owner.request("close");
    await untilGone(x, "/lock");
    const ev = await w.waitFor((m) => m.type === "event");
    expect(ev).toMatchObject({ event: "NodeDeleted", path: "/lock" });
    done();
  });

  it("a container emptied by the expiry of its TTL child is removed after it", async () => {
    const { x, w, done } = await setup();
    await x.request("create", { path: "/c", mode: "container" });
    await x.request("create", { path: "/c/t", mode: "persistent_ttl", ttl: 50 });
    await w.request("addWatch", { path: "/c", mode: "persistentRecursive" });
    const from = w.received.length;
    await sleep(120);
    await untilGone(x, "/c");
    await roundTrip(w);
    const evs = eventsOf(w, from);
    expect(evs.map((e) => [e.event, e.path])).toEqual([
      ["NodeDeleted", "/c/t"],
      ["NodeDeleted", "/c"],
    ]);
    expect(evs[1].zxid).toBe(evs[0].zxid + 1);
    done();
  });

  it("is removed by an alarm that runs after the object was evicted", async () => {
    const { ns, x, done } = await setup();
    await x.request("create", { path: "/c", mode: "container" });
    await x.request("create", { path: "/c/a" });
    await x.request("delete", { path: "/c/a" });
    await evictDurableObject(stubFor(ns)).catch(() => undefined); // may already have gone idle
    await untilGone(x, "/c");
    done();
  });
});

describe("TTL nodes", () => {
  it("is removed once its TTL has passed since its last modification, firing its watches", async () => {
    const { x, w, done } = await setup();
    await x.request("create", { path: "/p" });
    const created = await x.request("create", { path: "/p/t", mode: "persistent_ttl", ttl: 50 });
    expect(created.err).toBe(0);
    await w.request("exists", { path: "/p/t", watch: true });
    await w.request("getChildren", { path: "/p", watch: true });
    const from = w.received.length;
    await sleep(120);
    await untilGone(x, "/p/t");
    await roundTrip(w);
    const evs = eventsOf(w, from);
    expect(evs).toEqual([
      { event: "NodeDeleted", path: "/p/t", zxid: expect.any(Number) },
      { event: "NodeChildrenChanged", path: "/p", zxid: evs[0]?.zxid },
    ]);
    expect(evs[0].zxid).toBeGreaterThan(created.zxid);
    done();
  });

  it("is not removed before its TTL has passed, even if the alarm runs early", async () => {
    const { x, done } = await setup();
    await x.request("create", { path: "/t", mode: "persistent_ttl", ttl: 5000 });
    await runAlarm(x.namespace);
    await sleep(50);
    await runAlarm(x.namespace);
    expect(await exists(x, "/t")).toBe(true);
    done();
  });

  it("is not removed while it has children, and goes once the last child is deleted", async () => {
    const { x, done } = await setup();
    await x.request("create", { path: "/t", mode: "persistent_ttl", ttl: 50 });
    await x.request("create", { path: "/t/c" });
    await sleep(120);
    await runAlarm(x.namespace);
    await sleep(20);
    await runAlarm(x.namespace);
    expect(await exists(x, "/t")).toBe(true);
    await x.request("delete", { path: "/t/c" });
    await untilGone(x, "/t");
    done();
  });

  it("setData pushes the deadline: the TTL counts from the last modification (mtime)", async () => {
    const { x, done } = await setup();
    await x.request("create", { path: "/t", mode: "persistent_ttl", ttl: 400 });
    await sleep(250);
    const set = await x.request("setData", { path: "/t", data: b64("touch") });
    expect(set.err).toBe(0);
    await sleep(250); // past the first deadline, before the pushed one
    await runAlarm(x.namespace);
    expect(await exists(x, "/t")).toBe(true);
    await sleep(300);
    await untilGone(x, "/t");
    done();
  });

  it("creating a child does not push the deadline (it does not change mtime)", async () => {
    const { x, done } = await setup();
    await x.request("create", { path: "/t", mode: "persistent_ttl", ttl: 300 });
    await sleep(200);
    await x.request("create", { path: "/t/c" });
    await x.request("delete", { path: "/t/c" });
    // ~200 ms after create: not yet due.
    await runAlarm(x.namespace);
    expect(await exists(x, "/t")).toBe(true);
    await sleep(150); // now past ctime + ttl, though only ~150 ms after the child went
    await untilGone(x, "/t", 300);
    done();
  });

  it("a sequential TTL node is removed too", async () => {
    const { x, done } = await setup();
    const r = await x.request("create", { path: "/s-", mode: "persistent_sequential_ttl", ttl: 50 });
    expect(r.path).toBe("/s-0000000000");
    await sleep(120);
    await untilGone(x, r.path);
    done();
  });

  it("the removal is a server transaction with its own zxid in the change log", async () => {
    const { ns, x, done } = await setup();
    const r = await x.request("create", { path: "/t", mode: 5, ttl: 50 });
    await sleep(120);
    await untilGone(x, "/t");
    const log = await runInDurableObject(stubFor(ns), (o: NamespaceObject) => o.ns.changesAfter(r.zxid));
    expect(log.map((c) => [c.zxid, c.type, c.path, c.session])).toEqual([[r.zxid + 1, "delete", "/t", ""]]);
    done();
  });

  it("is removed by an alarm after the object was evicted, and the hibernated watcher is told", async () => {
    const { ns, x, w, done } = await setup();
    await x.request("create", { path: "/t", mode: "persistent_ttl", ttl: 80 });
    await w.request("exists", { path: "/t", watch: true });
    await evictDurableObject(stubFor(ns));
    await sleep(150);
    await runAlarm(ns);
    const ev = await w.waitFor((m) => m.type === "event");
    expect(ev).toMatchObject({ event: "NodeDeleted", path: "/t" });
    expect(await exists(x, "/t")).toBe(false);
    done();
  });
});
