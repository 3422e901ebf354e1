import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { NamespaceObject } from "../../src/objects/namespace-object.js";
import type { Connection } from "../../src/protocol/session-server.js";
import { api, send, worker, ORIGIN } from "../helpers/http.js";
import { RawClient, b64, freshNamespace, ok, resume, sleep, stubFor, tryConnect, type Msg } from "../helpers/raw-client.js";
import { OPEN_GRANT } from "../../src/protocol/grant.js";

/**
 * Every limit of docs/limits.md at its bound: at the limit a request goes through, one over it
 * is refused with its ZooKeeper code and a message naming the limit and its value, nothing
 * changes, and the other clients of the namespace are still served.
 *
 * This file runs in the vitest project "limits" (vitest.config.ts), whose bindings set the
 * limits small: paths of 64 bytes and depth 4, 5 children per node, 6 watches per session,
 * 4 sessions and 6 WebSockets per namespace, 3 requests in flight per connection, and
 * 10 requests per second per session in bursts of 30.
 */

const L = { pathBytes: 64, depth: 4, children: 5, watches: 6, sessions: 4, connections: 6, inFlight: 3, rate: 10, burst: 30 };

const opened: RawClient[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.close();
});

async function client(ns: string, hello: Msg = {}): Promise<RawClient> {
  const c = await RawClient.connect(ns, hello);
  opened.push(c);
  return c;
}

function refused(r: Msg, err: number, code: string, ...mentions: string[]): void {
  expect({ err: r.err, code: r.code }, JSON.stringify(r).slice(0, 500)).toEqual({ err, code });
  for (const m of mentions) expect(r.message).toContain(m);
}

/** Two sessions in a fresh namespace: `a` meets the limit, `b` must not notice. */
async function world(prefix: string) {
  const ns = freshNamespace(prefix);
  const a = await client(ns);
  const b = await client(ns);
  return { ns, a, b };
}

/** `b` still reads and writes, and sees the tree as `expected` children of `/`. */
async function unharmed(b: RawClient, expected: string[]): Promise<void> {
  expect(b.closed).toBeNull();
  expect(ok(await b.request("getChildren", { path: "/" })).children).toEqual(expected);
  const w = ok(await b.request("create", { path: `/b-${Date.now()}-${Math.random().toString(36).slice(2, 6)}` }));
  ok(await b.request("delete", { path: w.path }));
}

// ------------------------------------------------------------------------------------------

describe("path length (EDGEKEEPER_MAX_PATH_BYTES = 64)", () => {
  it("a 64-byte path is created; 65 bytes is BADARGUMENTS and creates nothing", async () => {
    const { a, b } = await world("pathlen");
    const at = "/" + "p".repeat(63);
    const over = "/" + "q".repeat(64);
    ok(await a.request("create", { path: at }));
    const zxid = await a.currentZxid();
    refused(await a.request("create", { path: over }), -8, "BADARGUMENTS", "65 bytes", "64 bytes", "EDGEKEEPER_MAX_PATH_BYTES");
    expect(await a.currentZxid()).toBe(zxid);
    await unharmed(b, [at.slice(1), "zookeeper"]);
  });

  it("counts UTF-8 bytes, not characters", async () => {
    const { a } = await world("pathlen");
    ok(await a.request("create", { path: "/" + "é".repeat(31) + "x" })); // 1 + 62 + 1 = 64 bytes
    refused(await a.request("create", { path: "/" + "é".repeat(32) }), -8, "BADARGUMENTS", "65 bytes"); // 33 characters
  });

  it("a sequential create is checked with its 10-digit suffix", async () => {
    const { a } = await world("pathlen");
    const fits = ok(await a.request("create", { path: "/" + "s".repeat(53), mode: "persistent_sequential" }));
    expect(new TextEncoder().encode(fits.path).byteLength).toBe(64);
    refused(await a.request("create", { path: "/" + "t".repeat(54), mode: "persistent_sequential" }), -8, "BADARGUMENTS", "65 bytes");
    expect(ok(await a.request("getChildren", { path: "/" })).children).toEqual([fits.path.slice(1), "zookeeper"]);
  });

  it("every request that names a path is checked: reads, watches, multi ops", async () => {
    const { a } = await world("pathlen");
    const over = "/" + "r".repeat(64);
    refused(await a.request("getData", { path: over }), -8, "BADARGUMENTS", "EDGEKEEPER_MAX_PATH_BYTES");
    refused(await a.request("exists", { path: over, watch: true }), -8, "BADARGUMENTS");
    refused(await a.request("addWatch", { path: over, mode: "persistent" }), -8, "BADARGUMENTS");
    const m = await a.request("multi", { ops: [{ op: "create", path: "/ok" }, { op: "create", path: over }] });
    expect(m.err).toBe(-8);
    expect(ok(await a.request("exists", { path: "/ok" })).stat).toBeNull();
    refused(await a.request("setWatches", { lastZxid: 0, watches: { data: [over] } }), -8, "BADARGUMENTS");
  });

  it("over HTTP: 400 BADARGUMENTS, nothing created", async () => {
    const h = api(freshNamespace("pathlen"));
    expect((await h.create("/" + "p".repeat(63), "x")).status).toBe(201);
    const r = await h.create("/" + "p".repeat(64), "x");
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ err: -8, code: "BADARGUMENTS" });
    expect(r.body.message).toContain("EDGEKEEPER_MAX_PATH_BYTES");
    expect((await h.read("/" + "p".repeat(64))).status).toBe(400);
  });
});

