import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  AuthFailedError,
  ClosedError,
  connect,
  ConnectionLossError,
  EdgeKeeper,
  OperationTimeoutError,
  SessionExpiredError,
  SessionMovedError,
  type State,
} from "../../src/client/index.js";
import { connectedClient, connectedMsg, event, fakeClient, FakeSockets, ok, tick, useFakeClock } from "../helpers/fake-socket.js";

beforeEach(() => useFakeClock());
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const SECRET = "0123456789abcdef0123456789abcdef";

describe("client states and handshake", () => {
  it("connects: connecting → connected, with a fresh-session handshake", async () => {
    const { zk, sockets } = fakeClient({ sessionTimeout: 12_000 });
    const seen: Array<[State, State]> = [];
    zk.onState((s, prev) => seen.push([s, prev]));
    expect(zk.state).toBe("connecting");
    expect(sockets.count).toBe(1);
    const s = sockets.last;
    expect(s.url).toBe("ws://edgekeeper.test/v1/namespaces/ns/ws");
    expect(s.sent).toEqual([]); // nothing before the socket opens

    s.open();
    expect(s.jsonFrames).toEqual([{ type: "connect", v: 1, timeout: 12_000, lastZxid: 0 }]);
    expect(zk.state).toBe("connecting");

    s.push(connectedMsg({ sessionId: "00000000000000aa", timeout: 9000, zxid: 5 }));
    await zk.ready;
    expect(zk.state).toBe("connected");
    expect(zk.sessionId).toBe("00000000000000aa");
    expect(zk.sessionTimeout).toBe(9000); // the negotiated one
    expect(seen).toEqual([["connected", "connecting"]]);
  });

  it("connect() resolves with a connected client", async () => {
    const sockets = new FakeSockets();
    const p = connect("https://coord.example.com/base/", { namespace: "app", WebSocket: sockets.factory });
    expect(sockets.last.url).toBe("wss://coord.example.com/base/v1/namespaces/app/ws");
    sockets.last.accept();
    const zk = await p;
    expect(zk.state).toBe("connected");
  });

  it("goes connected → suspended → connected, listeners called in order with the previous state", async () => {
    const { zk, sockets, s } = await connectedClient({ backoff: { baseMs: 100, maxMs: 1000 } });
    const log: string[] = [];
    zk.onState((st, prev) => log.push(`A:${prev}->${st}`));
    const offB = zk.onState((st, prev) => log.push(`B:${prev}->${st}`));

    s.networkFail();
    expect(zk.state).toBe("suspended");
    expect(log).toEqual(["A:connected->suspended", "B:connected->suspended"]);

    await vi.advanceTimersByTimeAsync(100); // the backoff is at most baseMs
    expect(sockets.count).toBe(2);
    expect(zk.state).toBe("suspended");
    offB();
    sockets.last.accept({ resumed: true });
    expect(zk.state).toBe("connected");
    expect(log).toEqual(["A:connected->suspended", "B:connected->suspended", "A:suspended->connected"]);
  });

  it("waitConnected() resolves on reconnect and rejects on a final state", async () => {
    const { zk, sockets, s } = await connectedClient();
    await expect(zk.waitConnected()).resolves.toBeUndefined();
    s.networkFail();
    const w = zk.waitConnected();
    await vi.advanceTimersByTimeAsync(100);
    sockets.last.accept();
    await expect(w).resolves.toBeUndefined();

    sockets.last.networkFail();
    const w2 = zk.waitConnected();
    await vi.advanceTimersByTimeAsync(100);
    sockets.last.open();
    sockets.last.push({ type: "connect-error", err: -112, code: "SESSIONEXPIRED", message: "gone" });
    await expect(w2).rejects.toBeInstanceOf(ClosedError);
  });

  it("resumes with sessionId, secret, lastZxid and the registered watches", async () => {
    const { zk, sockets, s } = await connectedClient({}, { sessionId: "0100000000000007", secret: SECRET, zxid: 3 });
    s.server = (req) => {
      switch (req.op) {
        case "getData":
          return [ok(req, { data: "", stat: {} }, 4)];
        case "exists":
          return [ok(req, { stat: req.path === "/missing" ? null : {} }, 4)];
        case "getChildren":
          return [ok(req, { children: [], stat: {} }, 4)];
        default:
          return [ok(req, {}, 4)];
      }
    };
    const w = () => {};
    await zk.getData("/d", { watch: w });
    await zk.exists("/missing", { watch: w });
    await zk.exists("/present", { watch: w });
    await zk.getChildren("/c", { watch: w });
    await zk.addWatch("/p", w);
    await zk.addWatch("/r", w, { recursive: true });
    // An event with a higher zxid than any response; then a response with a lower one.
    s.push(event("NodeChildrenChanged", "/p", 11));
    s.push(ok({ xid: 999 }, {}, 8)); // unmatched xid: ignored, but its zxid still counts
    expect(zk.lastZxid).toBe(11);

    s.networkFail();
    await vi.advanceTimersByTimeAsync(100);
    const s2 = sockets.last;
    s2.open();
    expect(s2.hello).toEqual({
      type: "connect",
      v: 1,
      timeout: 30_000,
      lastZxid: 11,
      sessionId: "0100000000000007",
      secret: SECRET,
      watches: {
        data: ["/d", "/present"],
        exist: ["/missing"],
        child: ["/c"],
        persistent: ["/p"],
        persistentRecursive: ["/r"],
      },
    });
  });

  it("lastZxid is the maximum seen in responses and events", async () => {
    const { zk, s } = await connectedClient({}, { zxid: 2 });
    expect(zk.lastZxid).toBe(2);
    const p = zk.sync();
    await tick();
    s.push(ok(s.requests[0], { path: "/" }, 20));
    await p;
    expect(zk.lastZxid).toBe(20);
    s.push(event("NodeDataChanged", "/x", 25));
    expect(zk.lastZxid).toBe(25);
    const q = zk.sync();
    await tick();
    s.push(ok(s.requests[1], { path: "/" }, 24));
    await q;
    expect(zk.lastZxid).toBe(25);
  });

  it("a handshake refused with CONNECTIONLOSS (server behind) is retried", async () => {
    const { zk, sockets, s } = await connectedClient();
    s.networkFail();
    await vi.advanceTimersByTimeAsync(100);
    const s2 = sockets.last;
    s2.open();
    s2.push({ type: "connect-error", err: -4, code: "CONNECTIONLOSS", message: "client ahead" });
    expect(zk.state).toBe("suspended");
    s2.serverClose(4004);
    await vi.advanceTimersByTimeAsync(1000);
    expect(sockets.count).toBe(3);
    sockets.last.accept();
    expect(zk.state).toBe("connected");
  });
});

