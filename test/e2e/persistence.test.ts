import { request as httpRequest } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WireClient, b64, sleep, unb64, type Msg } from "./frames.js";
import { startServer, type LocalServer } from "./server.js";

/**
 * End to end: the real local server (`wrangler dev`, local SQLite persistence) driven over real
 * WebSockets, restarted in the middle. What must survive a restart: the tree, the zxid
 * sequence, the change log (watch replay), and sessions within their timeout; what must not:
 * sessions whose timeout passed while the server was down (their ephemerals go).
 */

// A short minimum session timeout so expiry can be shown in real time. It also proves that
// wrangler vars reach the Worker (the default minimum is 4000 ms).
const MIN_TIMEOUT = 1000;

let server: LocalServer;
let nsCounter = 0;
const freshNs = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(nsCounter++).toString(36)}`;
const clients: WireClient[] = [];
const track = (c: WireClient) => (clients.push(c), c);
const connect = async (ns: string, hello: Msg = {}) => track(await WireClient.connect(server.wsUrl(ns), hello));
const handshake = async (ns: string, hello: Msg = {}) => {
  const r = await WireClient.handshake(server.wsUrl(ns), hello);
  track(r.client);
  return r;
};

/** A WebSocket upgrade request by hand, to see the status and body of a refusal. */
function upgradeRequest(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${server.url}${path}`, {
      headers: { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" },
    });
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      reject(new Error("upgrade unexpectedly accepted"));
    });
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

beforeAll(async () => {
  server = await startServer({ vars: { EDGEKEEPER_SESSION_TIMEOUT_MIN_MS: String(MIN_TIMEOUT) } });
});

afterEach((ctx) => {
  for (const c of clients.splice(0)) c.close();
  if (ctx.task.result?.state === "fail" && server) {
    console.error(`--- wrangler dev output (last 8 KiB) ---\n${server.logs().slice(-8192)}`);
  }
});

afterAll(async () => {
  await server?.stop();
});

describe("HTTP edge", () => {
  it("GET /healthz answers", async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, service: "edgekeeper", auth: "open" });
  });

  it.each(["-dash-first", ".dot-first", "x".repeat(64), "with%20space", "caf%C3%A9", "semi%3Bcolon", "%2Fslash"])(
    "a bad namespace name (%s) is a 400 {err:-8, code:BADARGUMENTS}, with or without an upgrade",
    async (name) => {
      const path = `/v1/namespaces/${name}/ws`;
      const res = await fetch(`${server.url}${path}`);
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toMatch(/application\/json/);
      const body = await res.json();
      expect(body).toMatchObject({ err: -8, code: "BADARGUMENTS" });
      expect(typeof body.message).toBe("string");
      // fetch() may not send `Upgrade`; a raw HTTP/1.1 upgrade request gets the same answer.
      const up = await upgradeRequest(path);
      expect(up.status).toBe(400);
      expect(JSON.parse(up.body)).toMatchObject({ err: -8, code: "BADARGUMENTS" });
    },
  );

  it("a good name without a WebSocket upgrade is a 426", async () => {
    const res = await fetch(`${server.url}/v1/namespaces/good_name-1.x/ws`);
    expect(res.status).toBe(426);
    expect(await res.json()).toMatchObject({ err: -8, code: "BADARGUMENTS" });
  });

  it("the WebSocket upgrade on a bad name fails, on a 63-character name succeeds", async () => {
    await expect(WireClient.open(server.wsUrl("-bad"))).rejects.toThrow(/failed to open/);
    const c = await connect("a".repeat(63));
    expect(c.hello).toMatchObject({ type: "connected", v: 1, resumed: false });
  });
});

