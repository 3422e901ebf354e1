import { describe, expect, it } from "vitest";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { NamespaceObject } from "../../src/objects/namespace-object.js";
import {
  RawClient,
  disconnect,
  eventsOf,
  freshNamespace,
  lastZxidOf,
  resume,
  roundTrip,
  sleep,
  stubFor,
  tryConnect,
} from "../helpers/raw-client.js";

/** Runs `fn` inside the namespace's object (to look at its state). */
const inObject = <R>(ns: string, fn: (o: NamespaceObject) => R): Promise<R> =>
  runInDurableObject(stubFor(ns), (o: NamespaceObject) => fn(o) as unknown) as Promise<R>;

const runAlarm = (ns: string) => runDurableObjectAlarm(stubFor(ns));

/** Waits past a session's timeout, then drives the object's alarm (it may also have fired on its own). */
async function expirePast(ns: string, timeoutMs: number): Promise<void> {
  await sleep(timeoutMs + 150);
  await runAlarm(ns);
}

describe("handshake", () => {
  it("creates a new session with a 16-hex id and a 32-hex secret", async () => {
    const ns = freshNamespace();
    const { client, reply } = await tryConnect(ns, { timeout: 5000 });
    expect(reply).toMatchObject({ type: "connected", v: 1, resumed: false, timeout: 5000, ttlEnabled: true, maxDataBytes: 1048576 });
    expect(reply.sessionId).toMatch(/^[0-9a-f]{16}$/);
    expect(reply.secret).toMatch(/^[0-9a-f]{32}$/);
    expect(reply.secret).not.toContain(reply.sessionId);
    // A fresh namespace: the session's own creation is the first transaction.
    expect(reply.zxid).toBe(1);
    client.close();
  });

  it("gives every session its own id and secret", async () => {
    const ns = freshNamespace();
    const clients = await Promise.all([0, 1, 2].map(() => RawClient.connect(ns)));
    expect(new Set(clients.map((c) => c.sessionId)).size).toBe(3);
    expect(new Set(clients.map((c) => c.secret)).size).toBe(3);
    for (const c of clients) c.close();
  });

  it.each([
    [50, 100],
    [0, 100],
    [100, 100],
    [250, 250],
    [5000, 5000],
    [60_000, 60_000],
    [10_000_000, 60_000],
  ])("negotiates a requested timeout of %i ms to %i ms (clamped to [min, max])", async (requested, negotiated) => {
    const ns = freshNamespace();
    const c = await RawClient.connect(ns, { timeout: requested });
    expect(c.hello!.timeout).toBe(negotiated);
    c.close();
  });

  it("creating a session and closing one each take a zxid", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    expect(a.hello!.zxid).toBe(1);
    const b = await RawClient.connect(ns);
    expect(b.hello!.zxid).toBe(2);
    const closed = await b.request("close");
    expect(closed).toMatchObject({ err: 0, zxid: 3 });
    const c = await RawClient.connect(ns);
    expect(c.hello!.zxid).toBe(4);
    expect((await a.request("exists", { path: "/" })).zxid).toBe(4);
    const log = await inObject(ns, (o) => o.ns.changesAfter(0).map((ch) => [ch.zxid, ch.type, ch.session]));
    expect(log).toEqual([
      [1, "createSession", a.sessionId],
      [2, "createSession", b.sessionId],
      [3, "closeSession", b.sessionId],
      [4, "createSession", c.sessionId],
    ]);
    a.close();
    c.close();
  });
});