describe("path depth (EDGEKEEPER_MAX_PATH_DEPTH = 4)", () => {
  it("depth 4 is created, depth 5 is BADARGUMENTS; the whole multi fails", async () => {
    const { a, b } = await world("depth");
    for (const path of ["/a", "/a/b", "/a/b/c", "/a/b/c/d"]) ok(await a.request("create", { path }));
    const zxid = await a.currentZxid();
    refused(await a.request("create", { path: "/a/b/c/d/e" }), -8, "BADARGUMENTS", "depth 5", "limit of 4", "EDGEKEEPER_MAX_PATH_DEPTH");
    const m = await a.request("multi", { ops: [{ op: "setData", path: "/a", data: b64("x") }, { op: "create", path: "/a/b/c/d/e" }] });
    expect(m.err).toBe(-8);
    expect(m.results.map((r: Msg) => r.err)).toEqual([0, -8]);
    expect(ok(await a.request("getData", { path: "/a" })).data).toBe("");
    expect(await a.currentZxid()).toBe(zxid);
    refused(await a.request("getChildren", { path: "/a/b/c/d/e", watch: true }), -8, "BADARGUMENTS");
    await unharmed(b, ["a", "zookeeper"]);
  });

  it("over HTTP: 400", async () => {
    const h = api(freshNamespace("depth"));
    const r = await h.create("/a/b/c/d/e", "");
    expect(r.status).toBe(400);
    expect(r.body.message).toContain("EDGEKEEPER_MAX_PATH_DEPTH");
  });
});

describe("children per node (EDGEKEEPER_MAX_CHILDREN = 5)", () => {
  it("the 5th child is created, the 6th is QUOTAEXCEEDED; the parent is unchanged", async () => {
    const { a, b } = await world("children");
    ok(await a.request("create", { path: "/p" }));
    const made: Msg[] = [];
    for (let i = 0; i < 5; i++) made.push(ok(await a.request("create", { path: "/p/c-", mode: "persistent_sequential" })));
    const before = ok(await a.request("exists", { path: "/p" })).stat;
    expect(before.numChildren).toBe(5);
    refused(await a.request("create", { path: "/p/c-", mode: "persistent_sequential" }), -125, "QUOTAEXCEEDED", "/p", "5 children", "EDGEKEEPER_MAX_CHILDREN = 5");
    refused(await a.request("create", { path: "/p/x", mode: "ephemeral" }), -125, "QUOTAEXCEEDED");
    expect(ok(await a.request("exists", { path: "/p" })).stat).toEqual(before);
    // Other parents are not affected, and a delete makes room (the sequence number goes on).
    ok(await b.request("create", { path: "/q" }));
    ok(await a.request("delete", { path: made[0].path }));
    expect(ok(await a.request("create", { path: "/p/c-", mode: "persistent_sequential" })).path).toBe("/p/c-0000000005");
    await unharmed(b, ["p", "q", "zookeeper"]);
  });

  it("a multi that would pass the limit fails whole", async () => {
    const { a } = await world("children");
    ok(await a.request("create", { path: "/p" }));
    for (const path of ["/p/1", "/p/2", "/p/3", "/p/4"]) ok(await a.request("create", { path }));
    const m = await a.request("multi", { ops: [{ op: "create", path: "/p/5" }, { op: "create", path: "/p/6" }] });
    expect({ err: m.err, code: m.code }).toEqual({ err: -125, code: "QUOTAEXCEEDED" });
    expect(m.results.map((r: Msg) => r.err)).toEqual([0, -125]);
    expect(ok(await a.request("getChildren", { path: "/p" })).children).toEqual(["1", "2", "3", "4"]);
  });

  it("over HTTP: 429 QUOTAEXCEEDED", async () => {
    const h = api(freshNamespace("children"));
    expect((await h.create("/p", "")).status).toBe(201);
    for (let i = 0; i < 5; i++) expect((await h.create(`/p/c${i}`, "")).status).toBe(201);
    const r = await h.create("/p/c5", "");
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ err: -125, code: "QUOTAEXCEEDED" });
  });
});

