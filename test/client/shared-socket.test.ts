import { afterEach, describe, expect, it } from "vitest";
import { evictDurableObject } from "cloudflare:test";
import { connect, SocketShare, type EdgeKeeper } from "../../src/client/index.js";
import { WorkerSocket } from "../helpers/worker-socket.js";
import { freshNamespace, RawClient, sleep, stubFor } from "../helpers/raw-client.js";
import { worker } from "../helpers/http.js";

/**
 * Sessions sharing one WebSocket (src/client/shared-socket.ts, docs/protocol.md §10): each
 * session behaves as on a socket of its own, their requests travel together.
 */

const made: WorkerSocket[] = [];
const factory = (url: string, protocols: string[]) => {
  const s = new WorkerSocket(url, protocols);
  made.push(s);
  return s;
};
const clients: EdgeKeeper[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => {});
  made.splice(0);
});

async function sessions(ns: string, n: number, share = new SocketShare(factory)) {
  const out = await Promise.all(
    Array.from({ length: n }, () => connect("http://edgekeeper.test", { namespace: ns, share, sessionTimeout: 10_000, backoff: { baseMs: 10, maxMs: 50 } })),
  );
  clients.push(...out);
  return out;
}

describe("shared sockets", () => {
  it("several sessions ride one WebSocket and stay independent sessions", async () => {
    const ns = freshNamespace("share");
    const [a, b, c] = await sessions(ns, 3);
    expect(made).toHaveLength(1);
    expect(new Set([a.sessionId, b.sessionId, c.sessionId]).size).toBe(3);
    await a.create("/e-a", "a", { mode: "ephemeral" });
    await b.create("/e-b", "b", { mode: "ephemeral" });
    expect((await c.exists("/e-a"))?.ephemeralOwner).toBe(a.sessionId);
    expect((await c.exists("/e-b"))?.ephemeralOwner).toBe(b.sessionId);
    expect(await a.getEphemerals()).toEqual(["/e-a"]);
  });

  it("watch events go to the session that set the watch, and only to it", async () => {
    const ns = freshNamespace("share");
    const [a, b, writer] = await sessions(ns, 3);
    await writer.create("/w", "0");
    const seenA: string[] = [];
    const seenB: string[] = [];
    await a.getData("/w", { watch: (e) => seenA.push(`${e.type} ${e.path}`) });
    await b.exists("/other", { watch: (e) => seenB.push(`${e.type} ${e.path}`) });
    await writer.setData("/w", "1");
    await writer.create("/other", "");
    for (let i = 0; i < 50 && (seenA.length === 0 || seenB.length === 0); i++) await sleep(10);
    expect(seenA).toEqual(["NodeDataChanged /w"]);
    expect(seenB).toEqual(["NodeCreated /other"]);
  });

  it("closing one session ends only that session; the socket goes on carrying the others", async () => {
    const ns = freshNamespace("share");
    const [a, b] = await sessions(ns, 2);
    await a.create("/e-a", "", { mode: "ephemeral" });
    await a.close();
    expect(await b.exists("/e-a")).toBeNull();
    await b.create("/still", "ok");
    expect(made).toHaveLength(1);
    expect(made[0].readyState).toBe(1);
  });

  it("when the shared socket drops, every session resumes (same ids, ephemerals kept) over a new one", async () => {
    const ns = freshNamespace("share");
    const [a, b] = await sessions(ns, 2);
    const ids = [a.sessionId, b.sessionId];
    await a.create("/e-a", "", { mode: "ephemeral" });
    made[0].cut();
    await sleep(20);
    await Promise.all([a.waitConnected(), b.waitConnected()]);
    expect([a.sessionId, b.sessionId]).toEqual(ids);
    expect(made).toHaveLength(2);
    expect((await b.exists("/e-a"))?.ephemeralOwner).toBe(a.sessionId);
  });

  it("sessions on a shared socket survive the object's eviction (channels kept in the socket's attachment)", async () => {
    const ns = freshNamespace("share");
    const [a, b] = await sessions(ns, 2);
    const seen: string[] = [];
    await a.getData("/", { watch: (e) => seen.push(e.type) });
    await evictDurableObject(stubFor(ns));
    await b.create("/after-eviction", "");
    await b.setData("/", "x");
    for (let i = 0; i < 50 && seen.length === 0; i++) await sleep(10);
    expect(seen).toEqual(["NodeDataChanged"]);
    expect(a.state).toBe("connected");
  });

  it("requests of several sessions issued in one tick travel as one message", async () => {
    const ns = freshNamespace("share");
    const all = await sessions(ns, 4);
    const sent: string[] = [];
    const ws = made[0] as unknown as { send(d: string): void };
    const original = ws.send.bind(ws);
    ws.send = (d: string) => (sent.push(d), original(d));
    await Promise.all(all.map((s, i) => s.create(`/n${i}`, "")));
    expect(sent.filter((d) => d !== "ping")).toHaveLength(1);
    expect(JSON.parse(sent[0]).map((e: { ch: number }) => e.ch).sort()).toHaveLength(4);
  });
});