describe("resume", () => {
  it("resumes a session with its id and secret within the timeout", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 3000 });
    await a.request("create", { path: "/eph", mode: "ephemeral" });
    const zxid = lastZxidOf(a);
    await disconnect(a);
    const again = await resume(a, { timeout: 3000 });
    expect(again.hello).toMatchObject({ type: "connected", resumed: true, sessionId: a.sessionId, secret: a.secret, timeout: 3000 });
    // Resuming is not a transaction.
    expect(again.hello!.zxid).toBe(zxid);
    again.close();
  });

  it("keeps the session's ephemeral nodes across the reconnect", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 3000 });
    await a.request("create", { path: "/eph", mode: "ephemeral" });
    await disconnect(a);
    // While the client is away (within its timeout) the node stays.
    const b = await RawClient.connect(ns);
    expect((await b.request("exists", { path: "/eph" })).stat?.ephemeralOwner).toBe(a.sessionId);
    const again = await resume(a, { timeout: 3000 });
    expect((await again.request("getEphemerals", {})).paths).toEqual(["/eph"]);
    expect((await again.request("exists", { path: "/eph" })).stat.ephemeralOwner).toBe(a.sessionId);
    again.close();
    b.close();
  });

  it("renegotiates the timeout on resume", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 3000 });
    await disconnect(a);
    const again = await resume(a, { timeout: 10 });
    expect(again.hello).toMatchObject({ resumed: true, timeout: 100 });
    again.close();
  });

  it("an alarm that runs before the timeout does not expire a disconnected session", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 2000 });
    await a.request("create", { path: "/eph", mode: "ephemeral" });
    await disconnect(a);
    await runAlarm(ns); // early (alarms may run at any time): the handler re-checks
    const again = await resume(a, { timeout: 2000 });
    expect(again.hello!.resumed).toBe(true);
    expect((await again.request("exists", { path: "/eph" })).stat).not.toBeNull();
    again.close();
  });

  it("refuses a wrong secret with SESSIONEXPIRED and close code 4112", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    const wrong = a.secret.slice(0, 31) + (a.secret[31] === "0" ? "1" : "0");
    const { client, reply } = await tryConnect(ns, { sessionId: a.sessionId, secret: wrong });
    expect(reply).toMatchObject({ type: "connect-error", err: -112, code: "SESSIONEXPIRED" });
    expect((await client.waitClosed()).code).toBe(4112);
    a.close();
  });

  it("a refused resume attempt leaves the session and its socket alone", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    const { client } = await tryConnect(ns, { sessionId: a.sessionId, secret: "0".repeat(32) });
    await client.waitClosed();
    expect(a.closed).toBeNull();
    expect((await a.request("create", { path: "/still-mine", mode: "ephemeral" })).err).toBe(0);
    expect(a.received.some((m) => m.type === "session")).toBe(false);
    a.close();
  });

  it("refuses an unknown session id with SESSIONEXPIRED and close code 4112", async () => {
    const ns = freshNamespace();
    const { client, reply } = await tryConnect(ns, { sessionId: "0123456789abcdef", secret: "0".repeat(32) });
    expect(reply).toMatchObject({ type: "connect-error", err: -112, code: "SESSIONEXPIRED" });
    expect((await client.waitClosed()).code).toBe(4112);
  });

  it("refuses a session that was closed explicitly", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    await a.request("close");
    await a.waitClosed();
    const { client, reply } = await tryConnect(ns, { sessionId: a.sessionId, secret: a.secret });
    expect(reply).toMatchObject({ type: "connect-error", err: -112 });
    expect((await client.waitClosed()).code).toBe(4112);
  });

  it("refuses a resume whose lastZxid is ahead of the server with CONNECTIONLOSS and close code 4004", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 3000 });
    await disconnect(a);
    const { client, reply } = await tryConnect(ns, { sessionId: a.sessionId, secret: a.secret, lastZxid: lastZxidOf(a) + 5 });
    expect(reply).toMatchObject({ type: "connect-error", err: -4, code: "CONNECTIONLOSS" });
    expect((await client.waitClosed()).code).toBe(4004);
    // The session itself is intact: the client may try again with a sane zxid.
    const again = await resume(a, { timeout: 3000 });
    expect(again.hello!.resumed).toBe(true);
    again.close();
  });

  it("refuses a new session whose lastZxid is ahead of the server, without taking a zxid", async () => {
    const ns = freshNamespace();
    const { client, reply } = await tryConnect(ns, { lastZxid: 1000 });
    expect(reply).toMatchObject({ type: "connect-error", err: -4, code: "CONNECTIONLOSS" });
    expect((await client.waitClosed()).code).toBe(4004);
    const b = await RawClient.connect(ns);
    expect(b.hello!.zxid).toBe(1);
    b.close();
  });

  it("resuming on a second socket moves the session: the first gets a moved notice and close code 4118", async () => {
    const ns = freshNamespace();
    const first = await RawClient.connect(ns);
    await first.request("create", { path: "/eph", mode: "ephemeral" });
    const second = await resume(first);
    expect(second.hello).toMatchObject({ resumed: true, sessionId: first.sessionId });
    expect((await first.waitClosed()).code).toBe(4118);
    expect(first.received.at(-1)).toEqual({ type: "session", state: "moved" });
    // The session lives on, on the new socket.
    expect((await second.request("getEphemerals", {})).paths).toEqual(["/eph"]);
    second.close();
  });

  it("a moved-away socket no longer receives the session's events", async () => {
    const ns = freshNamespace();
    const first = await RawClient.connect(ns);
    await first.request("create", { path: "/w" });
    await first.request("getData", { path: "/w", watch: true });
    const second = await resume(first, { watches: { data: ["/w"] } });
    await first.waitClosed();
    const writer = await RawClient.connect(ns);
    const set = await writer.request("setData", { path: "/w", data: "" });
    const ev = await second.waitFor((m) => m.type === "event");
    expect(ev).toMatchObject({ event: "NodeDataChanged", path: "/w", zxid: set.zxid });
    expect(first.events()).toEqual([]);
    second.close();
    writer.close();
  });
});

