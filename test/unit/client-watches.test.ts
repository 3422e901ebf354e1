import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConnectionLossError, NoWatcherError, type EdgeKeeper, type WatchEvent } from "../../src/client/index.js";
import { WatcherRegistry } from "../../src/client/watchers.js";
import { connectedClient, event, fail, type FakeSocket, ok, tick, useFakeClock } from "../helpers/fake-socket.js";

beforeEach(() => useFakeClock());
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const STAT = { czxid: 1, mzxid: 1, pzxid: 1, ctime: 0, mtime: 0, version: 0, cversion: 0, aversion: 0, ephemeralOwner: "0000000000000000", dataLength: 0, numChildren: 0 };

/** A server that answers every read/watch request successfully; `missing` paths do not exist. */
function serve(s: FakeSocket, missing: string[] = []): Array<Record<string, any>> {
  const seen: Array<Record<string, any>> = [];
  s.server = (req) => {
    seen.push(req);
    switch (req.op) {
      case "getData":
        return [ok(req, { data: "", stat: STAT })];
      case "exists":
        return [ok(req, { stat: missing.includes(req.path) ? null : STAT })];
      case "getChildren":
        return [ok(req, { children: [], stat: STAT })];
      default:
        return [ok(req)];
    }
  };
  return seen;
}

function recorder() {
  const events: WatchEvent[] = [];
  const w = (e: WatchEvent) => {
    events.push(e);
  };
  return { w, events, types: () => events.map((e) => `${e.type} ${e.path}`) };
}

async function setup(missing: string[] = []) {
  const c = await connectedClient();
  const seen = serve(c.s, missing);
  return { ...c, seen, push: (m: Record<string, any>) => c.s.push(m) };
}

describe("one-shot watchers", () => {
  it("a getData watcher fires once, with the event's type, path and zxid", async () => {
    const { zk, push } = await setup();
    const r = recorder();
    await zk.getData("/x", { watch: r.w });
    push(event("NodeDataChanged", "/x", 5));
    push(event("NodeDataChanged", "/x", 6));
    expect(r.events).toEqual([{ type: "NodeDataChanged", path: "/x", zxid: 5 }]);
  });

  it("exists on a missing node sets an exist watch that fires on NodeCreated", async () => {
    const { zk, seen, push } = await setup(["/new"]);
    const r = recorder();
    expect(await zk.exists("/new", { watch: r.w })).toBeNull();
    expect(seen[0]).toEqual({ xid: 1, op: "exists", path: "/new", watch: true });
    push(event("NodeCreated", "/new", 3));
    push(event("NodeDeleted", "/new", 4));
    expect(r.types()).toEqual(["NodeCreated /new"]);
  });

  it("a child watcher fires on NodeChildrenChanged, not on NodeDataChanged; NodeDeleted fires every kind", async () => {
    const { zk, push } = await setup();
    const child = recorder();
    const data = recorder();
    await zk.getChildren("/p", { watch: child.w });
    await zk.getData("/p", { watch: data.w });
    push(event("NodeDataChanged", "/p", 2));
    expect(child.events).toEqual([]);
    expect(data.types()).toEqual(["NodeDataChanged /p"]);
    push(event("NodeChildrenChanged", "/p", 3));
    expect(child.types()).toEqual(["NodeChildrenChanged /p"]);

    const c2 = recorder();
    const d2 = recorder();
    await zk.getChildren("/q", { watch: c2.w });
    await zk.exists("/q", { watch: d2.w });
    push(event("NodeDeleted", "/q", 4));
    expect(c2.types()).toEqual(["NodeDeleted /q"]);
    expect(d2.types()).toEqual(["NodeDeleted /q"]);
  });

  it("events for other paths, or without watchers, reach nobody", async () => {
    const { zk, push } = await setup();
    const r = recorder();
    await zk.getData("/a", { watch: r.w });
    push(event("NodeDataChanged", "/ab", 2));
    push(event("NodeDataChanged", "/a/b", 3));
    push(event("NodeChildrenChanged", "/a", 4));
    expect(r.events).toEqual([]);
  });

  it("no watcher is registered when the read fails", async () => {
    const { zk, s, push } = await setup();
    s.server = (req) => [fail(req, -101, "NONODE")];
    const r = recorder();
    await expect(zk.getData("/nope", { watch: r.w })).rejects.toThrow();
    push(event("NodeCreated", "/nope", 5));
    expect(r.events).toEqual([]);
  });

  it("a watcher that throws does not keep the others from running", async () => {
    const { zk, push } = await setup();
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    const r = recorder();
    await zk.getData("/x", {
      watch: () => {
        throw new Error("boom");
      },
    });
    await zk.getData("/x", { watch: r.w });
    push(event("NodeDataChanged", "/x", 5));
    expect(r.events).toHaveLength(1);
    expect(err).toHaveBeenCalled();
  });
});

