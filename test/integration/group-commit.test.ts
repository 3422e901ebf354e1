import { describe, expect, it } from "vitest";
import { runInDurableObject } from "cloudflare:test";
import type { NamespaceObject } from "../../src/objects/namespace-object.js";
import { RawClient, b64, freshNamespace, stubFor } from "../helpers/raw-client.js";

/**
 * Frames that write, arriving from several connections at once, are queued and applied
 * together in one event (one storage commit). These tests drive that path and check that it
 * keeps every guarantee: each connection's order, one zxid per write, reads after writes.
 */
describe("group commit across connections", () => {
  it("applies concurrent writes from many connections exactly once, each connection in order", async () => {
    const ns = freshNamespace();
    const clients = await Promise.all(Array.from({ length: 8 }, () => RawClient.connect(ns)));
    await clients[0].request("create", { path: "/c" });
    const rounds = 20;
    const results = await Promise.all(
      clients.map(async (c, i) => {
        await c.request("create", { path: `/c/n${i}`, data: b64("0") });
        const zxids: number[] = [];
        for (let r = 1; r <= rounds; r++) {
          // A write and a read in one frame, then the next round: the read must see the write.
          const [w, g] = await c.batch([
            { op: "setData", path: `/c/n${i}`, data: b64(String(r)) },
            { op: "getData", path: `/c/n${i}` },
          ]);
          expect(w.err).toBe(0);
          expect(atob(g.data)).toBe(String(r));
          expect(g.stat.version).toBe(r);
          zxids.push(w.zxid);
        }
        return zxids;
      }),
    );
    for (const zxids of results) for (let k = 1; k < zxids.length; k++) expect(zxids[k]).toBeGreaterThan(zxids[k - 1]);
    const all = results.flat().sort((a, b) => a - b);
    expect(new Set(all).size).toBe(all.length); // one zxid per write, never shared
    const last = await clients[0].request("getChildren", { path: "/c" });
    expect(last.children).toHaveLength(8);
    for (const c of clients) c.close();
  });

  it("a read sent right behind another connection's write, while it is queued, sees it", async () => {
    const ns = freshNamespace();
    const [a, b, c] = await Promise.all([RawClient.connect(ns), RawClient.connect(ns), RawClient.connect(ns)]);
    await a.request("create", { path: "/x", data: b64("0") });
    for (let r = 1; r <= 10; r++) {
      // Two writers make the writes contended (queued); c's read follows b's write on the wire.
      const wa = a.request("setData", { path: "/x", data: b64(`a${r}`) });
      const wb = b.request("setData", { path: "/x", data: b64(`b${r}`) });
      const [ra, rb] = await Promise.all([wa, wb]);
      const read = await c.request("getData", { path: "/x" });
      expect(read.zxid).toBeGreaterThanOrEqual(Math.max(ra.zxid, rb.zxid));
      expect(read.stat.mzxid).toBe(Math.max(ra.zxid, rb.zxid));
    }
    for (const x of [a, b, c]) x.close();
  });

  it("events still precede the responses that reflect them when writes are grouped", async () => {
    const ns = freshNamespace();
    const [w1, w2, watcher] = await Promise.all([RawClient.connect(ns), RawClient.connect(ns), RawClient.connect(ns)]);
    await w1.request("create", { path: "/p" });
    await watcher.request("addWatch", { path: "/p", mode: "persistentRecursive" });
    const from = watcher.received.length;
    await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => w1.request("create", { path: `/p/a${i}` })),
      ...Array.from({ length: 10 }, (_, i) => w2.request("create", { path: `/p/b${i}` })),
    ]);
    const check = await watcher.request("getChildren", { path: "/p" });
    expect(check.children).toHaveLength(20);
    const events = watcher.received.slice(from).filter((m) => m.type === "event");
    expect(events).toHaveLength(20);
    const zxids = events.map((e) => e.zxid);
    expect([...zxids].sort((x, y) => x - y)).toEqual(zxids); // zxid order
    // Every event arrived before the response to the read that reflects all of them.
    const readIndex = watcher.received.indexOf(check);
    for (const e of events) expect(watcher.received.indexOf(e)).toBeLessThan(readIndex);
    for (const x of [w1, w2, watcher]) x.close();
  });
});

describe("a frame that fails unexpectedly", () => {
  it("is answered with SYSTEMERROR, and the frames queued with it and other clients carry on", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    await a.request("create", { path: "/ok" });
    // Make the next handshake fail the way a storage fault would (not a ZooKeeper error).
    await runInDurableObject(stubFor(ns), (o: NamespaceObject) => {
      const open = o.ns.open.bind(o.ns);
      let armed = true;
      o.ns.open = ((...args: Parameters<typeof open>) => {
        if (armed) {
          armed = false;
          throw new Error("simulated storage fault");
        }
        return open(...args);
      }) as typeof open;
    });
    const broken = await RawClient.open(ns);
    const first = broken.received.length;
    broken.send({ type: "connect", v: 1, timeout: 30_000, lastZxid: 0 });
    const reply = await broken.waitFor((m) => m.err === -1, first);
    expect(reply.code).toBe("SYSTEMERROR");
    // The same socket can still shake hands, and the other client never noticed.
    expect((await broken.handshake()).type).toBe("connected");
    expect((await a.request("getData", { path: "/ok" })).err).toBe(0);
    broken.close();
    a.close();
  });
});
