import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  BadVersionError,
  ConnectionLossError,
  MarshallingError,
  NodeExistsError,
  NoNodeError,
  OperationTimeoutError,
  RuntimeInconsistencyError,
  ThrottledOpError,
  utf8,
  ZooKeeperError,
} from "../../src/client/index.js";
import { connectedClient, event, fail, fakeClient, ok, tick, useFakeClock } from "../helpers/fake-socket.js";

beforeEach(() => useFakeClock());
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const STAT = {
  czxid: 5,
  mzxid: 9,
  pzxid: 5,
  ctime: 1,
  mtime: 2,
  version: 1,
  cversion: 0,
  aversion: 0,
  ephemeralOwner: "0000000000000000",
  dataLength: 5,
  numChildren: 0,
};

describe("coalescing", () => {
  it("requests issued in one tick leave in ONE array frame, in order", async () => {
    const { zk, s } = await connectedClient();
    void zk.getData("/a");
    void zk.exists("/b");
    void zk.setData("/c", "x", { version: 3 });
    expect(s.sent).toHaveLength(1); // only the handshake: the flush waits for the end of the tick
    await tick();
    expect(s.jsonFrames).toHaveLength(2);
    const frame = s.jsonFrames[1];
    expect(Array.isArray(frame)).toBe(true);
    expect(frame).toEqual([
      { xid: 1, op: "getData", path: "/a", watch: false },
      { xid: 2, op: "exists", path: "/b", watch: false },
      { xid: 3, op: "setData", path: "/c", data: "eA==", version: 3 },
    ]);
  });

  it("a single request leaves as an object frame; the next tick makes a new frame", async () => {
    const { zk, s } = await connectedClient();
    void zk.delete("/a");
    await tick();
    void zk.sync("/b");
    await tick();
    expect(s.jsonFrames.slice(1)).toEqual([
      { xid: 1, op: "delete", path: "/a", version: -1 },
      { xid: 2, op: "sync", path: "/b" },
    ]);
  });

  it("requests issued before the session exists wait for it, then leave in one frame after the handshake", async () => {
    const { zk, sockets } = fakeClient();
    void zk.getData("/a");
    void zk.getData("/b");
    await tick();
    const s = sockets.last;
    expect(s.sent).toEqual([]);
    s.open();
    await tick();
    expect(s.jsonFrames).toHaveLength(1); // the handshake only: no request before `connected`
    s.push({ type: "connected", v: 1, sessionId: "0000000000000001", secret: "s", timeout: 30000, zxid: 0, resumed: false });
    expect(s.jsonFrames).toHaveLength(2);
    expect((s.jsonFrames[1] as unknown[]).length).toBe(2);
  });

  it("more than 1000 queued requests are split into frames of at most 1000", async () => {
    const { zk, s } = await connectedClient();
    for (let i = 0; i < 1500; i++) void zk.exists(`/n${i}`).catch(() => {});
    await tick(10);
    const frames = s.jsonFrames.slice(1) as unknown[][];
    expect(frames.map((f) => f.length)).toEqual([1000, 500]);
  });
});