describe("persistent watchers", () => {
  it("a persistent watcher stays and sees data, child and delete events at its path only", async () => {
    const { zk, seen, push } = await setup();
    const r = recorder();
    await zk.addWatch("/p", r.w);
    expect(seen[0]).toEqual({ xid: 1, op: "addWatch", path: "/p", mode: "persistent" });
    push(event("NodeDataChanged", "/p", 2));
    push(event("NodeDataChanged", "/p", 3));
    push(event("NodeChildrenChanged", "/p", 4));
    push(event("NodeDataChanged", "/p/child", 5));
    push(event("NodeDeleted", "/p", 6));
    push(event("NodeCreated", "/p", 7));
    expect(r.types()).toEqual(["NodeDataChanged /p", "NodeDataChanged /p", "NodeChildrenChanged /p", "NodeDeleted /p", "NodeCreated /p"]);
  });

  it("a recursive watcher matches the path and its descendants, but not NodeChildrenChanged or siblings", async () => {
    const { zk, seen, push } = await setup();
    const r = recorder();
    await zk.addWatch("/app", r.w, { recursive: true });
    expect(seen[0]).toEqual({ xid: 1, op: "addWatch", path: "/app", mode: "persistentRecursive" });
    push(event("NodeCreated", "/app/a", 2));
    push(event("NodeChildrenChanged", "/app", 3));
    push(event("NodeDataChanged", "/app/a/b/c", 4));
    push(event("NodeDataChanged", "/apple", 5));
    push(event("NodeDataChanged", "/", 6));
    push(event("NodeDeleted", "/app", 7));
    expect(r.types()).toEqual(["NodeCreated /app/a", "NodeDataChanged /app/a/b/c", "NodeDeleted /app"]);
  });

  it("a recursive watcher on / sees every node", async () => {
    const { zk, push } = await setup();
    const r = recorder();
    await zk.addWatch("/", r.w, { recursive: true });
    push(event("NodeDataChanged", "/", 2));
    push(event("NodeCreated", "/a/b", 3));
    push(event("NodeChildrenChanged", "/a", 4));
    expect(r.types()).toEqual(["NodeDataChanged /", "NodeCreated /a/b"]);
  });

  it("one callback registered several ways runs once per event; one-shot parts are consumed", async () => {
    const { zk, push } = await setup();
    const r = recorder();
    await zk.getData("/a/b", { watch: r.w });
    await zk.exists("/a/b", { watch: r.w });
    await zk.addWatch("/a/b", r.w);
    await zk.addWatch("/a", r.w, { recursive: true });
    await zk.addWatch("/", r.w, { recursive: true });
    push(event("NodeDataChanged", "/a/b", 2));
    expect(r.events).toHaveLength(1);
    push(event("NodeDataChanged", "/a/b", 3));
    expect(r.events).toHaveLength(2); // persistent ones remain
  });

  it("the WatcherRegistry follows the same rules", () => {
    const reg = new WatcherRegistry();
    const a = () => {};
    const b = () => {};
    reg.add("data", "/x", a);
    reg.add("persistentRecursive", "/", b);
    reg.add("child", "/x", b);
    expect(reg.materialize({ type: "NodeChildrenChanged", path: "/x", zxid: 1 })).toEqual([b]);
    expect(reg.has("child", "/x")).toBe(false);
    expect(reg.materialize({ type: "NodeDataChanged", path: "/x", zxid: 2 })).toEqual([a, b]);
    expect(reg.materialize({ type: "NodeDataChanged", path: "/x", zxid: 3 })).toEqual([b]);
    expect(reg.watchSet()).toEqual({ data: [], exist: [], child: [], persistent: [], persistentRecursive: ["/"] });
    expect(reg.remove("persistentRecursive", "/")).toBe(true);
    expect(reg.isEmpty()).toBe(true);
    expect(reg.remove("persistentRecursive", "/")).toBe(false);
  });
});