describe("watches per session (EDGEKEEPER_MAX_WATCHES_PER_SESSION = 6)", () => {
  /** Sets the session's 6 watches, one or more of each kind. */
  async function six(a: RawClient): Promise<void> {
    ok(await a.request("create", { path: "/w" }));
    ok(await a.request("create", { path: "/w/x" }));
    ok(await a.request("getData", { path: "/w", watch: true }));
    ok(await a.request("exists", { path: "/missing", watch: true }));
    ok(await a.request("getChildren", { path: "/w", watch: true }));
    ok(await a.request("addWatch", { path: "/w", mode: "persistent" }));
    ok(await a.request("addWatch", { path: "/w", mode: "persistentRecursive" }));
    ok(await a.request("getData", { path: "/w/x", watch: true }));
  }

  it("the 6th watch is set, the 7th request is QUOTAEXCEEDED and sets nothing", async () => {
    const { a, b } = await world("watches");
    await six(a);
    refused(await a.request("getData", { path: "/", watch: true }), -125, "QUOTAEXCEEDED", "6 watches", "EDGEKEEPER_MAX_WATCHES_PER_SESSION");
    refused(await a.request("addWatch", { path: "/", mode: "persistentRecursive" }), -125, "QUOTAEXCEEDED");
    refused(await a.request("getChildren", { path: "/", watch: true }), -125, "QUOTAEXCEEDED");
    expect((await a.request("checkWatches", { path: "/", type: "any" })).err).toBe(-121);
    // A watch it already holds is not a new one; reads without a watch go on.
    ok(await a.request("getData", { path: "/w", watch: true }));
    ok(await a.request("getData", { path: "/" }));
    // The other session has a budget of its own.
    ok(await b.request("getData", { path: "/", watch: true }));
    await unharmed(b, ["w", "zookeeper"]);
  });

  it("a fired one-shot watch and a removed watch give their places back", async () => {
    const { a, b } = await world("watches");
    await six(a);
    ok(await b.request("setData", { path: "/w/x", data: b64("fire") })); // fires a's data watch on /w/x
    await a.waitFor((m) => m.type === "event" && m.path === "/w/x");
    ok(await a.request("getData", { path: "/", watch: true }));
    refused(await a.request("exists", { path: "/other", watch: true }), -125, "QUOTAEXCEEDED");
    ok(await a.request("removeWatches", { path: "/w", type: "persistent" }));
    ok(await a.request("exists", { path: "/other", watch: true }));
  });

  it("setWatches and a resume re-register watches within the limit, or are refused whole", async () => {
    const { ns, a } = await world("watches");
    ok(await a.request("create", { path: "/w" }));
    const seven = { data: ["/w", "/1", "/2"], child: ["/w"], persistent: ["/w"], persistentRecursive: ["/w", "/3"] };
    const zxid = await a.currentZxid();
    refused(await a.request("setWatches", { lastZxid: zxid, watches: seven }), -125, "QUOTAEXCEEDED", "7 more", "6 watches");
    expect((await a.request("checkWatches", { path: "/w", type: "any" })).err).toBe(-121);
    const six = { ...seven, persistentRecursive: ["/w"] };
    ok(await a.request("setWatches", { lastZxid: zxid, watches: six }));
    ok(await a.request("checkWatches", { path: "/w", type: "persistentRecursive" }));
    // A resume that brings 7 is refused before anything changes; with 6 it resumes.
    a.close();
    await sleep(20);
    const { client: tooMany, reply } = await tryConnect(ns, { sessionId: a.sessionId, secret: a.secret, lastZxid: zxid, watches: seven });
    opened.push(tooMany);
    refused(reply, -125, "QUOTAEXCEEDED", "EDGEKEEPER_MAX_WATCHES_PER_SESSION");
    expect((await tooMany.waitClosed()).code).toBe(4125);
    const back = await resume(a, { lastZxid: zxid, watches: six });
    opened.push(back);
    expect(back.hello!.resumed).toBe(true);
    expect((await back.request("checkWatches", { path: "/3", type: "persistentRecursive" })).err).toBe(-121);
    ok(await back.request("checkWatches", { path: "/1", type: "data" }));
    refused(await back.request("exists", { path: "/4", watch: true }), -125, "QUOTAEXCEEDED");
  });
});

