import { describe, expect, it } from "vitest";
import { runInDurableObject } from "cloudflare:test";
import type { NamespaceObject } from "../../src/objects/namespace-object.js";
import { RawClient, b64, eventsOf, freshNamespace, roundTrip, sleep, stubFor } from "../helpers/raw-client.js";
import { api, openSse, type SseReader } from "../helpers/http.js";

const inObject = <R>(ns: string, fn: (o: NamespaceObject) => R): Promise<R> =>
  runInDurableObject(stubFor(ns), (o: NamespaceObject) => fn(o) as unknown) as Promise<R>;

/** A scripted history under /app over the WebSocket: creates, sets, a multi, deletes. */
async function history(c: RawClient): Promise<void> {
  await c.request("create", { path: "/app" });
  await c.request("create", { path: "/app/a", data: b64("1") });
  await c.request("setData", { path: "/app/a", data: b64("2") });
  await c.request("create", { path: "/app/a/deep" });
  await c.request("multi", {
    ops: [
      { op: "create", path: "/app/b" },
      { op: "create", path: "/app/c" },
      { op: "setData", path: "/app", data: b64("x") },
    ],
  });
  await c.request("create", { path: "/elsewhere" });
  await c.request("delete", { path: "/app/a/deep" });
  await c.request("delete", { path: "/app/b" });
}

const watchUrl = (ns: string, q: string) => `/v1/namespaces/${ns}/watch?${q}`;

describe("HTTP watches: Server-Sent Events", () => {
  it.each([
    ["recursive", "persistentRecursive", "&recursive=1"],
    ["persistent", "persistent", ""],
  ])("a %s watch from zxid 0 replays exactly what a WebSocket addWatch saw live, then goes live", async (_, mode, flag) => {
    const ns = freshNamespace("hw");
    const writer = await RawClient.connect(ns);
    const live = await RawClient.connect(ns);
    await live.request("addWatch", { path: "/app", mode });
    const from = live.received.length;
    await history(writer);
    await roundTrip(live);
    const expected = eventsOf(live, from);
    expect(expected.length).toBeGreaterThan(3);

    const sse = await openSse(watchUrl(ns, `path=/app${flag}&fromZxid=0`));
    await sse.until((m) => m.event === "ready");
    expect(sse.events()).toEqual(expected);

    // Live: a new change arrives as the same event the WebSocket watch gets.
    const more = await writer.request("create", { path: "/app/z" });
    await sse.until((m) => m.id === String(more.zxid));
    await roundTrip(live);
    expect(sse.events()).toEqual(eventsOf(live, from));
    expect(sse.events().at(-1)!.zxid).toBe(more.zxid);
    await sse.close();
    writer.close();
    live.close();
  });

  it("ids: the last event of each transaction carries id: <zxid>; Last-Event-ID resumes without loss or repeats", async () => {
    const ns = freshNamespace("hw");
    const c = await RawClient.connect(ns);
    await c.request("create", { path: "/app" });
    const sse = await openSse(watchUrl(ns, "path=/app&recursive=1"));
    await sse.until((m) => m.event === "ready");
    const m = await c.request("multi", { ops: [{ op: "create", path: "/app/x" }, { op: "create", path: "/app/y" }] });
    await sse.until((x) => x.id === String(m.zxid));
    const msgs = sse.messages.filter((x) => x.event === "message");
    expect(msgs.map((x) => x.id)).toEqual([undefined, String(m.zxid)]);
    await sse.close();

    // Changes while disconnected, then a reconnect with Last-Event-ID.
    const s1 = await c.request("setData", { path: "/app/x", data: b64("1") });
    const s2 = await c.request("delete", { path: "/app/y" });
    await c.request("create", { path: "/other" });
    const again = await openSse(watchUrl(ns, "path=/app&recursive=1&fromZxid=0"), { "Last-Event-ID": String(m.zxid) });
    await again.until((x) => x.event === "ready");
    expect(again.events()).toEqual([
      { event: "NodeDataChanged", path: "/app/x", zxid: s1.zxid },
      { event: "NodeDeleted", path: "/app/y", zxid: s2.zxid },
    ]);
    await again.close();
    c.close();
  });

  it("a heartbeat moves Last-Event-ID forward over changes that did not match", async () => {
    const ns = freshNamespace("hw");
    const c = await RawClient.connect(ns);
    await c.request("create", { path: "/app" });
    const sse = await openSse(watchUrl(ns, "path=/app&heartbeat=1000"));
    await sse.until((m) => m.event === "ready");
    const other = await c.request("create", { path: "/unrelated" });
    await sse.until((m) => m.id === String(other.zxid), 3000);
    expect(sse.events()).toEqual([]);
    expect(sse.raw).toContain(": heartbeat");
    await sse.close();
    c.close();
  });

  it("resuming from before the retained change log gets event: resync, then live events", async () => {
    const ns = freshNamespace("hw");
    const c = await RawClient.connect(ns);
    await history(c);
    const top = await c.currentZxid();
    const floor = await inObject(ns, (o) => o.ns.compactLog(top - 2));
    const sse = await openSse(watchUrl(ns, "path=/app&recursive=1&fromZxid=1"));
    const r = await sse.until((m) => m.event === "resync");
    expect(JSON.parse(r.data!)).toEqual({ fromZxid: 1, oldestZxid: floor, zxid: top });
    expect(r.id).toBe(String(top));
    await sse.until((m) => m.event === "ready");
    expect(sse.events()).toEqual([]);
    const z = await c.request("create", { path: "/app/new" });
    await sse.until((m) => m.id === String(z.zxid));
    await sse.close();
    // From inside the window: an exact replay.
    const ok = await openSse(watchUrl(ns, `path=/app&recursive=1&fromZxid=${floor}`));
    await ok.until((m) => m.event === "ready");
    expect(ok.messages.some((m) => m.event === "resync")).toBe(false);
    await ok.close();
    c.close();
  });

  it("bad watch requests get a JSON error before any stream", async () => {
    const ns = freshNamespace("hw");
    const a = api(ns);
    expect((await a.get("/watch")).status).toBe(400);
    expect((await a.get("/watch?path=no-slash")).status).toBe(400);
    expect((await a.get("/watch?path=/x&fromZxid=-1")).status).toBe(400);
    expect((await a.get("/watch?path=/x&fromZxid=99")).status).toBe(400); // ahead of the namespace
    expect((await a.get("/watch?path=/x&recursive=maybe")).status).toBe(400);
    expect((await a.get("/watch?path=/x", { headers: { "Last-Event-ID": "abc" } })).status).toBe(400);
    const r = await a.get("/watch?path=/x&heartbeat=10");
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ err: -8, code: "BADARGUMENTS", message: expect.stringContaining("heartbeat") });
  });

  it("a watch on a node the caller may not read is 403", async () => {
    const ns = freshNamespace("hw");
    const a = api(ns);
    await a.call("PUT", "/nodes/secret", { json: { acl: [{ perms: 31, scheme: "digest", id: "bob:aGVsbG8=" }] } });
    expect((await a.get("/watch?path=/secret")).status).toBe(403);
    expect((await a.get("/watch/poll?path=/secret&timeout=0")).status).toBe(403);
  });

  it("closing the stream unsubscribes it", async () => {
    const ns = freshNamespace("hw");
    const sse: SseReader = await openSse(watchUrl(ns, "path=/"));
    await sse.until((m) => m.event === "ready");
    await sse.close();
    await sleep(50);
    const a = api(ns);
    await a.create("/x");
    // Nothing is left listening (the feed reads nothing when nobody listens).
    expect(await inObject(ns, (o) => (o as unknown as { http: { watches: { active: boolean } } }).http.watches.active)).toBe(false);
  });
});