describe("responses", () => {
  it("resolve by xid, in order, from an array frame", async () => {
    const { zk, s } = await connectedClient();
    const order: string[] = [];
    const a = zk.getData("/a").then((r) => (order.push("a"), r));
    const b = zk.exists("/b").then((r) => (order.push("b"), r));
    const c = zk.create("/c-", "v", { mode: "persistent_sequential" }).then((r) => (order.push("c"), r));
    const d = zk.getChildren("/").then((r) => (order.push("d"), r));
    await tick();
    const [ra, rb, rc, rd] = s.requests;
    expect(rc).toMatchObject({ op: "create", path: "/c-", data: "dg==", mode: "persistent_sequential" });
    s.push([
      ok(ra, { data: "aGVsbG8=", stat: STAT }),
      ok(rb, { stat: null }),
      ok(rc, { path: "/c-0000000007", stat: STAT }),
      ok(rd, { children: ["a", "c-0000000007"], stat: STAT }),
    ]);
    const got = await Promise.all([a, b, c, d]);
    expect(utf8(got[0].data)).toBe("hello");
    expect(got[0].stat).toEqual(STAT);
    expect(got[1]).toBeNull();
    expect(got[2]).toBe("/c-0000000007");
    expect(got[3]).toEqual(["a", "c-0000000007"]);
    expect(order).toEqual(["a", "b", "c", "d"]);
  });

  it("match responses by xid even out of order; unknown xids and garbage are ignored", async () => {
    const { zk, s } = await connectedClient();
    const a = zk.getData("/a");
    const b = zk.getData("/b");
    await tick();
    const [ra, rb] = s.requests;
    s.push("not json");
    s.push({ xid: 12345, zxid: 1, err: 0 });
    s.push(ok(rb, { data: "Yg==", stat: STAT }));
    s.push(ok(ra, { data: "YQ==", stat: STAT }));
    expect(utf8((await a).data)).toBe("a");
    expect(utf8((await b).data)).toBe("b");
  });

  it("errors map to typed classes with code, message and codeName", async () => {
    const { zk, s } = await connectedClient();
    const results = [zk.getData("/missing"), zk.create("/x"), zk.setData("/x", "", { version: 7 }), zk.delete("/y")].map((p) =>
      p.then(
        () => undefined,
        (e) => e,
      ),
    );
    await tick();
    const [r1, r2, r3, r4] = s.requests;
    s.push([
      fail(r1, -101, "NONODE", { message: "no node /missing" }),
      fail(r2, -110, "NODEEXISTS"),
      fail(r3, -103, "BADVERSION"),
      fail(r4, -999, "WHATEVER", { message: "from the future" }),
    ]);
    const [e1, e2, e3, e4] = await Promise.all(results);
    expect(e1).toBeInstanceOf(NoNodeError);
    expect(e1).toBeInstanceOf(ZooKeeperError);
    expect(e1).toBeInstanceOf(Error);
    expect(e1.code).toBe(-101);
    expect(e1.codeName).toBe("NONODE");
    expect(e1.message).toBe("no node /missing");
    expect(e1.name).toBe("NoNodeError");
    expect(e1.outcomeUnknown).toBe(false);
    expect(e2).toBeInstanceOf(NodeExistsError);
    expect(e2.code).toBe(-110);
    expect(e3).toBeInstanceOf(BadVersionError);
    expect(e4).toBeInstanceOf(ZooKeeperError);
    expect(e4.code).toBe(-999);
    expect(e4.message).toBe("from the future");
  });

  it("a failed multi throws the failing op's error with ZooKeeper's result vector", async () => {
    const { zk, s } = await connectedClient();
    const p = zk.transaction().create("/a", "1").check("/b", 3).setData("/c", "2").commit().catch((e) => e);
    await tick();
    const [req] = s.requests;
    expect(req).toMatchObject({
      op: "multi",
      ops: [
        { op: "create", path: "/a", data: "MQ==", mode: "persistent" },
        { op: "check", path: "/b", version: 3 },
        { op: "setData", path: "/c", data: "Mg==", version: -1 },
      ],
    });
    const results = [{ err: 0 }, { err: -103 }, { err: -2 }];
    s.push(fail(req, -103, "BADVERSION", { results }));
    const e = await p;
    expect(e).toBeInstanceOf(BadVersionError);
    expect(e.results).toEqual(results);
    expect(new RuntimeInconsistencyError().code).toBe(-2);
  });

  it("a successful multi resolves with its results", async () => {
    const { zk, s } = await connectedClient();
    const p = zk.multi([{ op: "delete", path: "/a", version: -1 }]);
    await tick();
    s.push(ok(s.requests[0], { results: [{ op: "delete" }] }));
    expect(await p).toEqual([{ op: "delete" }]);
  });
});