describe("sessions per namespace (EDGEKEEPER_MAX_SESSIONS = 4)", () => {
  it("the 4th session opens (WebSocket or lease); a 5th is THROTTLEDOP; a resume and a freed place still work", async () => {
    const ns = freshNamespace("sessions");
    const h = api(ns);
    const c1 = await client(ns);
    const c2 = await client(ns);
    const lease = await h.lease(30_000);
    const c4 = await client(ns);
    ok(await c1.request("create", { path: "/x" }));
    const zxid = await c1.currentZxid();

    const { client: fifth, reply } = await tryConnect(ns);
    opened.push(fifth);
    refused(reply, -127, "THROTTLEDOP", "4 open sessions", "EDGEKEEPER_MAX_SESSIONS = 4");
    expect((await fifth.waitClosed()).code).toBe(4127);
    const r = await h.post("/leases", { ttl: 30_000 });
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ err: -127, code: "THROTTLEDOP" });
    // A lock acquire without a lease makes one: refused the same way, and nothing is left behind.
    const acq = await h.acquire("locks", { path: "/locks/l", ttl: 5000, wait: 0 });
    expect(acq.status).toBe(429);
    expect(ok(await c1.request("exists", { path: "/locks" })).stat).toBeNull();
    expect(await c1.currentZxid()).toBe(zxid);

    // Existing sessions carry on; a resume is not a new session.
    c2.close();
    await sleep(20);
    const back = await resume(c2);
    opened.push(back);
    ok(await back.request("getData", { path: "/x" }));
    ok(await c4.request("setData", { path: "/x", data: b64("y") }));
    // Closing a session (or revoking a lease) makes room.
    expect((await h.call("DELETE", `/leases/${lease.leaseId}`, { headers: { "Edgekeeper-Lease": lease.lease } })).status).toBe(200);
    await client(ns);
    const { client: sixth, reply: again } = await tryConnect(ns);
    opened.push(sixth);
    expect(again.code).toBe("THROTTLEDOP");
    ok(await c1.request("close"));
    expect((await h.post("/leases", { ttl: 30_000 })).status).toBe(201);
  });
});

describe("connections per namespace (EDGEKEEPER_MAX_CONNECTIONS = 6)", () => {
  const upgrade = (ns: string) => worker.fetch(`${ORIGIN}/v1/namespaces/${ns}/ws`, { headers: { Upgrade: "websocket" } });

  it("the 6th WebSocket is accepted, the 7th upgrade is 429 THROTTLEDOP without a socket; closing one makes room", async () => {
    const ns = freshNamespace("conns");
    const sessions = [await client(ns), await client(ns), await client(ns)];
    const bare: RawClient[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await RawClient.open(ns);
      opened.push(c);
      bare.push(c);
    }
    const res = await upgrade(ns);
    expect(res.status).toBe(429);
    expect(res.webSocket).toBeNull();
    const body = (await res.json()) as Msg;
    expect(body).toMatchObject({ err: -127, code: "THROTTLEDOP" });
    expect(body.message).toContain("EDGEKEEPER_MAX_CONNECTIONS = 6");
    // Everyone connected is still served; HTTP is not a connection.
    for (const s of sessions) ok(await s.request("getData", { path: "/" }));
    expect((await api(ns).create("/h", "")).status).toBe(201);
    // A socket that goes makes room for one more.
    bare[0].close();
    await bare[0].waitClosed();
    let again: Response | undefined;
    for (let i = 0; i < 50 && again?.status !== 101; i++) {
      if (i > 0) await sleep(20);
      again = await upgrade(ns);
    }
    expect(again!.status).toBe(101);
    again!.webSocket!.accept();
    again!.webSocket!.close(1000);
  });
});