describe("HTTP watches: long-poll", () => {
  it("returns the events after fromZxid at once, with the zxid to poll from next", async () => {
    const ns = freshNamespace("hp");
    const c = await RawClient.connect(ns);
    const live = await RawClient.connect(ns);
    await live.request("addWatch", { path: "/app", mode: "persistentRecursive" });
    const from = live.received.length;
    await history(c);
    await roundTrip(live);
    const a = api(ns);
    const r = await a.get("/watch/poll?path=/app&recursive=1&fromZxid=0&timeout=0");
    expect(r.status).toBe(200);
    expect(r.body.events.map((e: { event: string; path: string; zxid: number }) => ({ event: e.event, path: e.path, zxid: e.zxid }))).toEqual(eventsOf(live, from));
    expect(r.body.events[0]).toMatchObject({ type: "event", eventType: 1 });
    expect(r.body.zxid).toBe(await c.currentZxid());
    expect(r.body.more).toBe(false);
    c.close();
    live.close();
  });

  it("waits for the first event when there is none yet; times out empty", async () => {
    const ns = freshNamespace("hp");
    const a = api(ns);
    await a.create("/q");
    const z0 = Number((await a.call("HEAD", "/nodes/q")).headers.get("Edgekeeper-Zxid"));
    const t0 = Date.now();
    const empty = await a.get(`/watch/poll?path=/q&fromZxid=${z0}&timeout=200`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(empty.body).toEqual({ events: [], zxid: z0, more: false });
    const waiting = a.get(`/watch/poll?path=/q&fromZxid=${z0}&timeout=10000`);
    await sleep(100);
    const w = await a.create("/q/child");
    const got = await waiting;
    expect(got.body.events).toEqual([{ type: "event", event: "NodeChildrenChanged", eventType: 4, path: "/q", zxid: w.body.zxid }]);
    expect(got.body.zxid).toBe(w.body.zxid);
    // Polling on from the reply's zxid misses nothing and repeats nothing.
    const s = await a.call("PATCH", "/nodes/q", { raw: "1" });
    const next = await a.get(`/watch/poll?path=/q&fromZxid=${got.body.zxid}&timeout=0`);
    expect(next.body.events.map((e: { zxid: number }) => e.zxid)).toEqual([s.body.zxid]);
  });

  it("limit cuts at a transaction boundary; more says to poll again", async () => {
    const ns = freshNamespace("hp");
    const a = api(ns);
    await a.create("/l");
    const start = Number((await a.call("HEAD", "/nodes/l")).headers.get("Edgekeeper-Zxid"));
    const m = await a.post("/multi", { ops: [{ op: "create", path: "/l/a" }, { op: "create", path: "/l/b" }] });
    const single = await a.create("/l/c");
    const r = await a.get(`/watch/poll?path=/l&recursive=1&fromZxid=${start}&limit=1&timeout=0`);
    // One transaction holds two events: it goes whole.
    expect(r.body.events.map((e: { path: string }) => e.path)).toEqual(["/l/a", "/l/b"]);
    expect(r.body).toMatchObject({ zxid: m.body.zxid, more: true });
    const r2 = await a.get(`/watch/poll?path=/l&recursive=1&fromZxid=${r.body.zxid}&limit=1&timeout=0`);
    expect(r2.body.events.map((e: { path: string }) => e.path)).toEqual(["/l/c"]);
    expect(r2.body).toMatchObject({ zxid: single.body.zxid, more: false });
  });

  it("a poll from before the retained change log is 410 with resync", async () => {
    const ns = freshNamespace("hp");
    const c = await RawClient.connect(ns);
    await history(c);
    const top = await c.currentZxid();
    const floor = await inObject(ns, (o) => o.ns.compactLog(top - 1));
    const a = api(ns);
    const r = await a.get("/watch/poll?path=/app&fromZxid=2&timeout=0");
    expect(r.status).toBe(410);
    expect(r.body).toMatchObject({ err: -8, code: "BADARGUMENTS", resync: { fromZxid: 2, oldestZxid: floor, zxid: top } });
    expect(r.body.message).toContain("history compacted");
    expect((await a.get(`/watch/poll?path=/app&fromZxid=${floor}&timeout=0`)).status).toBe(200);
    c.close();
  });

  it("bad polls are 400", async () => {
    const a = api(freshNamespace("hp"));
    for (const q of ["", "path=/x&timeout=-1", "path=/x&timeout=300001", "path=/x&limit=0", "path=/x&fromZxid=5", "path=x"])
      expect((await a.get(`/watch/poll?${q}`)).status, q).toBe(400);
  });
});

describe("HTTP elections: observe", () => {
  it("streams the leader now and at every change (proclaim, resign, none left)", async () => {
    const ns = freshNamespace("ho");
    const a = api(ns);
    const c1 = await a.post("/elections/campaign", { path: "/elections/e", value: "one" });
    const obs = await openSse(`/v1/namespaces/${ns}/elections/observe?path=/elections/e`);
    const leaders = () => obs.messages.filter((m) => m.event === "leader").map((m) => JSON.parse(m.data!).leader?.value ?? null);
    await obs.until((m) => m.event === "leader");
    expect(leaders()).toEqual(["one"]);
    const c2 = a.post("/elections/campaign", { path: "/elections/e", value: "two", wait: 10_000 });
    await sleep(50);
    await a.post("/elections/proclaim", { path: "/elections/e", token: c1.body.token, value: "one'" }, { headers: { "Edgekeeper-Lease": c1.body.lease } });
    await obs.until(() => leaders().length === 2);
    await a.post("/elections/resign", { path: "/elections/e", token: c1.body.token }, { headers: { "Edgekeeper-Lease": c1.body.lease } });
    const g2 = await c2;
    await obs.until(() => leaders().length === 3);
    await a.post("/elections/resign", { path: "/elections/e", token: g2.body.token }, { headers: { "Edgekeeper-Lease": g2.body.lease } });
    await obs.until(() => leaders().length === 4);
    expect(leaders()).toEqual(["one", "one'", "two", null]);
    await obs.close();
    expect((await a.get("/elections/observe?path=/elections/none")).status).toBe(404);
  });
});