describe("a full namespace", () => {
  it("a handshake refused with THROTTLEDOP (the namespace holds all the sessions it may) is retried with backoff", async () => {
    const { zk, sockets } = fakeClient({ backoff: { baseMs: 100 } });
    sockets.last.open();
    sockets.last.push({ type: "connect-error", err: -127, code: "THROTTLEDOP", message: "too many sessions" });
    sockets.last.serverClose(4127);
    expect(zk.state).toBe("connecting");
    await vi.advanceTimersByTimeAsync(1000);
    expect(sockets.count).toBe(2);
    sockets.last.accept();
    await zk.ready;
    expect(zk.state).toBe("connected");
  });
});

describe("final states", () => {
  it("→ expired when the resume is refused with SESSIONEXPIRED; pending requests fail", async () => {
    const { zk, sockets, s } = await connectedClient();
    const seen: string[] = [];
    zk.onState((st) => seen.push(st));
    s.networkFail();
    const queued = zk.getData("/x");
    await vi.advanceTimersByTimeAsync(100);
    const s2 = sockets.last;
    s2.open();
    s2.push({ type: "connect-error", err: -112, code: "SESSIONEXPIRED", message: "session expired" });
    expect(zk.state).toBe("expired");
    expect(seen).toEqual(["suspended", "expired"]);
    await expect(queued).rejects.toBeInstanceOf(SessionExpiredError);
    expect(s2.closedByClient).toBeDefined();
    expect(s2.requests).toEqual([]);
    await expect(zk.getData("/y")).rejects.toBeInstanceOf(SessionExpiredError);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets.count).toBe(2); // no reconnect after a final state
  });

  it("→ expired on a {type:session, state:expired} notice; in-flight requests fail", async () => {
    const { zk, sockets, s } = await connectedClient();
    const p = zk.getData("/x");
    await tick();
    expect(s.requests).toHaveLength(1);
    s.push({ type: "session", state: "expired" });
    expect(zk.state).toBe("expired");
    const e = await p.catch((x) => x);
    expect(e).toBeInstanceOf(SessionExpiredError);
    expect(e.code).toBe(-112);
    s.serverClose(4112);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets.count).toBe(1);
  });

  it("→ closed on close(): sends op close, closes the socket, later calls fail with ClosedError", async () => {
    const { zk, sockets, s } = await connectedClient();
    const seen: Array<[State, State]> = [];
    zk.onState((st, prev) => seen.push([st, prev]));
    s.server = (req) => [ok(req)];
    await zk.close();
    expect(s.requests.map((r) => r.op)).toEqual(["close"]);
    expect(zk.state).toBe("closed");
    expect(seen).toEqual([["closed", "connected"]]);
    expect(s.closedByClient?.code).toBe(1000);
    await expect(zk.getData("/x")).rejects.toBeInstanceOf(ClosedError);
    await zk.close(); // idempotent
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets.count).toBe(1);
    expect(s.pings).toBe(0); // heartbeat stopped
  });

  it("close() while suspended closes at once and stops reconnecting", async () => {
    const { zk, sockets, s } = await connectedClient();
    s.networkFail();
    const queued = zk.exists("/x");
    await zk.close();
    expect(zk.state).toBe("closed");
    await expect(queued).rejects.toBeInstanceOf(ClosedError);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets.count).toBe(1);
  });

  it("→ authFailed on connect-error AUTHFAILED; connect() rejects", async () => {
    const sockets = new FakeSockets();
    const p = connect("http://edgekeeper.test", { namespace: "ns", WebSocket: sockets.factory });
    sockets.last.open();
    sockets.last.push({ type: "connect-error", err: -115, code: "AUTHFAILED", message: "no" });
    const e = await p.catch((x) => x);
    expect(e).toBeInstanceOf(AuthFailedError);
    expect(e.code).toBe(-115);
    expect(sockets.last.closedByClient).toBeDefined();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets.count).toBe(1);
  });

  it("a 'moved' notice → closed; pending requests fail with SessionMovedError", async () => {
    const { zk, sockets, s } = await connectedClient();
    const p = zk.getData("/x");
    await tick();
    s.push({ type: "session", state: "moved" });
    expect(zk.state).toBe("closed");
    await expect(p).rejects.toBeInstanceOf(SessionMovedError);
    s.serverClose(4118);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets.count).toBe(1);
  });

  it("connect() rejects after connectTimeout when no server answers, and stops trying", async () => {
    const sockets = new FakeSockets();
    const p = connect("http://edgekeeper.test", {
      namespace: "ns",
      WebSocket: sockets.factory,
      connectTimeout: 2000,
      backoff: { baseMs: 100, maxMs: 200 },
    });
    const result = p.catch((e) => e);
    // Every attempt fails at once.
    for (let t = 0; t < 1900; t += 50) {
      if (sockets.last.readyState === 0) sockets.last.networkFail();
      await vi.advanceTimersByTimeAsync(50);
    }
    expect(sockets.count).toBeGreaterThan(5);
    await vi.advanceTimersByTimeAsync(200);
    const e = await result;
    expect(e).toBeInstanceOf(OperationTimeoutError);
    const n = sockets.count;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets.count).toBe(n);
  });

  it("connect() rejects after connectTimeout when the socket never opens", async () => {
    const { zk, sockets } = fakeClient({ connectTimeout: 3000 });
    const r = zk.ready.catch((e) => e);
    await vi.advanceTimersByTimeAsync(2999);
    expect(zk.state).toBe("connecting");
    await vi.advanceTimersByTimeAsync(1);
    expect(await r).toBeInstanceOf(OperationTimeoutError);
    expect(zk.state).toBe("closed");
    expect(sockets.all[0].closedByClient).toBeDefined();
  });
});