describe("watch registration and frame order", () => {
  it("a watch set by a read in a batch sees an event that follows the read's response in the same frame", async () => {
    const { zk, s } = await connectedClient();
    const r = recorder();
    // One tick → one batch; the server answers the batch with one frame: the read's response,
    // then the event of the write, then the write's response.
    const read = zk.getData("/x", { watch: r.w });
    const write = zk.setData("/x", "v");
    await tick();
    const [rr, rw] = s.requests;
    s.push([ok(rr, { data: "", stat: STAT }, 4), event("NodeDataChanged", "/x", 5), ok(rw, { stat: STAT }, 5)]);
    await read;
    await write;
    expect(r.types()).toEqual(["NodeDataChanged /x"]);
  });

  it("the same holds for exists, getChildren and addWatch", async () => {
    const { zk, s } = await connectedClient();
    const e = recorder();
    const c = recorder();
    const p = recorder();
    const calls = [zk.exists("/e", { watch: e.w }), zk.getChildren("/c", { watch: c.w }), zk.addWatch("/p", p.w), zk.create("/c/x")];
    await tick();
    const [re, rc, rp, rx] = s.requests;
    s.push([
      ok(re, { stat: null }, 4),
      ok(rc, { children: [], stat: STAT }, 4),
      ok(rp, {}, 4),
      event("NodeCreated", "/e", 5),
      event("NodeChildrenChanged", "/c", 6),
      event("NodeDataChanged", "/p", 7),
      ok(rx, { path: "/c/x", stat: STAT }, 7),
    ]);
    await Promise.all(calls);
    expect(e.types()).toEqual(["NodeCreated /e"]);
    expect(c.types()).toEqual(["NodeChildrenChanged /c"]);
    expect(p.types()).toEqual(["NodeDataChanged /p"]);
  });

  it("watch callbacks run before the awaiting code of a later response in the same frame", async () => {
    const { zk, s } = await connectedClient();
    serve(s);
    const order: string[] = [];
    await zk.addWatch("/x", (ev) => order.push(`watch ${ev.zxid}`));
    s.server = undefined;
    const p = (async () => {
      await zk.delete("/x");
      order.push("delete returned");
    })();
    await tick();
    s.push([event("NodeDeleted", "/x", 9), ok(s.requests[1], {}, 9)]);
    await p;
    expect(order).toEqual(["watch 9", "delete returned"]);
  });

  it("a watch set by a request that failed with ConnectionLoss is not re-registered on resume", async () => {
    const { zk, sockets, s } = await connectedClient();
    const r = recorder();
    const p = zk.getData("/x", { watch: r.w }).catch((e) => e);
    await tick();
    s.networkFail();
    expect(await p).toBeInstanceOf(ConnectionLossError);
    await vi.advanceTimersByTimeAsync(100);
    sockets.last.open();
    expect(sockets.last.hello?.watches?.data).toEqual([]);
  });
});

