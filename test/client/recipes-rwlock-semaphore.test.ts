import { describe, expect, it } from "vitest";
import { ReadWriteLock, Semaphore, type EdgeKeeper, type Lease } from "../../src/client/index.js";
import { freshNamespace, sleep } from "../helpers/raw-client.js";
import { until, useClients } from "../helpers/net.js";

const open = useClients();

const RW = "/locks/rw";
const SEM = "/sem/pool";

/** Tracks settlement of a promise without awaiting it. */
function track<T>(p: Promise<T>) {
  const t = { done: false, value: undefined as T | undefined, p };
  p.then((v) => ((t.done = true), (t.value = v)));
  return t;
}

describe("ReadWriteLock", () => {
  it("readers share; a writer is exclusive; later readers queue behind a waiting writer", { timeout: 15_000 }, async () => {
    const ns = freshNamespace("rw");
    const [a, b, c, d] = await Promise.all([open(ns), open(ns), open(ns), open(ns)]);
    const count = async () => (await a.zk.getChildren(RW)).length;

    const r1 = await new ReadWriteLock(a.zk, RW).readLock().acquire();
    const r2 = await new ReadWriteLock(b.zk, RW).readLock().acquire({ timeout: 1000 });
    expect(r2).not.toBeNull(); // readers share

    const w = track(new ReadWriteLock(c.zk, RW).writeLock().acquire());
    await until(async () => (await count()) === 3);
    const r3 = track(new ReadWriteLock(d.zk, RW).readLock().acquire());
    await until(async () => (await count()) === 4);
    await sleep(100);
    expect(w.done).toBe(false); // readers hold
    expect(r3.done).toBe(false); // behind the waiting writer: no starvation

    await r1.release();
    await sleep(50);
    expect(w.done).toBe(false); // one reader still holds
    await r2!.release();
    const wl = await w.p;
    expect(wl.path).toContain("/write-");
    await sleep(100);
    expect(r3.done).toBe(false); // the writer is exclusive

    await wl.release();
    const rl = await r3.p;
    expect(rl.token).toBeGreaterThan(wl.token);
    expect(wl.token).toBeGreaterThan(r2!.token);
    await rl.release();
    expect(await count()).toBe(0);
  });

  it("writers exclude each other and readers, under contention", { timeout: 30_000 }, async () => {
    const ns = freshNamespace("rw");
    const cs = await Promise.all(Array.from({ length: 6 }, () => open(ns)));
    let readers = 0;
    let writers = 0;
    let maxReaders = 0;
    await Promise.all(
      cs.map(async ({ zk }, i) => {
        const rw = new ReadWriteLock(zk, RW);
        for (let round = 0; round < 4; round++) {
          const write = (i + round) % 3 === 0;
          const lease = await (write ? rw.writeLock() : rw.readLock()).acquire();
          if (write) {
            writers++;
            expect(writers).toBe(1);
            expect(readers).toBe(0);
          } else {
            readers++;
            maxReaders = Math.max(maxReaders, readers);
            expect(writers).toBe(0);
          }
          await sleep(2 + Math.random() * 8);
          if (write) writers--;
          else readers--;
          await lease.release();
        }
      }),
    );
    expect(maxReaders).toBeGreaterThan(1);
  });
});