describe("connection loss", () => {
  it("in-flight non-create requests fail with ConnectionLossError (outcome unknown)", async () => {
    const { zk, s } = await connectedClient();
    const a = zk.getData("/a").catch((e) => e);
    const b = zk.setData("/b", "x").catch((e) => e);
    await tick();
    s.networkFail();
    const [ea, eb] = await Promise.all([a, b]);
    for (const e of [ea, eb]) {
      expect(e).toBeInstanceOf(ConnectionLossError);
      expect(e.code).toBe(-4);
      expect(e.outcomeUnknown).toBe(true);
    }
  });

  it("in-flight creates are re-sent after reconnect with the SAME requestId, before newer requests", async () => {
    const { zk, sockets, s } = await connectedClient();
    const created = zk.create("/seq-", "d", { mode: "ephemeral_sequential" });
    const read = zk.getData("/a").catch((e) => e);
    await tick();
    const [firstCreate] = s.requests;
    expect(typeof firstCreate.requestId).toBe("string");
    expect(firstCreate.requestId.length).toBeGreaterThan(0);
    s.serverClose(1006);
    expect(await read).toBeInstanceOf(ConnectionLossError);
    expect(zk.state).toBe("suspended");

    const later = zk.exists("/later");
    await vi.advanceTimersByTimeAsync(100);
    const s2 = sockets.last;
    s2.accept({ resumed: true });
    await tick();
    const resent = s2.requests;
    expect(resent.map((r) => r.op)).toEqual(["create", "exists"]);
    expect(resent[0]).toEqual(firstCreate); // same xid, same requestId, same everything
    expect(s2.jsonFrames).toHaveLength(2); // handshake + one frame with both

    s2.push([ok(resent[0], { path: "/seq-0000000003", stat: STAT }), ok(resent[1], { stat: null })]);
    expect(await created).toBe("/seq-0000000003");
    expect(await later).toBeNull();
  });

  it("two creates get different requestIds; a create survives several reconnects", async () => {
    const { zk, sockets, s } = await connectedClient();
    const one = zk.create("/one");
    void zk.create("/two").catch(() => {});
    await tick();
    const ids = s.requests.map((r) => r.requestId);
    expect(new Set(ids).size).toBe(2);
    for (let i = 0; i < 3; i++) {
      sockets.last.networkFail();
      await vi.advanceTimersByTimeAsync(10_000);
      sockets.last.accept();
      await tick();
      expect(sockets.last.requests.map((r) => r.requestId)).toEqual(ids);
    }
    sockets.last.push(ok(sockets.last.requests[0], { path: "/one", stat: STAT }));
    expect(await one).toBe("/one");
  });

  it("requests issued while suspended are queued and sent after reconnect", async () => {
    const { zk, sockets, s } = await connectedClient();
    s.networkFail();
    const a = zk.getData("/a");
    const b = zk.exists("/b");
    await tick();
    expect(s.requests).toEqual([]);
    await vi.advanceTimersByTimeAsync(100);
    const s2 = sockets.last;
    s2.open();
    await tick();
    expect(s2.requests).toEqual([]); // not before the session is resumed
    s2.push({ type: "connected", v: 1, sessionId: "0100000000000001", secret: "x", timeout: 30000, zxid: 0, resumed: true });
    expect(s2.requests.map((r) => [r.op, r.path])).toEqual([
      ["getData", "/a"],
      ["exists", "/b"],
    ]);
    s2.push(s2.requests.map((r) => ok(r, r.op === "getData" ? { data: "", stat: STAT } : { stat: STAT })));
    expect((await a).stat).toEqual(STAT);
    expect(await b).toEqual(STAT);
  });

  it("a response for a request failed by the loss, arriving on a stale socket, is ignored", async () => {
    const { zk, sockets, s } = await connectedClient();
    const a = zk.getData("/a").catch((e) => e);
    await tick();
    const [ra] = s.requests;
    s.networkFail();
    expect(await a).toBeInstanceOf(ConnectionLossError);
    // A late message on the dead socket changes nothing.
    s.readyState = 1;
    s.push(ok(ra, { data: "", stat: STAT }, 99));
    expect(zk.lastZxid).toBe(0);
    await vi.advanceTimersByTimeAsync(100);
    sockets.last.accept();
    expect(zk.state).toBe("connected");
  });
});