describe("removeWatches", () => {
  async function withTwoDataWatchers() {
    const c = await setup();
    const a = recorder();
    const b = recorder();
    await c.zk.getData("/x", { watch: a.w });
    await c.zk.getData("/x", { watch: b.w });
    c.seen.length = 0;
    return { ...c, a, b };
  }
  const removes = (seen: Array<Record<string, any>>) => seen.filter((r) => r.op === "removeWatches").map((r) => `${r.path} ${r.type}`);

  it("sends the server op only when the last local watcher of that kind is gone", async () => {
    const { zk, seen, push, a, b } = await withTwoDataWatchers();
    await zk.removeWatches("/x", "data", a.w);
    expect(removes(seen)).toEqual([]); // b still watches: the server watch must stay
    push(event("NodeDataChanged", "/x", 5));
    expect(a.events).toEqual([]);
    expect(b.types()).toEqual(["NodeDataChanged /x"]);

    await zk.getData("/x", { watch: a.w });
    await zk.getData("/x", { watch: b.w });
    await zk.removeWatches("/x", "data", a.w);
    await zk.removeWatches("/x", "data", b.w);
    expect(removes(seen)).toEqual(["/x data"]);
    push(event("NodeDataChanged", "/x", 6));
    expect(a.events).toEqual([]);
    expect(b.events).toHaveLength(1);
  });

  it("'any' with one watcher keeps the server watches other local watchers still need", async () => {
    const { zk, seen, a, b } = await withTwoDataWatchers();
    await zk.getChildren("/x", { watch: a.w });
    seen.length = 0;
    await zk.removeWatches("/x", "any", a.w);
    expect(removes(seen)).toEqual(["/x children"]); // b still holds the data watch
    await zk.removeWatches("/x", "any");
    expect(removes(seen)).toEqual(["/x children", "/x data"]);
  });

  it("without a watcher argument removes all of that kind", async () => {
    const { zk, seen, push, a, b } = await withTwoDataWatchers();
    await zk.removeWatches("/x", "data");
    expect(removes(seen)).toEqual(["/x data"]);
    push(event("NodeDataChanged", "/x", 5));
    expect(a.events).toEqual([]);
    expect(b.events).toEqual([]);
  });

  it("children, persistent and persistentRecursive map to the server's types", async () => {
    const { zk, seen } = await setup();
    const w = () => {};
    await zk.getChildren("/c", { watch: w });
    await zk.addWatch("/p", w);
    await zk.addWatch("/r", w, { recursive: true });
    seen.length = 0;
    await zk.removeWatches("/c", "children", w);
    await zk.removeWatches("/p", "persistent", w);
    await zk.removeWatches("/r", "persistentRecursive", w);
    expect(removes(seen)).toEqual(["/c children", "/p persistent", "/r persistentRecursive"]);
  });

  it("an exist watch is removed as the server's data watch", async () => {
    const { zk, seen } = await setup(["/e"]);
    const w = () => {};
    await zk.exists("/e", { watch: w });
    await zk.removeWatches("/e", "data", w);
    expect(removes(seen)).toEqual(["/e data"]);
  });

  it("throws NoWatcherError, without a server op, when there is no such local watcher", async () => {
    const { zk, seen } = await setup();
    const w = () => {};
    await expect(zk.removeWatches("/nothing", "data")).rejects.toBeInstanceOf(NoWatcherError);
    await zk.getData("/x", { watch: w });
    await expect(zk.removeWatches("/x", "data", () => {})).rejects.toBeInstanceOf(NoWatcherError);
    await expect(zk.removeWatches("/x", "children", w)).rejects.toBeInstanceOf(NoWatcherError);
    const e = await zk.removeWatches("/x", "persistent").catch((x) => x);
    expect(e).toBeInstanceOf(NoWatcherError);
    expect(e.code).toBe(-121);
    expect(removes(seen)).toEqual([]);
  });

  it("a NOWATCHER answer from the server (its watch already fired) is not an error", async () => {
    const { zk, s } = await setup();
    const w = () => {};
    await zk.getData("/x", { watch: w });
    s.server = (req) => [fail(req, -121, "NOWATCHER")];
    await expect(zk.removeWatches("/x", "data", w)).resolves.toBeUndefined();
  });
});