describe("Semaphore", () => {
  it("never grants more than N leases at once", { timeout: 30_000 }, async () => {
    const ns = freshNamespace("sem");
    const cs = await Promise.all(Array.from({ length: 8 }, () => open(ns)));
    let inside = 0;
    let max = 0;
    const tokens = new Set<number>();
    await Promise.all(
      cs.map(async ({ zk }) => {
        const sem = new Semaphore(zk, SEM, 3);
        for (let round = 0; round < 3; round++) {
          const lease = await sem.acquire();
          tokens.add(lease.token);
          inside++;
          max = Math.max(max, inside);
          expect(inside).toBeLessThanOrEqual(3);
          // In the first round, hold until all three slots are taken (bounded), so that the
          // check below does not depend on how the machine schedules the random holds.
          const until = Date.now() + 3000;
          while (round === 0 && max < 3 && Date.now() < until) await sleep(5);
          await sleep(Math.random() * 15);
          inside--;
          await lease.release();
        }
      }),
    );
    expect(max).toBe(3);
    expect(tokens.size).toBe(24);
    expect(await cs[0].zk.getChildren(SEM)).toEqual([]);
  });

  it("leases released out of order let the right waiters in, waking one client per step", { timeout: 15_000 }, async () => {
    const ns = freshNamespace("sem");
    const cs = await Promise.all(Array.from({ length: 6 }, () => open(ns)));
    const count = async () => (await cs[0].zk.getChildren(SEM)).length;
    const a = await new Semaphore(cs[0].zk, SEM, 2).acquire();
    const b = await new Semaphore(cs[1].zk, SEM, 2).acquire();
    const waiters: Array<ReturnType<typeof track<Lease>>> = [];
    for (let i = 2; i < 6; i++) {
      waiters.push(track(new Semaphore(cs[i].zk, SEM, 2).acquire()));
      await until(async () => (await count()) === i + 1);
    }
    await sleep(50);
    expect(waiters.some((w) => w.done)).toBe(false);
    for (const c of cs) c.net.events.length = 0;

    // The second holder leaves first: the first waiter (the head) enters.
    await b.release();
    const c = await waiters[0].p;
    await until(() => cs[3].net.events.length > 0, 2000, "the touch reaches the next waiter");
    for (const x of cs) await x.zk.sync();
    await sleep(30);
    expect(waiters.slice(1).some((w) => w.done)).toBe(false);
    // Woken: the head (children changed), then the waiter behind it (the head's touch);
    // nobody further back.
    expect(cs[2].net.events.map((e) => e.event)).toEqual(["NodeChildrenChanged"]);
    expect(cs[3].net.events.map((e) => e.event)).toEqual(["NodeDataChanged"]);
    expect(cs[4].net.events).toEqual([]);
    expect(cs[5].net.events).toEqual([]);

    // Now the first holder: the new head (cs[3]) must enter, though what it watched is still there.
    await a.release();
    const d = await waiters[1].p;
    expect(d.token).toBeGreaterThan(c.token);
    expect(waiters[2].done).toBe(false);
    await c.release();
    await d.release();
    await (await waiters[2].p).release();
    await (await waiters[3].p).release();
    expect(await count()).toBe(0);
  });

  it("a contender that touches its node when granted wakes the waiter watching it (the documented rule)", { timeout: 15_000 }, async () => {
    // N = 2: h1, h2 hold; w1 is a bare contender (as another kind of client would make), w2 a
    // Semaphore waiting behind it. h1 leaves, so w1 now holds without w2 noticing; w1 touches
    // its node as docs/recipes.md asks; then h2 leaves: w2 must get in, though w1 remains.
    const ns = freshNamespace("sem");
    const cs = await Promise.all(Array.from({ length: 4 }, () => open(ns)));
    const h1 = await new Semaphore(cs[0].zk, SEM, 2).acquire();
    const h2 = await new Semaphore(cs[1].zk, SEM, 2).acquire();
    const w1 = await cs[2].zk.create(`${SEM}/lease-`, "{}", { mode: "ephemeral_sequential" });
    const w2 = track(new Semaphore(cs[3].zk, SEM, 2).acquire());
    await until(async () => (await cs[0].zk.getChildren(SEM)).length === 4);
    await sleep(50);
    cs[3].net.events.length = 0;
    await h1.release();
    await cs[2].zk.setData(w1, "{}"); // w1 is in: touch
    await until(() => cs[3].net.events.length > 0, 2000, "w2 woken by the touch");
    await sleep(50);
    expect(w2.done).toBe(false);
    await h2.release();
    await until(() => w2.done, 2000, "w2 granted");
    await (await w2.p).release();
  });

  it("a waiter that times out withdraws its node", async () => {
    const ns = freshNamespace("sem");
    const [a, b] = await Promise.all([open(ns), open(ns)]);
    const l1 = await new Semaphore(a.zk, SEM, 1).acquire();
    expect(await new Semaphore(b.zk, SEM, 1).acquire({ timeout: 100 })).toBeNull();
    expect(await a.zk.getChildren(SEM)).toEqual([l1.path.split("/").pop()]);
    await l1.release();
    const l2 = await new Semaphore(b.zk, SEM, 1).acquire({ timeout: 0 });
    expect(l2!.token).toBeGreaterThan(l1.token);
    await l2!.release();
  });
});