describe("requests in flight per connection (EDGEKEEPER_MAX_INFLIGHT = 3)", () => {
  /** A connection the test drives straight into the object's SessionServer. */
  function fakeConnection(ip = "10.0.0.1") {
    const sent: Msg[] = [];
    let session: string | undefined;
    const conn: Connection = {
      get session() {
        return session;
      },
      ip,
      grant: OPEN_GRANT,
      bind: (s) => void (session = s),
      heard: () => {},
      send: (text) => void sent.push(...[JSON.parse(text)].flat()),
      close: () => {},
    };
    return { conn, sent };
  }

  it("queued for a group commit, a connection's 4th request and later are THROTTLEDOP; the others and other connections are served", async () => {
    const ns = freshNamespace("inflight");
    const watcher = await client(ns);
    ok(await watcher.request("create", { path: "/q" }));
    const out = await runInDurableObject(stubFor(ns), (obj: NamespaceObject) => {
      const server = (obj as unknown as { server: import("../../src/protocol/session-server.js").SessionServer }).server;
      const now = Date.now();
      const a = fakeConnection();
      const late = fakeConnection();
      server.onMessage(a.conn, JSON.stringify({ type: "connect", v: 1, timeout: 30_000 }), now);
      // A handshake is always queued: everything after it waits for the same drain.
      expect(server.accept(late.conn, JSON.stringify({ type: "connect", v: 1, timeout: 30_000 }), now)).toBe(true);
      server.accept(a.conn, JSON.stringify([{ xid: 1, op: "create", path: "/q/1" }, { xid: 2, op: "create", path: "/q/2" }]), now);
      server.accept(a.conn, JSON.stringify([{ xid: 3, op: "create", path: "/q/3" }, { xid: 4, op: "create", path: "/q/4" }]), now);
      server.accept(a.conn, JSON.stringify({ xid: 5, op: "getData", path: "/" }), now);
      server.drain(now);
      // After the drain nothing is in flight: the connection may queue again.
      server.accept(late.conn, JSON.stringify({ xid: 9, op: "create", path: "/q/late" }), now);
      server.accept(a.conn, JSON.stringify({ xid: 6, op: "create", path: "/q/6" }), now);
      server.drain(now);
      // A frame applied at once is never in flight, however many requests it holds.
      server.onMessage(a.conn, JSON.stringify([7, 8, 10, 11, 12].map((xid) => ({ xid, op: "exists", path: "/" }))), now);
      return { a: a.sent, late: late.sent };
    });
    const byXid = (xid: number) => out.a.find((m) => m.xid === xid)!;
    for (const x of [1, 2, 3, 6, 7, 8, 10, 11, 12]) expect(byXid(x).err, JSON.stringify(byXid(x))).toBe(0);
    for (const x of [4, 5]) refused(byXid(x), -127, "THROTTLEDOP", "at most 3", "EDGEKEEPER_MAX_INFLIGHT");
    // Answers stay in request order.
    expect(out.a.filter((m) => typeof m.xid === "number").map((m) => m.xid)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12]);
    expect(out.late.map((m) => m.type ?? m.xid)).toEqual(["connected", 9]);
    expect(ok(await watcher.request("getChildren", { path: "/q" })).children).toEqual(["1", "2", "3", "6", "late"]);
  });
});