describe("timeouts and aborts", () => {
  it("request timeout → OperationTimeoutError; a late response is ignored", async () => {
    const { zk, s } = await connectedClient({ requestTimeout: 1000 });
    const slow = zk.getData("/slow").catch((e) => e);
    const other = zk.getData("/other");
    await tick();
    const [rs, ro] = s.requests;
    await vi.advanceTimersByTimeAsync(999);
    s.push(ok(ro, { data: "", stat: STAT }));
    await other;
    await vi.advanceTimersByTimeAsync(1);
    const e = await slow;
    expect(e).toBeInstanceOf(OperationTimeoutError);
    expect(e.code).toBe(-7);
    expect(e.outcomeUnknown).toBe(true);
    expect(e.message).toContain("getData");
    s.push(ok(rs, { data: "", stat: STAT })); // late: nobody to resolve, nothing breaks
    const next = zk.sync();
    await tick();
    s.push(ok(s.requests[2], { path: "/" }));
    await next;
    expect(zk.state).toBe("connected");
  });

  it("a per-call timeout overrides the default; 0 means none", async () => {
    const { zk, s } = await connectedClient({ requestTimeout: 1000 });
    const short = zk.getData("/a", { timeout: 50 }).catch((e) => e);
    const never = zk.getData("/b", { timeout: 0 });
    await tick();
    await vi.advanceTimersByTimeAsync(50);
    expect(await short).toBeInstanceOf(OperationTimeoutError);
    for (let i = 0; i < 120; i++) {
      await vi.advanceTimersByTimeAsync(500);
      s.push("pong"); // keep the socket alive
    }
    expect(zk.state).toBe("connected");
    let settled = false;
    never.then(
      () => (settled = true),
      () => (settled = true),
    );
    await tick();
    expect(settled).toBe(false);
  });

  it("a request that times out while queued (suspended) is never sent", async () => {
    const { zk, sockets, s } = await connectedClient({ requestTimeout: 500 });
    vi.spyOn(Math, "random").mockReturnValue(0.99);
    s.networkFail();
    const p = zk.getData("/a").catch((e) => e);
    await vi.advanceTimersByTimeAsync(500);
    expect(await p).toBeInstanceOf(OperationTimeoutError);
    await vi.advanceTimersByTimeAsync(1000);
    sockets.last.accept();
    await tick();
    expect(sockets.last.requests).toEqual([]);
  });

  it("abort before the flush removes the request: it is never sent", async () => {
    const { zk, s } = await connectedClient();
    const ac = new AbortController();
    const p = zk.getData("/a", { signal: ac.signal }).catch((e) => e);
    const q = zk.getData("/b");
    ac.abort(new Error("changed my mind"));
    const e = await p;
    expect(e).toBeInstanceOf(Error);
    expect(e.message).toBe("changed my mind");
    await tick();
    expect(s.jsonFrames[1]).toEqual({ xid: 2, op: "getData", path: "/b", watch: false });
    s.push(ok(s.requests[0], { data: "", stat: STAT }));
    await q;
  });

  it("an already-aborted signal rejects at once with an AbortError and sends nothing", async () => {
    const { zk, s } = await connectedClient();
    const e = await zk.getData("/a", { signal: AbortSignal.abort() }).catch((x) => x);
    expect(e.name).toBe("AbortError");
    await tick();
    expect(s.requests).toEqual([]);
  });

  it("abort after sending rejects; the late response is ignored", async () => {
    const { zk, s } = await connectedClient();
    const ac = new AbortController();
    const p = zk.getData("/a", { signal: ac.signal }).catch((e) => e);
    await tick();
    const [ra] = s.requests;
    ac.abort();
    expect((await p).name).toBe("AbortError");
    s.push(ok(ra, { data: "", stat: STAT }));
    const q = zk.exists("/b");
    await tick();
    s.push(ok(s.requests[1], { stat: null }));
    expect(await q).toBeNull();
  });

  it("abort while suspended drops the queued request", async () => {
    const { zk, sockets, s } = await connectedClient();
    s.networkFail();
    const ac = new AbortController();
    const p = zk.getData("/a", { signal: ac.signal }).catch((e) => e);
    ac.abort();
    expect((await p).name).toBe("AbortError");
    await vi.advanceTimersByTimeAsync(100);
    sockets.last.accept();
    await tick();
    expect(sockets.last.requests).toEqual([]);
  });

  it("a resolved request's signal and timer are released (a later abort or timeout does nothing)", async () => {
    const { zk, s } = await connectedClient({ requestTimeout: 100 });
    const ac = new AbortController();
    const p = zk.exists("/a", { signal: ac.signal });
    await tick();
    s.push(ok(s.requests[0], { stat: null }));
    expect(await p).toBeNull();
    ac.abort();
    await vi.advanceTimersByTimeAsync(1000);
    expect(vi.getTimerCount()).toBe(1); // only the heartbeat remains
  });
});

