import { describe, expect, it } from "vitest";
import { connect, DistributedCounter, DistributedQueue, utf8, type EdgeKeeper, type QueueItem } from "../../src/client/index.js";
import { freshNamespace, sleep } from "../helpers/raw-client.js";
import { workerSocket } from "../helpers/worker-socket.js";

const open = (namespace: string) => connect("http://edgekeeper.test", { namespace, WebSocket: workerSocket, sessionTimeout: 5000 });

async function clients(n: number): Promise<{ ns: string; zks: EdgeKeeper[]; done: () => Promise<void> }> {
  const ns = freshNamespace("rd");
  const zks = await Promise.all(Array.from({ length: n }, () => open(ns)));
  return { ns, zks, done: async () => void (await Promise.all(zks.map((z) => z.close()))) };
}

/** A promise with its resolver, for handlers the test releases by hand. */
function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

describe("DistributedQueue", () => {
  it("delivers items in FIFO order to a single consumer and deletes them once processed", async () => {
    const { zks, done } = await clients(1);
    const [zk] = zks;
    const q = new DistributedQueue(zk, "/jobs/q1");
    for (let i = 0; i < 5; i++) await q.put(`job-${i}`);
    expect(await q.size()).toBe(5);
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      const item = await q.take((it) => void seen.push(utf8(it.data)));
      expect(item?.name).toMatch(/^item-\d{10}$/);
    }
    expect(seen).toEqual(["job-0", "job-1", "job-2", "job-3", "job-4"]);
    expect(await zk.getChildren("/jobs/q1")).toEqual([]);
    expect(await q.poll(() => {})).toBeNull();
    await done();
  });

  it("is at-least-once: a failing handler leaves the item for the next take", async () => {
    const { zks, done } = await clients(1);
    const q = new DistributedQueue(zks[0], "/q");
    await q.put("a");
    await expect(q.take(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await q.size()).toBe(1);
    const again: string[] = [];
    await q.take((it) => void again.push(utf8(it.data)));
    expect(again).toEqual(["a"]);
    expect(await q.size()).toBe(0);
    await done();
  });

  it("blocks on an empty queue until an item is put (children watch), and times out with null", async () => {
    const { zks, done } = await clients(2);
    const [consumer, producer] = zks;
    const q = new DistributedQueue(consumer, "/q");
    expect(await q.take(() => {}, { timeout: 100 })).toBeNull();
    const got: string[] = [];
    const taking = q.take((it) => void got.push(utf8(it.data)));
    await sleep(100);
    expect(got).toEqual([]);
    await new DistributedQueue(producer, "/q").put("late");
    const item = await taking;
    expect(utf8(item!.data)).toBe("late");
    expect(got).toEqual(["late"]);
    // An aborted take rejects with the signal's reason.
    const ac = new AbortController();
    const aborted = q.take(() => {}, { signal: ac.signal });
    ac.abort(new Error("stop"));
    await expect(aborted).rejects.toThrow("stop");
    await done();
  });

  it("blocking take survives a reconnect of the consumer", async () => {
    const ns = freshNamespace("rdq");
    const mine = new Set<{ cut(): void }>();
    const consumer = await connect("http://edgekeeper.test", {
      namespace: ns,
      sessionTimeout: 5000,
      backoff: { baseMs: 10, maxMs: 50 },
      WebSocket: (url, protocols) => {
        const s = workerSocket(url, protocols) as unknown as { cut(): void };
        mine.add(s);
        return s as never;
      },
    });
    const producer = await open(ns);
    const q = new DistributedQueue(consumer, "/q");
    const taking = q.take(() => {});
    await sleep(50);
    for (const s of mine) s.cut();
    await new DistributedQueue(producer, "/q").put("while-away");
    expect(utf8((await taking)!.data)).toBe("while-away");
    await consumer.close();
    await producer.close();
  });

  it("locked consume: others skip a locked item; when its consumer dies the item is redelivered", async () => {
    const { zks, done } = await clients(3);
    const [a, b, producer] = zks;
    await new DistributedQueue(producer, "/lq").put("precious");
    const qa = new DistributedQueue(a, "/lq", { lockedConsume: true });
    const qb = new DistributedQueue(b, "/lq", { lockedConsume: true });

    const started = gate();
    const never = new Promise<void>(() => {});
    const aTaking = qa.take(() => (started.open(), never));
    aTaking.catch(() => {});
    await started.p;
    const children = await producer.getChildren("/lq");
    expect(children.sort()).toEqual([expect.stringMatching(/^item-\d{10}$/), expect.stringMatching(/^lock-item-\d{10}$/)]);
    const lock = children.find((c) => c.startsWith("lock-"))!;
    expect(JSON.parse((await producer.getString(`/lq/${lock}`)).data)).toEqual({ owner: a.sessionId, kind: "ws" });

    // b finds nothing it may take while a holds the lock.
    expect(await qb.take(() => {}, { timeout: 150 })).toBeNull();
    // b waits; a's consumer dies mid-processing: its ephemeral lock goes with its session.
    const got: QueueItem[] = [];
    const bTaking = qb.take((it) => void got.push(it));
    await sleep(50);
    expect(got).toEqual([]);
    await a.close();
    const item = await bTaking;
    expect(utf8(item!.data)).toBe("precious");
    expect(got).toHaveLength(1);
    expect(await producer.getChildren("/lq")).toEqual([]);
    await Promise.all([b.close(), producer.close()]);
    void done;
  });

  it("locked consume: a failing handler releases the lock and the item is taken again", async () => {
    const { zks, done } = await clients(1);
    const q = new DistributedQueue(zks[0], "/lq2", { lockedConsume: true });
    await q.put("x");
    await expect(q.take(() => Promise.reject(new Error("fail")))).rejects.toThrow("fail");
    expect((await zks[0].getChildren("/lq2")).filter((c) => c.startsWith("lock-"))).toEqual([]);
    expect(utf8((await q.take(() => {}))!.data)).toBe("x");
    await done();
  });

  it("locked consume with concurrent consumers processes every item exactly once", async () => {
    const { zks, done } = await clients(4);
    const producer = zks[0];
    const total = 24;
    const pq = new DistributedQueue(producer, "/work");
    await Promise.all(Array.from({ length: total }, (_, i) => pq.put(`w${i}`)));
    const processed: string[] = [];
    const consumers = zks.slice(1).map((zk) => new DistributedQueue(zk, "/work", { lockedConsume: true }));
    await Promise.all(
      consumers.map(async (q) => {
        for (;;) {
          const item = await q.take(
            async (it) => {
              await sleep(Math.random() * 5);
              processed.push(utf8(it.data));
            },
            { timeout: 300 },
          );
          if (!item) return;
        }
      }),
    );
    expect(processed.slice().sort()).toEqual(Array.from({ length: total }, (_, i) => `w${i}`).sort());
    expect(await producer.getChildren("/work")).toEqual([]);
    await done();
  });

  it("unlocked concurrent consumers process every item at least once", async () => {
    const { zks, done } = await clients(3);
    const total = 15;
    const pq = new DistributedQueue(zks[0], "/work");
    for (let i = 0; i < total; i++) await pq.put(`w${i}`);
    const processed = new Set<string>();
    await Promise.all(
      zks.slice(1).map(async (zk) => {
        const q = new DistributedQueue(zk, "/work");
        while (await q.take((it) => void processed.add(utf8(it.data)), { timeout: 200 }));
      }),
    );
    expect(processed.size).toBe(total);
    expect(await zks[0].getChildren("/work")).toEqual([]);
    await done();
  });
});

