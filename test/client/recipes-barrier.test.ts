import { describe, expect, it } from "vitest";
import { Barrier, connect, DoubleBarrier, type EdgeKeeper } from "../../src/client/index.js";
import { freshNamespace, sleep } from "../helpers/raw-client.js";
import { workerSocket } from "../helpers/worker-socket.js";

const open = (namespace: string) => connect("http://edgekeeper.test", { namespace, WebSocket: workerSocket, sessionTimeout: 5000 });

async function clients(n: number): Promise<{ zks: EdgeKeeper[]; done: () => Promise<void> }> {
  const ns = freshNamespace("rb");
  const zks = await Promise.all(Array.from({ length: n }, () => open(ns)));
  return { zks, done: async () => void (await Promise.all(zks.map((z) => z.close()))) };
}

/** Tracks whether a promise has settled, to assert that waiters are still waiting. */
function track<T>(p: Promise<T>) {
  const t = { settled: false, value: undefined as T | undefined, promise: p };
  p.then((v) => ((t.settled = true), (t.value = v)), () => (t.settled = true));
  return t;
}

describe("Barrier", () => {
  it("holds every waiter while set and releases them all when removed", async () => {
    const { zks, done } = await clients(4);
    const [owner, ...others] = zks;
    const barrier = new Barrier(owner, "/barriers/deploy");
    await barrier.setBarrier();
    await barrier.setBarrier(); // idempotent
    const waits = others.map((zk) => track(new Barrier(zk, "/barriers/deploy").waitOnBarrier()));
    // A data change on the barrier node wakes the waiters' watches but must not release them.
    await owner.setData("/barriers/deploy", "still up");
    await sleep(100);
    expect(waits.map((w) => w.settled)).toEqual([false, false, false]);
    await barrier.removeBarrier();
    expect(await Promise.all(waits.map((w) => w.promise))).toEqual([true, true, true]);
    await barrier.removeBarrier(); // idempotent
    // Not set: passes at once.
    expect(await new Barrier(others[0], "/barriers/deploy").waitOnBarrier()).toBe(true);
    await done();
  });

  it("times out with false and rejects on abort", async () => {
    const { zks, done } = await clients(2);
    await new Barrier(zks[0], "/b").setBarrier();
    const b = new Barrier(zks[1], "/b");
    const t0 = Date.now();
    expect(await b.waitOnBarrier({ timeout: 120 })).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    const ac = new AbortController();
    const waiting = b.waitOnBarrier({ signal: ac.signal });
    ac.abort(new Error("cancelled"));
    await expect(waiting).rejects.toThrow("cancelled");
    await done();
  });

  it("a waiter's watch survives a reconnect; the session ending rejects the wait", async () => {
    const ns = freshNamespace("rb");
    const owner = await open(ns);
    const waiter = await connect("http://edgekeeper.test", { namespace: ns, WebSocket: workerSocket, sessionTimeout: 5000, backoff: { baseMs: 10, maxMs: 50 } });
    const b = new Barrier(owner, "/b");
    await b.setBarrier();
    const w = track(new Barrier(waiter, "/b").waitOnBarrier());
    await sleep(30);
    waiter.dropConnection();
    await b.removeBarrier(); // while the waiter may be disconnected: replayed on resume
    expect(await w.promise).toBe(true);
    await b.setBarrier();
    const w2 = new Barrier(waiter, "/b").waitOnBarrier();
    await sleep(30);
    await waiter.close();
    await expect(w2).rejects.toThrow();
    await owner.close();
  });
});

describe("DoubleBarrier", () => {
  it("N members enter together and leave together", async () => {
    const n = 4;
    const { zks, done } = await clients(n + 1);
    const observer = zks[n];
    const members = zks.slice(0, n).map((zk, i) => new DoubleBarrier(zk, "/db", n, { id: `m${i}` }));
    const entering = members.slice(0, n - 1).map((m) => track(m.enter()));
    await sleep(150);
    expect(entering.map((e) => e.settled)).toEqual([false, false, false]);
    expect((await observer.getChildren("/db")).sort()).toEqual(["m0", "m1", "m2"]);
    // The last one completes the quorum: everybody is in.
    expect(await members[n - 1].enter()).toBe(true);
    expect(await Promise.all(entering.map((e) => e.promise))).toEqual([true, true, true]);
    expect((await observer.getChildren("/db")).sort()).toEqual(["m0", "m1", "m2", "m3", "ready"]);
    // Members (ephemeral nodes) belong to their sessions.
    const stat = await observer.exists("/db/m2");
    expect(stat!.ephemeralOwner).not.toBe("0000000000000000");

    // Leaving: nobody is out until all have left.
    const leaving = members.slice(0, n - 1).map((m) => track(m.leave()));
    await sleep(150);
    expect(leaving.map((l) => l.settled)).toEqual([false, false, false]);
    expect(await members[n - 1].leave()).toBe(true);
    expect(await Promise.all(leaving.map((l) => l.promise))).toEqual([true, true, true]);
    expect(await observer.getChildren("/db")).toEqual([]);
    await done();
  });

  it("enter times out with false while the quorum is short; a dead member is counted out", async () => {
    const { zks, done } = await clients(3);
    const [a, b, c] = zks;
    const da = new DoubleBarrier(a, "/db2", 2);
    expect(await da.enter({ timeout: 100 })).toBe(false);
    // b joins and dies before a third member arrives; a and c then leave the barrier.
    const db = new DoubleBarrier(b, "/db2", 3);
    const bEntering = db.enter();
    bEntering.catch(() => {});
    await sleep(50);
    await b.close();
    expect((await c.getChildren("/db2")).length).toBe(1);
    const dc = new DoubleBarrier(c, "/db2", 2);
    expect(await dc.enter()).toBe(true); // a (still registered) and c make 2
    expect(await Promise.all([da.leave(), dc.leave()])).toEqual([true, true]);
    expect(await c.getChildren("/db2")).toEqual([]);
    await Promise.all([a.close(), c.close()]);
    void done;
  });

  it("runs many concurrent rounds with members on separate clients", async () => {
    const n = 5;
    const { zks, done } = await clients(n);
    for (let round = 0; round < 3; round++) {
      const inside = new Set<number>();
      let maxInsideAtLeave = 0;
      await Promise.all(
        zks.map(async (zk, i) => {
          const m = new DoubleBarrier(zk, "/rounds", n);
          await sleep(Math.random() * 30);
          expect(await m.enter()).toBe(true);
          inside.add(i);
          maxInsideAtLeave = Math.max(maxInsideAtLeave, inside.size);
          await sleep(Math.random() * 30);
          expect(await m.leave()).toBe(true);
        }),
      );
      expect(maxInsideAtLeave).toBe(n);
      expect(await zks[0].getChildren("/rounds")).toEqual([]);
    }
    await done();
  });
});