describe("requests in flight on a shared socket (EDGEKEEPER_MAX_INFLIGHT = 3)", () => {
  /** A shared socket the test drives straight into the object's SessionServer: its channels' messages arrive in envelopes. */
  function fakeSharedSocket() {
    const got: Msg[] = [];
    const bound = new Map<number, string>();
    const channels = new Map<number, Connection>();
    const carrier: Connection = {
      session: undefined,
      ip: "10.0.0.2",
      grant: OPEN_GRANT,
      shared: true,
      bind: () => {},
      heard: () => {},
      send: (text) => void got.push(...[JSON.parse(text)].flat()),
      close: () => {},
      channel(ch) {
        let c = channels.get(ch);
        if (!c)
          channels.set(
            ch,
            (c = {
              get session() {
                return bound.get(ch);
              },
              ip: "10.0.0.2",
              grant: OPEN_GRANT,
              carrier,
              ch,
              bind: (s) => void bound.set(ch, s),
              unbind: () => void bound.delete(ch),
              heard: () => {},
              send: () => {},
              close: () => {},
            }),
          );
        return c;
      },
      channels: () => [...bound.keys()].map((ch) => carrier.channel!(ch)),
    };
    return { carrier, got };
  }

  it("its channels' queued requests count together: the 4th and later are THROTTLEDOP, on whichever channel", async () => {
    const ns = freshNamespace("inflight");
    const watcher = await client(ns);
    ok(await watcher.request("create", { path: "/s" }));
    const got = await runInDurableObject(stubFor(ns), (obj: NamespaceObject) => {
      const server = (obj as unknown as { server: import("../../src/protocol/session-server.js").SessionServer }).server;
      const now = Date.now();
      const s = fakeSharedSocket();
      const hello = { type: "connect", v: 1, timeout: 30_000 };
      server.onMessage(s.carrier, JSON.stringify([{ ch: 1, f: hello }, { ch: 2, f: hello }]), now);
      // Queued behind another connection's handshake (always queued), so both shared frames wait for one drain.
      const starter: Connection = { session: undefined, ip: "10.0.0.3", grant: OPEN_GRANT, bind: () => {}, heard: () => {}, send: () => {}, close: () => {} };
      expect(server.accept(starter, JSON.stringify(hello), now)).toBe(true);
      server.accept(s.carrier, JSON.stringify([{ ch: 1, f: [{ xid: 1, op: "create", path: "/s/1" }, { xid: 2, op: "create", path: "/s/2" }] }, { ch: 2, f: { xid: 3, op: "create", path: "/s/3" } }]), now);
      server.accept(s.carrier, JSON.stringify([{ ch: 2, f: { xid: 4, op: "create", path: "/s/4" } }, { ch: 1, f: { xid: 5, op: "create", path: "/s/5" } }]), now);
      server.drain(now);
      return s.got;
    });
    const answers: Msg[] = got.flatMap((e) => [e.m].flat().map((m: Msg) => ({ ch: e.ch, ...m }))).filter((m: Msg) => typeof m.xid === "number");
    const byXid = (xid: number) => answers.find((m) => m.xid === xid)!;
    for (const x of [1, 2, 3]) expect(byXid(x).err, JSON.stringify(byXid(x))).toBe(0);
    for (const x of [4, 5]) refused(byXid(x), -127, "THROTTLEDOP", "at most 3", "EDGEKEEPER_MAX_INFLIGHT");
    expect([byXid(4).ch, byXid(5).ch]).toEqual([2, 1]);
    expect(ok(await watcher.request("getChildren", { path: "/s" })).children).toEqual(["1", "2", "3"]);
  });
});

describe("request rate per session (EDGEKEEPER_MAX_REQUEST_RATE = 10, EDGEKEEPER_REQUEST_BURST = 30)", () => {
  it("a burst of 30 goes through, the 31st is THROTTLEDOP with how long to back off; pings are free; other sessions are not affected", async () => {
    const { a, b } = await world("rate");
    const rs = await a.batch([
      ...Array.from({ length: 29 }, () => ({ op: "exists", path: "/" })),
      { op: "create", path: "/last" },
      { op: "create", path: "/over" },
      { op: "ping" },
    ]);
    for (const r of rs.slice(0, 30)) ok(r);
    const over = rs[30];
    refused(over, -127, "THROTTLEDOP", "10 requests per second", "30", "EDGEKEEPER_MAX_REQUEST_RATE", "retry in");
    expect(over.retryAfterMs).toBeGreaterThan(0);
    expect(over.retryAfterMs).toBeLessThanOrEqual(100);
    expect(over.message).toContain(`retry in ${over.retryAfterMs} ms`);
    ok(rs[31]); // ping: not counted
    expect(ok(await b.request("exists", { path: "/over" })).stat).toBeNull();
    await unharmed(b, ["last", "zookeeper"]);
    // Backing off as told is enough.
    await sleep(over.retryAfterMs + 5);
    ok(await a.request("create", { path: "/over" }));
  });

  it("over HTTP, per lease: 429 THROTTLEDOP once its bucket is empty; keepalives are free", async () => {
    const h = api(freshNamespace("rate"));
    const l = await h.lease(30_000);
    const headers = { "Edgekeeper-Lease": l.lease };
    // 80 calls: even if they took 4 s, the bucket (30, +10/s) could not let them all through.
    const replies = await Promise.all(Array.from({ length: 80 }, () => h.read("/", { headers })));
    const throttled = replies.filter((r) => r.status === 429);
    expect(replies.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(30);
    expect(throttled.length).toBeGreaterThan(0);
    expect(throttled[0].body).toMatchObject({ err: -127, code: "THROTTLEDOP" });
    expect(throttled[0].body.message).toContain("per lease");
    expect((await h.post(`/leases/${l.leaseId}/keepalive`, undefined, { headers })).status).toBe(200);
    // Another caller (no lease: its address) has its own bucket.
    expect((await send("GET", `${h.base}/nodes/`, { headers: { "CF-Connecting-IP": "192.0.2.7" } })).status).toBe(200);
  });
});