describe("heartbeat and dead sockets", () => {
  it("sends 'ping' when idle about every timeout/3", async () => {
    const { s } = await connectedClient({}, { timeout: 3000 });
    s.server = () => undefined;
    await vi.advanceTimersByTimeAsync(900);
    expect(s.pings).toBe(0);
    await vi.advanceTimersByTimeAsync(100); // 1000 = timeout/3
    expect(s.pings).toBe(1);
    s.push("pong");
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.pings).toBe(2);
    s.push("pong");
    expect(s.frames.slice(1)).toEqual(["ping", "ping"]);
  });

  it("does not ping while requests are being sent", async () => {
    const { zk, s } = await connectedClient({}, { timeout: 3000 });
    s.server = (req) => [ok(req)];
    for (let i = 0; i < 10; i++) {
      await vi.advanceTimersByTimeAsync(500);
      await zk.sync();
    }
    expect(s.pings).toBe(0);
  });

  it("pongs keep an idle socket alive", async () => {
    const { zk, sockets, s } = await connectedClient({}, { timeout: 3000 });
    for (let i = 0; i < 20; i++) {
      const before = s.pings;
      await vi.advanceTimersByTimeAsync(500);
      if (s.pings > before) s.push("pong");
    }
    expect(zk.state).toBe("connected");
    expect(sockets.count).toBe(1);
    expect(s.pings).toBeGreaterThanOrEqual(9);
  });

  it("a socket silent for more than 2/3 of the timeout is dead: suspended, then reconnect", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const { zk, sockets, s } = await connectedClient({}, { timeout: 3000 });
    const inflight = zk.getData("/x").catch((e) => e);
    await tick();
    await vi.advanceTimersByTimeAsync(2000); // exactly 2/3: still alive
    expect(zk.state).toBe("connected");
    await vi.advanceTimersByTimeAsync(500); // next heartbeat check
    expect(zk.state).toBe("suspended");
    expect(s.closedByClient?.code).toBe(4000);
    expect(await inflight).toBeInstanceOf(ConnectionLossError);
    await vi.advanceTimersByTimeAsync(1);
    expect(sockets.count).toBe(2);
    sockets.last.accept();
    expect(zk.state).toBe("connected");
  });

  it("any frame (not only pong) counts as life", async () => {
    const { zk, sockets, s } = await connectedClient({ backoff: { baseMs: 10_000 } }, { timeout: 3000 });
    vi.spyOn(Math, "random").mockReturnValue(0.9);
    await vi.advanceTimersByTimeAsync(1900);
    s.push(event("NodeDataChanged", "/nobody-watches", 3));
    await vi.advanceTimersByTimeAsync(1900);
    expect(zk.state).toBe("connected");
    await vi.advanceTimersByTimeAsync(600);
    expect(zk.state).toBe("suspended");
    expect(sockets.count).toBe(1); // reconnect waits for its backoff
  });

  it("a reconnect socket that opens but never completes the handshake is given up", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const { zk, sockets, s } = await connectedClient({}, { timeout: 3000 });
    s.networkFail();
    await vi.advanceTimersByTimeAsync(1);
    expect(sockets.count).toBe(2);
    sockets.last.open(); // the server never answers the connect frame
    await vi.advanceTimersByTimeAsync(3000);
    expect(sockets.all[1].closedByClient).toBeDefined();
    expect(sockets.count).toBe(3);
    sockets.last.accept();
    expect(zk.state).toBe("connected");
  });

  it("a reconnect socket that never opens is given up", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const { zk, sockets, s } = await connectedClient({}, { timeout: 3000 });
    s.networkFail();
    await vi.advanceTimersByTimeAsync(1);
    expect(sockets.count).toBe(2);
    await vi.advanceTimersByTimeAsync(3000);
    expect(sockets.count).toBe(3);
    sockets.last.accept();
    expect(zk.state).toBe("connected");
  });
});