describe("restart of the local server", () => {
  it("keeps the tree, the zxid sequence and live sessions; expires sessions that timed out while it was down", async () => {
    const ns = freshNs("persist");

    // --- before the restart -------------------------------------------------------------
    let seqName = "";
    const a = await connect(ns, { timeout: 60_000 });
    expect(a.hello).toMatchObject({ type: "connected", v: 1, resumed: false, timeout: 60_000 });
    expect(a.sessionId).toMatch(/^[0-9a-f]{16}$/);
    expect(a.secret).toMatch(/^[0-9a-f]{32}$/);
    // A short session: asks for 100 ms, gets the configured minimum.
    const b = await connect(ns, { timeout: 100 });
    expect(b.hello.timeout).toBe(MIN_TIMEOUT);
    // Keep b alive with the runtime-answered heartbeat until the server goes down.
    const heartbeat = setInterval(() => b.closed || b.send("ping"), MIN_TIMEOUT / 4);

    try {
      const app = await a.request("create", { path: "/app", data: b64("v1") });
      expect(app).toMatchObject({ err: 0, path: "/app" });
      expect((await a.request("create", { path: "/app/cfg", data: b64("hello") })).err).toBe(0);
      const seq = await a.request("create", { path: "/app/seq-", mode: "persistent_sequential" });
      expect(seq.path).toMatch(/^\/app\/seq-\d{10}$/);
      seqName = seq.path.slice("/app/".length);
      const ephA = await a.request("create", { path: "/app/eph-a", data: b64("a"), mode: "ephemeral" });
      expect(ephA.stat.ephemeralOwner).toBe(a.sessionId);
      const ephB = await b.request("create", { path: "/app/eph-b", mode: "ephemeral" });
      expect(ephB.stat.ephemeralOwner).toBe(b.sessionId);

      // A one-shot watch fires when another connection changes the node.
      const watched = await a.request("getData", { path: "/app/cfg", watch: true });
      expect(unb64(watched.data)).toBe("hello");
      const c = await connect(ns);
      const set = await c.request("setData", { path: "/app/cfg", data: b64("world"), version: 0 });
      expect(set).toMatchObject({ err: 0, stat: { version: 1 } });
      const ev = await a.waitFor((m) => m.type === "event");
      expect(ev).toMatchObject({ event: "NodeDataChanged", eventType: 3, path: "/app/cfg", zxid: set.zxid });
      expect((await c.request("close")).err).toBe(0);

      // A persistent recursive watch, to be re-sent on resume after the restart.
      expect((await a.request("addWatch", { path: "/app", mode: "persistentRecursive" })).err).toBe(0);
      await a.request("ping");
      await sleep(MIN_TIMEOUT); // b lives on heartbeats alone for a while
      expect(b.received.some((m) => m.type === "pong")).toBe(true);
    } finally {
      clearInterval(heartbeat);
    }
    const zxidBefore = a.lastZxid;
    const bLastHeard = Date.now();

    // --- restart --------------------------------------------------------------------------
    const t0 = Date.now();
    await server.restart();
    const restartMs = Date.now() - t0;
    // The old sockets died with the server.
    await a.waitClosed();
    await b.waitClosed();

    // Let b's timeout run out while nobody talks to it.
    await sleep(Math.max(0, bLastHeard + MIN_TIMEOUT + 500 - Date.now()));

    // --- after the restart ----------------------------------------------------------------
    // Another client changes /app/cfg before a is back: a must get it replayed from the log.
    const d = await connect(ns);
    expect(d.hello.resumed).toBe(false);
    expect(d.hello.zxid).toBeGreaterThanOrEqual(zxidBefore);
    const set2 = await d.request("setData", { path: "/app/cfg", data: b64("after-restart") });
    expect(set2.err).toBe(0);
    expect(set2.zxid).toBeGreaterThan(zxidBefore);

    // a resumes its session (within its 60 s timeout) with its watches and last zxid.
    const a2 = await connect(ns, {
      sessionId: a.sessionId,
      secret: a.secret,
      lastZxid: zxidBefore,
      timeout: 60_000,
      watches: { persistentRecursive: ["/app"] },
    });
    expect(a2.hello).toMatchObject({ resumed: true, sessionId: a.sessionId, timeout: 60_000 });
    expect(a2.hello.zxid).toBeGreaterThanOrEqual(set2.zxid);
    // The replayed event comes right after `connected`, before any response.
    const first = await a2.request("exists", { path: "/app/eph-a" });
    const replayed = a2.received.findIndex((m) => m.type === "event" && m.event === "NodeDataChanged" && m.path === "/app/cfg");
    expect(replayed).toBeGreaterThan(-1);
    expect(replayed).toBeLessThan(a2.received.indexOf(first));
    expect(a2.received[replayed].zxid).toBe(set2.zxid);
    // a's ephemeral survived with its session.
    expect(first.stat).toMatchObject({ ephemeralOwner: a.sessionId });

    // b's session expired while the server was down: its ephemeral goes (seen by a's
    // recursive watch, replayed or live), and its resume is refused.
    const gone = await a2.waitFor((m) => m.type === "event" && m.event === "NodeDeleted" && m.path === "/app/eph-b");
    expect(gone.zxid).toBeGreaterThan(zxidBefore);
    const events = a2.events().map((e) => e.zxid);
    expect(events).toEqual([...events].sort((x, y) => x - y));
    const { client: b2, reply } = await handshake(ns, { sessionId: b.sessionId, secret: b.secret, lastZxid: zxidBefore, timeout: MIN_TIMEOUT });
    expect(reply).toMatchObject({ type: "connect-error", err: -112, code: "SESSIONEXPIRED" });
    expect((await b2.waitClosed()).code).toBe(4112);
    expect((await a2.request("exists", { path: "/app/eph-b" })).stat).toBeNull();

    // The persistent data is intact.
    const appNow = await a2.request("getData", { path: "/app" });
    expect(unb64(appNow.data)).toBe("v1");
    expect(appNow.stat).toMatchObject({ czxid: (await a2.request("exists", { path: "/app" })).stat.czxid, version: 0 });
    const cfg = await a2.request("getData", { path: "/app/cfg" });
    expect(unb64(cfg.data)).toBe("after-restart");
    expect(cfg.stat).toMatchObject({ version: 2, mzxid: set2.zxid });
    const kids = await a2.request("getChildren", { path: "/app" });
    expect(kids.children).toEqual(["cfg", "eph-a", seqName]);

    // The zxid sequence continues; sequence numbers too.
    const after = await a2.request("create", { path: "/app/seq-", mode: "persistent_sequential" });
    expect(after.err).toBe(0);
    expect(after.zxid).toBeGreaterThan(Math.max(set2.zxid, gone.zxid));
    expect(after.stat.czxid).toBe(after.zxid);
    expect(Number(after.path.slice("/app/seq-".length))).toBeGreaterThan(Number(seqName.slice("seq-".length)));

    // Watches work after the restart too.
    await a2.request("getData", { path: "/app", watch: true });
    const from = a2.received.length;
    const set3 = await d.request("setData", { path: "/app", data: b64("v2") });
    expect(await a2.waitFor((m) => m.type === "event" && m.path === "/app" && m.event === "NodeDataChanged", from)).toMatchObject({ zxid: set3.zxid });

    expect(restartMs).toBeLessThan(60_000);
  });

  it("loses no acknowledged write when the server is killed (SIGKILL) right after the response", async () => {
    const ns = freshNs("crash");
    const a = await connect(ns, { timeout: 60_000 });
    // One frame, many requests: one group commit, acknowledged only once durable.
    const batch = Array.from({ length: 50 }, (_, i) => ({ xid: 1000 + i, op: "create", path: `/n${String(i).padStart(2, "0")}`, data: b64(`value ${i}`) }));
    a.send(batch);
    const last = await a.waitFor((m) => m.xid === 1049);
    expect(last.err).toBe(0);
    const seq = await a.request("create", { path: "/last", data: b64("acknowledged"), mode: "persistent" });
    expect(seq.err).toBe(0);
    await server.restart({ signal: "SIGKILL" });
    await a.waitClosed();

    const b = await connect(ns);
    expect(b.hello.zxid).toBeGreaterThanOrEqual(seq.zxid);
    const kids = await b.request("getChildren", { path: "/" });
    expect(kids.children).toEqual([...batch.map((r) => r.path.slice(1)), "last", "zookeeper"].sort());
    expect(unb64((await b.request("getData", { path: "/n49" })).data)).toBe("value 49");
    expect(unb64((await b.request("getData", { path: "/last" })).data)).toBe("acknowledged");
    // a's session is still there to be resumed: it survived the crash.
    const a2 = await connect(ns, { sessionId: a.sessionId, secret: a.secret, lastZxid: a.lastZxid, timeout: 60_000 });
    expect(a2.hello.resumed).toBe(true);
  });

  it("resumes, after a restart, a session that stayed alive on `ping` heartbeats alone", async () => {
    // docs/protocol.md §5: a session expires when the server has heard nothing — frames or
    // `ping` — for its timeout. Heartbeats are answered by the runtime without waking the
    // object, so they must still count once the object has been restarted.
    const timeout = 4000;
    const ns = freshNs("heartbeat");
    const a = await connect(ns, { timeout });
    expect(a.hello.timeout).toBe(timeout);
    expect((await a.request("create", { path: "/eph", mode: "ephemeral" })).err).toBe(0);
    const heartbeat = setInterval(() => a.closed || a.send("ping"), timeout / 8);
    try {
      await sleep(timeout * 1.5); // longer than the timeout: only heartbeats keep it alive
    } finally {
      clearInterval(heartbeat);
    }
    const lastHeard = Date.now();
    expect(a.closed).toBeNull();
    await server.restart();
    await a.waitClosed();
    const downMs = Date.now() - lastHeard;
    if (downMs > timeout - 1000) throw new Error(`restart took ${downMs} ms: too slow for this test`);

    const { reply } = await handshake(ns, { sessionId: a.sessionId, secret: a.secret, lastZxid: a.lastZxid, timeout });
    expect(reply).toMatchObject({ type: "connected", resumed: true, sessionId: a.sessionId });
  });
});