describe("events and responses in one frame", () => {
  it("an event before a response reaches the watcher before the response resolves", async () => {
    const { zk, s } = await connectedClient();
    s.server = (req) => [ok(req, { data: "", stat: STAT })];
    const order: string[] = [];
    await zk.getData("/x", { watch: (e) => order.push(`watch:${e.type}`) });
    s.server = undefined;
    const write = zk.setData("/x", "new").then(() => order.push("setData resolved"));
    await tick();
    s.push([event("NodeDataChanged", "/x", 7), ok(s.requests[1], { stat: STAT }, 7)]);
    await write;
    expect(order).toEqual(["watch:NodeDataChanged", "setData resolved"]);
  });
});

describe("frame limits", () => {
  it("large requests are not coalesced into a frame over the budget (1 MiB); small ones still are", async () => {
    const { zk, s } = await connectedClient();
    const big = "x".repeat(600 * 1024); // ~800 KB of base64 each
    for (let i = 0; i < 4; i++) void zk.setData(`/big${i}`, big).catch(() => {});
    void zk.exists("/small1");
    void zk.exists("/small2");
    await tick(20);
    const frames = s.sent.slice(1);
    expect(frames.every((f) => f.length <= 1024 * 1024)).toBe(true);
    const parsed = s.jsonFrames.slice(1);
    expect(s.requests.map((r) => r.xid)).toEqual([1, 2, 3, 4, 5, 6]); // order kept
    expect(parsed.length).toBe(4); // each big one alone; the last one shares with the small ones
    expect(parsed[3]).toMatchObject([{ op: "setData" }, { op: "exists" }, { op: "exists" }]);
  });

  it("a single request larger than the budget is still sent", async () => {
    const { zk, s } = await connectedClient();
    void zk.setData("/huge", "y".repeat(1024 * 1024)).catch(() => {});
    await tick();
    expect(s.requests).toHaveLength(1);
  });

  it("a frame the server rejects as a whole (xid null) fails that frame's requests only", async () => {
    const { zk, s } = await connectedClient();
    const a = zk.setData("/a", "1").catch((e) => e);
    const b = zk.setData("/b", "2").catch((e) => e);
    await tick();
    const c = zk.getData("/c");
    await tick();
    expect(s.jsonFrames).toHaveLength(3); // handshake, [a, b], c
    s.push({ xid: null, zxid: 3, err: -5, code: "MARSHALLINGERROR", message: "frame of 5000000 bytes exceeds the 4194304-byte limit" });
    const [ea, eb] = await Promise.all([a, b]);
    expect(ea).toBeInstanceOf(MarshallingError);
    expect(eb).toBeInstanceOf(MarshallingError);
    expect(ea.message).toContain("exceeds");
    s.push(ok(s.requests[2], { data: "", stat: STAT }));
    expect((await c).stat).toEqual(STAT);
  });

  it("an xid-null error after earlier frames were answered goes to the first unanswered frame", async () => {
    const { zk, s } = await connectedClient();
    const a = zk.exists("/a");
    const b = zk.exists("/b");
    await tick();
    const c = zk.exists("/c").catch((e) => e);
    await tick();
    const [ra, rb] = s.requests;
    s.push([ok(ra, { stat: null }), ok(rb, { stat: null })]);
    expect(await a).toBeNull();
    expect(await b).toBeNull();
    s.push({ xid: null, zxid: 3, err: -127, code: "THROTTLEDOP", message: "a batch holds at most 1 requests" });
    expect(await c).toBeInstanceOf(ThrottledOpError);
  });

  it("an xid-null error for a frame whose requests were all aborted fails nothing else", async () => {
    const { zk, s } = await connectedClient();
    const ac = new AbortController();
    const a = zk.exists("/a", { signal: ac.signal }).catch((e) => e);
    await tick();
    const b = zk.exists("/b");
    await tick();
    ac.abort();
    expect((await a).name).toBe("AbortError");
    s.push({ xid: null, zxid: 3, err: -5, code: "MARSHALLINGERROR", message: "bad frame" });
    s.push(ok(s.requests[1], { stat: null }));
    expect(await b).toBeNull();
  });
});