describe("watch() async iterator", () => {
  async function collect(zk: EdgeKeeper, path: string, n: number, opts: { recursive?: boolean } = {}) {
    const got: string[] = [];
    for await (const e of zk.watch(path, opts)) {
      got.push(`${e.type} ${e.path}`);
      if (got.length === n) break;
    }
    return got;
  }

  it("yields events and removes its watch when the loop breaks", async () => {
    const { zk, seen, push } = await setup();
    const loop = collect(zk, "/cfg", 3);
    await tick(10);
    expect(seen.map((r) => r.op)).toEqual(["addWatch"]);
    push(event("NodeDataChanged", "/cfg", 2));
    push(event("NodeDataChanged", "/cfg", 3)); // buffered while the loop body runs
    await tick();
    push(event("NodeDeleted", "/cfg", 4));
    expect(await loop).toEqual(["NodeDataChanged /cfg", "NodeDataChanged /cfg", "NodeDeleted /cfg"]);
    expect(seen.map((r) => `${r.op} ${r.mode ?? r.type}`)).toEqual(["addWatch persistent", "removeWatches persistent"]);
    push(event("NodeDataChanged", "/cfg", 5)); // nobody listens any more
  });

  it("recursive: watches descendants and removes the recursive watch", async () => {
    const { zk, seen, push } = await setup();
    const loop = collect(zk, "/app", 2, { recursive: true });
    await tick(10);
    push(event("NodeChildrenChanged", "/app", 2)); // not for recursive watches
    push(event("NodeCreated", "/app/a", 3));
    push(event("NodeDataChanged", "/app/a/b", 4));
    expect(await loop).toEqual(["NodeCreated /app/a", "NodeDataChanged /app/a/b"]);
    expect(seen.map((r) => `${r.op} ${r.mode ?? r.type}`)).toEqual(["addWatch persistentRecursive", "removeWatches persistentRecursive"]);
  });

  it("ends when the client closes", async () => {
    const { zk, s, push } = await setup();
    const got: string[] = [];
    const loop = (async () => {
      for await (const e of zk.watch("/x")) got.push(e.type);
    })();
    await tick(10);
    push(event("NodeDataChanged", "/x", 2));
    s.server = (req) => [ok(req)];
    await zk.close();
    await loop;
    expect(got).toEqual(["NodeDataChanged"]);
  });

  it("throws when addWatch fails", async () => {
    const { zk, s } = await connectedClient();
    s.server = (req) => [fail(req, -8, "BADARGUMENTS")];
    await expect(collect(zk, "bad-path", 1)).rejects.toMatchObject({ code: -8 });
  });
});

describe("resume replay", () => {
  it("events replayed in the resume frame reach watchers; consumed one-shot watches are not re-sent", async () => {
    const { zk, sockets, s } = await setup();
    const d = recorder();
    const p = recorder();
    await zk.getData("/d", { watch: d.w });
    await zk.addWatch("/p", p.w);
    s.networkFail();
    await vi.advanceTimersByTimeAsync(100);
    const s2 = sockets.last;
    s2.open();
    expect(s2.hello?.watches).toMatchObject({ data: ["/d"], persistent: ["/p"] });
    s2.push([
      { type: "connected", v: 1, sessionId: "0100000000000001", secret: "x", timeout: 30000, zxid: 12, resumed: true },
      event("NodeDataChanged", "/d", 10),
      event("NodeDataChanged", "/p", 11),
      event("NodeDeleted", "/p", 12),
    ]);
    expect(d.types()).toEqual(["NodeDataChanged /d"]);
    expect(p.types()).toEqual(["NodeDataChanged /p", "NodeDeleted /p"]);

    s2.networkFail();
    await vi.advanceTimersByTimeAsync(100);
    sockets.last.open();
    expect(sockets.last.hello).toMatchObject({ lastZxid: 12, watches: { data: [], persistent: ["/p"] } });
  });

  it("a resync notice calls the onResync listeners", async () => {
    const { zk, sockets, s } = await setup();
    let resyncs = 0;
    const off = zk.onResync(() => resyncs++);
    s.networkFail();
    await vi.advanceTimersByTimeAsync(100);
    sockets.last.open();
    sockets.last.push([
      { type: "connected", v: 1, sessionId: "0100000000000001", secret: "x", timeout: 30000, zxid: 6100, resumed: true },
      { type: "resync", lastZxid: 0, oldestZxid: 5000, zxid: 6100 },
    ]);
    expect(resyncs).toBe(1);
    expect(zk.state).toBe("connected");
    off();
    sockets.last.push({ type: "resync", lastZxid: 0, oldestZxid: 5000, zxid: 6100 });
    expect(resyncs).toBe(1);
  });
});