describe("explicit close", () => {
  it("answers, then closes the socket with code 1000", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    const r = await a.request("close");
    expect(r.err).toBe(0);
    expect((await a.waitClosed()).code).toBe(1000);
  });

  it("deletes all the session's ephemerals in one transaction and fires their watches to other sessions", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    const b = await RawClient.connect(ns);
    await a.request("create", { path: "/p" });
    await a.request("create", { path: "/keep" });
    for (const p of ["/p/e1", "/p/e2", "/e3"]) expect((await a.request("create", { path: p, mode: "ephemeral" })).err).toBe(0);
    for (const p of ["/p/e1", "/p/e2", "/e3"]) await b.request("exists", { path: p, watch: true });
    await b.request("getChildren", { path: "/p", watch: true });
    const before = await inObject(ns, (o) => o.ns.zxid);

    const from = b.received.length;
    const closed = await a.request("close");
    expect(closed.err).toBe(0);
    const z = closed.zxid;
    expect(z).toBe(before + 1);
    await roundTrip(b);

    const evs = eventsOf(b, from);
    expect(evs).toHaveLength(4);
    expect(evs).toEqual(
      expect.arrayContaining([
        { event: "NodeDeleted", path: "/p/e1", zxid: z },
        { event: "NodeDeleted", path: "/p/e2", zxid: z },
        { event: "NodeDeleted", path: "/e3", zxid: z },
        { event: "NodeChildrenChanged", path: "/p", zxid: z },
      ]),
    );
    // Each NodeDeleted comes before its parent's NodeChildrenChanged.
    const idx = (e: string, p: string) => evs.findIndex((x) => x.event === e && x.path === p);
    expect(idx("NodeDeleted", "/p/e1")).toBeLessThan(idx("NodeChildrenChanged", "/p"));

    for (const p of ["/p/e1", "/p/e2", "/e3"]) expect((await b.request("exists", { path: p })).stat).toBeNull();
    expect((await b.request("exists", { path: "/keep" })).stat).not.toBeNull();
    const after = await inObject(ns, (o) => ({ zxid: o.ns.zxid, log: o.ns.changesAfter(before).map((c) => [c.zxid, c.type, c.path]) }));
    expect(after.zxid).toBe(z);
    expect(after.log).toEqual(
      expect.arrayContaining([
        [z, "delete", "/p/e1"],
        [z, "delete", "/p/e2"],
        [z, "delete", "/e3"],
        [z, "closeSession", ""],
      ]),
    );
    expect(after.log).toHaveLength(4);
    b.close();
  });

  it("updates the parents of the deleted ephemerals with the close's zxid", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns);
    await a.request("create", { path: "/p" });
    await a.request("create", { path: "/p/e1", mode: "ephemeral" });
    await a.request("create", { path: "/p/e2", mode: "ephemeral" });
    const b = await RawClient.connect(ns);
    const statBefore = (await b.request("exists", { path: "/p" })).stat;
    const closed = await a.request("close");
    const stat = (await b.request("exists", { path: "/p" })).stat;
    expect(stat.numChildren).toBe(0);
    expect(stat.pzxid).toBe(closed.zxid);
    expect(stat.cversion).toBe(statBefore.cversion + 2);
    expect(stat.mzxid).toBe(statBefore.mzxid);
    b.close();
  });
});