describe("shared sockets on the wire", () => {
  async function shared(ns: string) {
    const res = await worker.fetch(`http://edgekeeper.test/v1/namespaces/${ns}/ws`, {
      headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": "edgekeeper.mux.v1" },
    });
    expect(res.headers.get("Sec-WebSocket-Protocol")).toBe("edgekeeper.mux.v1");
    const ws = res.webSocket!;
    const got: any[] = [];
    ws.addEventListener("message", (e: MessageEvent) => got.push(JSON.parse(e.data as string)));
    ws.accept();
    const next = async (pred: (m: any) => boolean) => {
      for (let i = 0; i < 200; i++) {
        const hit = got.find(pred);
        if (hit) return hit;
        await sleep(10);
      }
      throw new Error(`nothing matched; got ${JSON.stringify(got)}`);
    };
    return { ws, got, next, send: (x: unknown) => ws.send(typeof x === "string" ? x : JSON.stringify(x)) };
  }
  const hello = { type: "connect", v: 1, timeout: 10_000, lastZxid: 0 };

  it("envelopes in, envelopes out; a malformed envelope gets BADARGUMENTS and nothing changes", async () => {
    const ns = freshNamespace("share");
    const s = await shared(ns);
    s.send([{ ch: 1, f: hello }, { ch: 2, f: hello }]);
    const both = await s.next((m) => Array.isArray(m) && m.length === 2);
    expect(both.map((e: any) => [e.ch, e.m.type])).toEqual([
      [1, "connected"],
      [2, "connected"],
    ]);
    const zxid = both[1].m.zxid;
    for (const bad of [[{ ch: 0, f: {} }], [{ ch: "1", f: {} }], [{ ch: 1 }], [{ ch: 1, f: {}, close: true }], [{ nope: 1 }]]) {
      const before = s.got.length;
      s.send(bad);
      const reply = await s.next((m) => s.got.indexOf(m) >= before);
      expect(reply, JSON.stringify(bad)).toMatchObject({ xid: null, err: -8, code: "BADARGUMENTS" });
    }
    s.send([{ ch: 1, f: { xid: 1, op: "exists", path: "/" } }]);
    const r = await s.next((m) => Array.isArray(m) && m[0]?.m?.xid === 1);
    expect(r[0].m.zxid).toBe(zxid);
    s.ws.close();
  });

  it("closing a channel detaches its session (resumable elsewhere), the other channel carries on", async () => {
    const ns = freshNamespace("share");
    const s = await shared(ns);
    s.send([{ ch: 1, f: hello }, { ch: 2, f: hello }]);
    const both = await s.next((m) => Array.isArray(m) && m.length === 2);
    const one = both[0].m;
    s.send([{ ch: 1, f: { xid: 1, op: "create", path: "/e", mode: "ephemeral" } }]);
    await s.next((m) => Array.isArray(m) && m[0]?.m?.xid === 1);
    s.send([{ ch: 1, close: true }]);
    const r = await RawClient.open(ns);
    const back = await r.handshake({ sessionId: one.sessionId, secret: one.secret });
    expect(back).toMatchObject({ type: "connected", resumed: true });
    expect((await r.request("exists", { path: "/e" })).stat.ephemeralOwner).toBe(one.sessionId);
    s.send([{ ch: 2, f: { xid: 9, op: "exists", path: "/e" } }]);
    expect((await s.next((m) => Array.isArray(m) && m[0]?.m?.xid === 9))[0].m.err).toBe(0);
    r.close();
    s.ws.close();
  });

  it("a resume on another channel moves the session: the old channel is closed with 4118", async () => {
    const ns = freshNamespace("share");
    const s = await shared(ns);
    s.send([{ ch: 1, f: hello }]);
    const first = (await s.next((m) => Array.isArray(m) && m[0]?.m?.type === "connected"))[0].m;
    s.send([{ ch: 5, f: { ...hello, sessionId: first.sessionId, secret: first.secret } }]);
    const moved = await s.next((m) => Array.isArray(m) && m.some((e: any) => e.ch === 1 && e.close));
    expect(moved.find((e: any) => e.ch === 1 && e.close).close[0]).toBe(4118);
    s.ws.close();
  });
});

describe("shared sockets and the batch limit", () => {
  it("the sessions' requests of one tick are split into shared frames within the server's batch limit", async () => {
    const ns = freshNamespace("share");
    const share = new SocketShare(factory);
    const all = await Promise.all(Array.from({ length: 3 }, () => connect("http://edgekeeper.test", { namespace: ns, share })));
    clients.push(...all);
    // 3 × 600 requests in one tick: more than the 1000 a frame may hold.
    const results = await Promise.all(all.flatMap((s) => Array.from({ length: 600 }, () => s.exists("/"))));
    expect(results.every((r) => r !== null)).toBe(true);
  });

  it("the server refuses a shared frame whose envelopes hold more requests than the batch limit, as a whole", async () => {
    const ns = freshNamespace("share");
    const res = await worker.fetch(`http://edgekeeper.test/v1/namespaces/${ns}/ws`, { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": "edgekeeper.mux.v1" } });
    const ws = res.webSocket!;
    const got: any[] = [];
    ws.addEventListener("message", (e: MessageEvent) => got.push(JSON.parse(e.data as string)));
    ws.accept();
    ws.send(JSON.stringify([{ ch: 1, f: { type: "connect", v: 1, timeout: 10_000, lastZxid: 0 } }]));
    for (let i = 0; i < 100 && got.length === 0; i++) await sleep(10);
    const reqs = (n: number) => Array.from({ length: n }, (_, i) => ({ xid: i + 1, op: "exists", path: "/" }));
    ws.send(JSON.stringify([{ ch: 1, f: reqs(600) }, { ch: 1, f: reqs(600) }]));
    for (let i = 0; i < 100 && got.length === 1; i++) await sleep(10);
    expect(got[1]).toMatchObject({ xid: null, err: -127, code: "THROTTLEDOP" });
    ws.close();
  });
});
