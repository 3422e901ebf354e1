import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { Mutex, SessionExpiredError, type EdgeKeeper, type Lease, type LeaseState } from "../../src/client/index.js";
import { freshNamespace, sleep, stubFor } from "../helpers/raw-client.js";
import { until, useClients } from "../helpers/net.js";

const open = useClients();

const LOCK = "/locks/job";
const children = (zk: EdgeKeeper, path = LOCK) => zk.getChildren(path);

describe("Mutex", () => {
  it("N clients contending never overlap, and tokens strictly increase from grant to grant", { timeout: 30_000 }, async () => {
    const ns = freshNamespace("mx");
    const zks = await Promise.all(Array.from({ length: 6 }, () => open(ns)));
    let inside = 0;
    const intervals: Array<{ token: number; enter: number; exit: number }> = [];
    await Promise.all(
      zks.map(async ({ zk }) => {
        const mutex = new Mutex(zk, LOCK);
        for (let round = 0; round < 3; round++) {
          const lease = await mutex.acquire();
          inside++;
          expect(inside).toBe(1);
          const enter = performance.now();
          await sleep(Math.random() * 8);
          const exit = performance.now();
          inside--;
          intervals.push({ token: lease.token, enter, exit });
          await lease.release();
        }
      }),
    );
    expect(intervals).toHaveLength(18);
    intervals.sort((a, b) => a.enter - b.enter);
    for (let i = 1; i < intervals.length; i++) {
      expect(intervals[i].enter).toBeGreaterThanOrEqual(intervals[i - 1].exit);
      expect(intervals[i].token).toBeGreaterThan(intervals[i - 1].token);
    }
    expect(await children(zks[0].zk)).toEqual([]);
  });

  it("is fair and herd-free: a release wakes only the next waiter", { timeout: 15_000 }, async () => {
    const ns = freshNamespace("mx");
    const cs = await Promise.all(Array.from({ length: 6 }, () => open(ns)));
    const holder = await new Mutex(cs[0].zk, LOCK).acquire();
    const order: number[] = [];
    const leases: Array<Promise<Lease>> = [];
    // Queue the waiters one by one, so their sequence order is 1..5.
    for (let i = 1; i < cs.length; i++) {
      const p = new Mutex(cs[i].zk, LOCK).acquire();
      leases.push(p.then((l) => (order.push(i), l)));
      await until(async () => (await children(cs[0].zk)).length === i + 1);
    }
    await sleep(50);
    for (const c of cs) c.net.events.length = 0;

    await holder.release();
    const first = await leases[0];
    for (const c of cs) await c.zk.sync();
    await sleep(30);
    // The holder sees its own node's deletion (its lease watch); of the waiters only the next.
    expect(cs[1].net.events.map((e) => e.event)).toEqual(["NodeDeleted"]);
    for (let i = 2; i < cs.length; i++) expect(cs[i].net.events).toEqual([]);

    // The rest go in arrival order.
    await first.release();
    for (let i = 1; i < leases.length; i++) await (await leases[i]).release();
    expect(order).toEqual([1, 2, 3, 4, 5]);
  });

  it("a waiter that times out or is aborted deletes its node; no orphan blocks the queue", { timeout: 15_000 }, async () => {
    const ns = freshNamespace("mx");
    const [a, b, c] = await Promise.all([open(ns), open(ns), open(ns)]);
    const held = await new Mutex(a.zk, LOCK).acquire();

    const started = Date.now();
    expect(await new Mutex(b.zk, LOCK).acquire({ timeout: 150 })).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(await children(a.zk)).toEqual([held.path.split("/").pop()]);

    const ac = new AbortController();
    const aborted = new Mutex(b.zk, LOCK).acquire({ signal: ac.signal });
    await until(async () => (await children(a.zk)).length === 2);
    ac.abort(new Error("no longer needed"));
    await expect(aborted).rejects.toThrow("no longer needed");
    expect(await children(a.zk)).toEqual([held.path.split("/").pop()]);

    // Aborted before its create was even answered: the node is deleted when it lands.
    const ac2 = new AbortController();
    const early = new Mutex(b.zk, LOCK).acquire({ signal: ac2.signal });
    await Promise.resolve();
    ac2.abort();
    await expect(early).rejects.toThrow();
    await until(async () => (await children(a.zk)).length === 1, 2000, "early contender deleted");

    // timeout 0 = try once: fails on a held lock, succeeds on a free one.
    expect(await new Mutex(c.zk, LOCK).acquire({ timeout: 0 })).toBeNull();
    await held.release();
    const free = await new Mutex(c.zk, LOCK).acquire({ timeout: 0 });
    expect(free).not.toBeNull();
    expect(free!.token).toBeGreaterThan(held.token);
    await free!.release();
    expect(await children(a.zk)).toEqual([]);
    expect(await b.zk.getEphemerals()).toEqual([]);
  });

  it("reentrant: the same object re-acquires with the same token and needs as many releases", async () => {
    const ns = freshNamespace("mx");
    const [a, b] = await Promise.all([open(ns), open(ns)]);
    const m = new Mutex(a.zk, LOCK, { reentrant: true });
    const l1 = await m.acquire();
    const l2 = await m.acquire({ timeout: 0 });
    expect(l2).not.toBeNull();
    expect(l2!.token).toBe(l1.token);
    expect(l2!.path).toBe(l1.path);
    expect(await children(a.zk)).toHaveLength(1);

    await l1.release();
    await l1.release(); // idempotent per Lease: does not count twice
    expect(m.isAcquired).toBe(true);
    expect(l2!.state).toBe("held");
    expect(await new Mutex(b.zk, LOCK).acquire({ timeout: 50 })).toBeNull();
    await l2!.release();
    expect(m.isAcquired).toBe(false);
    const other = await new Mutex(b.zk, LOCK).acquire({ timeout: 1000 });
    expect(other!.token).toBeGreaterThan(l1.token);
    await other!.release();

    // Not reentrant (the default): the same object queues behind itself.
    const plain = new Mutex(a.zk, LOCK);
    const p1 = await plain.acquire();
    expect(await plain.acquire({ timeout: 50 })).toBeNull();
    await p1.release();
  });

  it("a create in flight when the connection drops is applied once", { timeout: 15_000 }, async () => {
    const ns = freshNamespace("mx");
    const { zk, net } = await open(ns);
    await zk.create("/locks");
    await zk.create(LOCK);
    for (const delay of [0, 0, 1, 2, 5]) {
      const m = new Mutex(zk, LOCK);
      const p = m.acquire();
      if (delay) await sleep(delay);
      else await Promise.resolve().then(() => Promise.resolve());
      net.cut();
      const lease = await p;
      expect(await zk.getChildren(LOCK)).toEqual([lease.path.split("/").pop()]);
      await lease.release();
    }
  });

  it("a holder whose socket is cut keeps the lock while its session lives (suspended, then held)", { timeout: 15_000 }, async () => {
    const ns = freshNamespace("mx");
    const [a, b] = await Promise.all([open(ns, { sessionTimeout: 2000 }), open(ns)]);
    const lease = await new Mutex(a.zk, LOCK).acquire();
    const states: LeaseState[] = [];
    lease.onStateChange((s) => states.push(s));
    const waiting = new Mutex(b.zk, LOCK).acquire({ timeout: 1500 });
    a.net.cut();
    await until(() => a.zk.state === "connected" && lease.state === "held", 3000, "resume");
    expect(states).toEqual(["suspended", "held"]);
    expect(await waiting).toBeNull();
    expect(lease.signal.aborted).toBe(false);
    await lease.release();
  });

  it("a holder whose session expires loses the lease; the next waiter gets a higher token", { timeout: 15_000 }, async () => {
    const ns = freshNamespace("mx");
    const [a, b] = await Promise.all([open(ns, { sessionTimeout: 300 }), open(ns)]);
    const lease = await new Mutex(a.zk, LOCK).acquire();
    const states: LeaseState[] = [];
    lease.onStateChange((s) => states.push(s));
    const next = new Mutex(b.zk, LOCK).acquire();
    await until(async () => (await children(b.zk)).length === 2);

    a.net.partition();
    await until(() => lease.state === "suspended", 1000, "suspended");
    await sleep(450);
    await runDurableObjectAlarm(stubFor(ns));
    const taken = await next;
    expect(taken.token).toBeGreaterThan(lease.token);
    // The holder is cut off: it learns of the loss from its own clock (a session timeout spent
    // suspended), without waiting to reach the server.
    const reason = await lease.lost;
    expect(reason).toBeInstanceOf(SessionExpiredError);
    expect(lease.state).toBe("lost");
    expect(lease.signal.aborted).toBe(true);
    expect(states).toEqual(["suspended", "lost"]);

    a.net.unblock();
    await until(() => a.zk.state === "expired", 3000, "client expired");
    await lease.release(); // a no-op once lost
    expect(await children(b.zk)).toEqual([taken.path.split("/").pop()]);
    await taken.release();
  });

  it("a lease is lost when its client is closed or its node deleted by someone else", async () => {
    const ns = freshNamespace("mx");
    const [a, b] = await Promise.all([open(ns), open(ns)]);
    const lease = await new Mutex(a.zk, LOCK).acquire();
    await b.zk.delete(lease.path);
    expect(await lease.lost).toBeInstanceOf(Error);
    expect(lease.state).toBe("lost");

    const l2 = await new Mutex(a.zk, LOCK).acquire();
    await a.zk.close();
    await l2.lost;
    expect(l2.state).toBe("lost");
    expect(await children(b.zk)).toEqual([]);
  });
});