describe("reconnect backoff", () => {
  /** Runs the next timer, which must be the reconnect; returns how long it waited. */
  async function delayUntilNextSocket(sockets: FakeSockets): Promise<number> {
    const n = sockets.count;
    const t0 = Date.now();
    await vi.advanceTimersToNextTimerAsync();
    if (sockets.count !== n + 1) throw new Error("the next timer was not a reconnect");
    return Date.now() - t0;
  }

  it("grows exponentially up to the maximum, jittered by Math.random, and resets after connecting", async () => {
    const random = vi.spyOn(Math, "random").mockReturnValue(0.5);
    const { zk, sockets, s } = await connectedClient({ backoff: { baseMs: 100, maxMs: 1000 }, sessionTimeout: 600_000 }, { timeout: 600_000 });
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      sockets.last.networkFail();
      delays.push(await delayUntilNextSocket(sockets));
    }
    // 0.5 × min(1000, 100 × 2^n)
    expect(delays).toEqual([50, 100, 200, 400, 500, 500]);

    // Jitter: the delay is Math.random() × cap.
    random.mockReturnValue(0.1);
    sockets.last.networkFail();
    expect(await delayUntilNextSocket(sockets)).toBe(100);

    sockets.last.accept();
    expect(zk.state).toBe("connected");
    random.mockReturnValue(0.5);
    sockets.last.networkFail();
    expect(await delayUntilNextSocket(sockets)).toBe(50); // reset
  });

  it("full jitter: Math.random() = 0 reconnects immediately, ~1 waits the whole cap", async () => {
    const random = vi.spyOn(Math, "random").mockReturnValue(0);
    const { sockets, s } = await connectedClient({ backoff: { baseMs: 1000, maxMs: 8000 } });
    s.networkFail();
    await vi.advanceTimersByTimeAsync(1);
    expect(sockets.count).toBe(2);
    random.mockReturnValue(0.999);
    sockets.last.networkFail(); // cap is now 2000
    expect(await delayUntilNextSocket(sockets)).toBe(1998);
  });

  it("the first connect also backs off between failed attempts", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const { zk, sockets } = fakeClient({ backoff: { baseMs: 100, maxMs: 10_000 } });
    const seen: State[] = [];
    zk.onState((st) => seen.push(st));
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      sockets.last.networkFail();
      delays.push(await delayUntilNextSocket(sockets));
    }
    expect(delays).toEqual([50, 100, 200, 400]);
    expect(zk.state).toBe("connecting"); // no session yet: never "suspended"
    expect(seen).toEqual([]);
  });

  it("a socket factory that throws is retried with backoff", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const sockets = new FakeSockets();
    let fail = 2;
    const zk = new EdgeKeeper("http://edgekeeper.test", {
      namespace: "ns",
      backoff: { baseMs: 100 },
      WebSocket: (url, protocols) => {
        if (fail-- > 0) throw new Error("offline");
        return sockets.factory(url, protocols);
      },
    });
    expect(sockets.count).toBe(0);
    await vi.advanceTimersByTimeAsync(50);
    expect(sockets.count).toBe(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(sockets.count).toBe(1);
    sockets.last.accept();
    await zk.ready;
    expect(zk.state).toBe("connected");
  });
});