describe("expiry", () => {
  it("expires a client that disconnected and did not come back within its timeout", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 200 });
    const b = await RawClient.connect(ns, { timeout: 30_000 });
    await a.request("create", { path: "/eph", mode: "ephemeral" });
    await b.request("exists", { path: "/eph", watch: true });
    await b.request("getChildren", { path: "/", watch: true });
    await disconnect(a);

    await expirePast(ns, 200);
    const deleted = await b.waitFor((m) => m.type === "event" && m.event === "NodeDeleted");
    expect(deleted.path).toBe("/eph");
    const changed = await b.waitFor((m) => m.type === "event" && m.event === "NodeChildrenChanged");
    expect(changed).toMatchObject({ path: "/", zxid: deleted.zxid });
    expect((await b.request("exists", { path: "/eph" })).stat).toBeNull();

    const { client, reply } = await tryConnect(ns, { sessionId: a.sessionId, secret: a.secret, lastZxid: lastZxidOf(a) });
    expect(reply).toMatchObject({ type: "connect-error", err: -112 });
    expect((await client.waitClosed()).code).toBe(4112);
    b.close();
  });

  it("expiry is a closeSession transaction: one zxid for all the ephemerals", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 200 });
    for (const p of ["/x1", "/x2", "/x3"]) await a.request("create", { path: p, mode: "ephemeral" });
    const before = lastZxidOf(a);
    await disconnect(a);
    await expirePast(ns, 200);
    const log = await inObject(ns, (o) => o.ns.changesAfter(before).map((c) => [c.zxid, c.type, c.path, c.session]));
    expect(log.map((l) => l[0])).toEqual([before + 1, before + 1, before + 1, before + 1]);
    expect(log.map((l) => l[1]).sort()).toEqual(["closeSession", "delete", "delete", "delete"]);
    expect(await inObject(ns, (o) => o.ns.getSession(a.sessionId))).toBeUndefined();
  });

  it("expires a client whose socket stays open but which sends nothing: expired notice, then close 4112", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 200 });
    const b = await RawClient.connect(ns, { timeout: 30_000 });
    await a.request("create", { path: "/eph", mode: "ephemeral" });
    await b.request("exists", { path: "/eph", watch: true });

    await expirePast(ns, 200);
    expect((await a.waitClosed()).code).toBe(4112);
    expect(a.received.at(-1)).toEqual({ type: "session", state: "expired" });
    const ev = await b.waitFor((m) => m.type === "event");
    expect(ev).toMatchObject({ event: "NodeDeleted", path: "/eph" });
    expect(b.closed).toBeNull();
    b.close();
  });

  it("keeps alive a client that sends the text heartbeat 'ping' (answered 'pong' by the runtime)", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 200 });
    await a.request("create", { path: "/eph", mode: "ephemeral" });
    const from = a.received.length;
    // About four timeouts, with a heartbeat every ~timeout/3 and the alarm driven each time.
    for (let i = 0; i < 12; i++) {
      a.send("ping");
      await sleep(65);
      await runAlarm(ns);
    }
    expect(a.closed).toBeNull();
    expect(a.received.slice(from).filter((m) => m.type === "pong").length).toBeGreaterThanOrEqual(10);
    expect(a.received.some((m) => m.type === "session")).toBe(false);
    const b = await RawClient.connect(ns);
    expect((await b.request("exists", { path: "/eph" })).stat?.ephemeralOwner).toBe(a.sessionId);
    expect((await a.request("getEphemerals", {})).paths).toEqual(["/eph"]);
    a.close();
    b.close();
  });

  it("keeps alive a client that sends requests (the JSON ping op) within its timeout", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 200 });
    for (let i = 0; i < 8; i++) {
      expect((await a.request("ping")).err).toBe(0);
      await sleep(65);
      await runAlarm(ns);
    }
    expect(a.closed).toBeNull();
    expect((await a.request("exists", { path: "/" })).err).toBe(0);
    a.close();
  });

  it("expires a disconnected session after the object was evicted (alarm-driven from storage)", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 200 });
    const b = await RawClient.connect(ns, { timeout: 30_000 });
    await a.request("create", { path: "/eph", mode: "ephemeral" });
    await b.request("exists", { path: "/eph", watch: true });
    await disconnect(a);
    await evictDurableObject(stubFor(ns));

    await expirePast(ns, 200);
    // The watcher's socket hibernated through the eviction and still gets the event.
    const ev = await b.waitFor((m) => m.type === "event");
    expect(ev).toMatchObject({ event: "NodeDeleted", path: "/eph" });
    const c = await RawClient.connect(ns);
    expect((await c.request("exists", { path: "/eph" })).stat).toBeNull();
    const { reply } = await tryConnect(ns, { sessionId: a.sessionId, secret: a.secret, lastZxid: lastZxidOf(a) });
    expect(reply.err).toBe(-112);
    b.close();
    c.close();
  });

  it("expires a silent session whose socket hibernated through an eviction", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 200 });
    await a.request("create", { path: "/eph", mode: "ephemeral" });
    await evictDurableObject(stubFor(ns));
    await expirePast(ns, 200);
    expect((await a.waitClosed()).code).toBe(4112);
    expect(a.received.at(-1)).toEqual({ type: "session", state: "expired" });
    const c = await RawClient.connect(ns);
    expect((await c.request("exists", { path: "/eph" })).stat).toBeNull();
    c.close();
  });

  it("a client alive only through 'ping' heartbeats can resume on a new socket while the old one is still open", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 300 });
    await a.request("create", { path: "/eph", mode: "ephemeral" });
    // Longer than the timeout without a single JSON frame: liveness comes from the runtime's auto-responses.
    for (let i = 0; i < 10; i++) {
      a.send("ping");
      await sleep(60);
      await runAlarm(ns);
    }
    const { client, reply } = await tryConnect(ns, { sessionId: a.sessionId, secret: a.secret, lastZxid: lastZxidOf(a), timeout: 300 });
    expect(reply).toMatchObject({ type: "connected", resumed: true, sessionId: a.sessionId });
    expect((await a.waitClosed()).code).toBe(4118);
    expect((await client.request("getEphemerals", {})).paths).toEqual(["/eph"]);
    client.close();
  });

  it("a heartbeat-only client whose socket closes while the object hibernates can resume within its timeout", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 400 });
    await a.request("create", { path: "/eph", mode: "ephemeral" });
    await evictDurableObject(stubFor(ns));
    for (let i = 0; i < 10; i++) {
      a.send("ping");
      await sleep(60);
    }
    await evictDurableObject(stubFor(ns));
    // The close wakes the object; the socket is no longer listed by then, yet it must detach the session.
    await disconnect(a);
    const again = await resume(a, { timeout: 400 });
    expect(again.hello).toMatchObject({ resumed: true, sessionId: a.sessionId });
    expect((await again.request("getEphemerals", {})).paths).toEqual(["/eph"]);
    again.close();
  });

  it("keeps alive a heartbeating session across an eviction", async () => {
    const ns = freshNamespace();
    const a = await RawClient.connect(ns, { timeout: 200 });
    await a.request("create", { path: "/eph", mode: "ephemeral" });
    await evictDurableObject(stubFor(ns));
    for (let i = 0; i < 9; i++) {
      a.send("ping");
      await sleep(65);
      await runAlarm(ns);
    }
    expect(a.closed).toBeNull();
    expect((await a.request("getEphemerals", {})).paths).toEqual(["/eph"]);
    a.close();
  });
});