describe("DistributedCounter", () => {
  it("reads a missing counter as its initial value and stores decimal text", async () => {
    const { zks, done } = await clients(1);
    const [zk] = zks;
    const c = new DistributedCounter(zk, "/counters/hits");
    expect(await c.get()).toBe(0);
    expect(await c.getVersioned()).toEqual({ value: 0, version: -1 });
    expect(await c.increment()).toBe(1);
    expect(await c.add(41)).toBe(42);
    expect(await c.decrement()).toBe(41);
    expect((await zk.getString("/counters/hits")).data).toBe("41");
    await expect(c.add(0.5)).rejects.toBeInstanceOf(RangeError);
    await done();
  });

  it("trySet is a compare-and-set on the node version", async () => {
    const { zks, done } = await clients(2);
    const c1 = new DistributedCounter(zks[0], "/n");
    const c2 = new DistributedCounter(zks[1], "/n");
    expect(await c1.trySet(10, -1)).toBe(true);
    expect(await c2.trySet(11, -1)).toBe(false); // exists already
    const v = await c2.getVersioned();
    expect(v).toEqual({ value: 10, version: 0 });
    expect(await c1.trySet(20, v.version)).toBe(true);
    expect(await c2.trySet(30, v.version)).toBe(false); // stale version
    expect(await c2.get()).toBe(20);
    await done();
  });

  it("concurrent increments from several clients give the exact total", async () => {
    const { zks, done } = await clients(5);
    const perClient = 20;
    const results = await Promise.all(
      zks.map(async (zk) => {
        const c = new DistributedCounter(zk, "/total");
        const mine: number[] = [];
        // Several increments in flight per client too, not just across clients.
        await Promise.all(
          Array.from({ length: 2 }, async () => {
            for (let i = 0; i < perClient / 2; i++) mine.push(await c.increment());
          }),
        );
        return mine;
      }),
    );
    const all = results.flat().sort((a, b) => a - b);
    expect(await new DistributedCounter(zks[0], "/total").get()).toBe(zks.length * perClient);
    // Every increment returned a distinct post-value: none was applied twice or lost.
    expect(all).toEqual(Array.from({ length: zks.length * perClient }, (_, i) => i + 1));
    await done();
  });
});
