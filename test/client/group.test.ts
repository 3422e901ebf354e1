import { describe, expect, it } from "vitest";
import { connect, GroupMember, ServiceDiscovery, type EdgeKeeper } from "../../src/client/index.js";
import { freshNamespace, sleep } from "../helpers/raw-client.js";
import { workerSocket } from "../helpers/worker-socket.js";

const open = (namespace: string) => connect("http://edgekeeper.test", { namespace, WebSocket: workerSocket, sessionTimeout: 5000 });

/** Polls `f` until it returns `want` (deep-equal as JSON), or gives up after ~2 s. */
async function eventually<T>(f: () => T, want: T): Promise<T> {
  let got = f();
  for (let i = 0; i < 100 && JSON.stringify(got) !== JSON.stringify(want); i++) {
    await sleep(20);
    got = f();
  }
  return got;
}

const members = (g: GroupMember<{ role: string }>) => Object.fromEntries([...g.getCurrentMembers()].sort());

describe("GroupMember", () => {
  it("membership reflects joins, payload updates and leaves (closing a member's client removes it)", async () => {
    const ns = freshNamespace("gm");
    const zks: EdgeKeeper[] = await Promise.all([open(ns), open(ns), open(ns)]);
    const group = zks.map((zk, i) => new GroupMember(zk, "/groups/workers", `w${i}`, { role: i === 0 ? "lead" : "worker" }));
    await group[0].start();
    await group[1].start();
    expect(await eventually(() => members(group[0]), { w0: { role: "lead" }, w1: { role: "worker" } })).toEqual({ w0: { role: "lead" }, w1: { role: "worker" } });
    let changes = 0;
    group[0].onChange(() => changes++);
    await group[2].start();
    const all = { w0: { role: "lead" }, w1: { role: "worker" }, w2: { role: "worker" } };
    for (const g of group) expect(await eventually(() => members(g), all)).toEqual(all);
    expect(changes).toBeGreaterThan(0);
    // The nodes are ephemeral, owned by each member's session.
    const stat = await zks[0].exists("/groups/workers/w2");
    expect(stat!.ephemeralOwner).not.toBe("0000000000000000");

    await group[1].updatePayload({ role: "standby" });
    const updated = { ...all, w1: { role: "standby" } };
    expect(await eventually(() => members(group[2]), updated)).toEqual(updated);

    // w2's process goes away: its session closes and it leaves the group.
    await zks[2].close();
    const afterClose = { w0: { role: "lead" }, w1: { role: "standby" } };
    expect(await eventually(() => members(group[0]), afterClose)).toEqual(afterClose);
    // w1 leaves explicitly.
    await group[1].close();
    expect(await eventually(() => members(group[0]), { w0: { role: "lead" } })).toEqual({ w0: { role: "lead" } });
    expect(await zks[0].getChildren("/groups/workers")).toEqual(["w0"]);
    await group[0].close();
    await Promise.all([zks[0].close(), zks[1].close()]);
  });

  it("an id held by another live session is refused; the same session may start again", async () => {
    const ns = freshNamespace("gm");
    const a = await open(ns);
    const b = await open(ns);
    const m = new GroupMember(a, "/g", "same");
    await m.start();
    await expect(new GroupMember(b, "/g", "same").start()).rejects.toThrow(/another session/);
    await new GroupMember(a, "/g", "same").start(); // our own node: fine
    await a.close();
    await new GroupMember(b, "/g", "same").start(); // freed when a's session ended
    expect((await b.exists("/g/same"))!.ephemeralOwner).toBe(b.sessionId);
    await b.close();
  });
});

describe("ServiceDiscovery", () => {
  it("registers instances under /services/<name>/<id> and answers queries from its cache", async () => {
    const ns = freshNamespace("sd");
    const [x, y, watcher] = await Promise.all([open(ns), open(ns), open(ns)]);
    const sx = new ServiceDiscovery<{ zone: string }>(x);
    const sy = new ServiceDiscovery<{ zone: string }>(y);
    const sw = new ServiceDiscovery<{ zone: string }>(watcher);
    await Promise.all([sx.start(), sy.start(), sw.start()]);
    const changed: string[] = [];
    sw.onChange((name) => changed.push(name));

    const api1 = await sx.registerService({ name: "api", id: "api-1", address: "10.0.0.1", port: 8080, payload: { zone: "a" } });
    await sy.registerService({ name: "api", id: "api-2", address: "10.0.0.2", port: 8080, payload: { zone: "b" } });
    const db = await sy.registerService({ name: "db", address: "10.0.0.9", port: 5432 });
    expect(db.id).toMatch(/.+/);
    expect((await watcher.getData(`/services/api/api-1`)).stat.ephemeralOwner).toBe(x.sessionId);

    const ids = () => sw.queryForInstances("api").map((i) => `${i.id}@${i.address}:${i.port}/${i.payload?.zone}`);
    expect(await eventually(ids, ["api-1@10.0.0.1:8080/a", "api-2@10.0.0.2:8080/b"])).toEqual(["api-1@10.0.0.1:8080/a", "api-2@10.0.0.2:8080/b"]);
    expect(await eventually(() => sw.queryForNames(), ["api", "db"])).toEqual(["api", "db"]);
    expect(await eventually(() => sw.queryForInstance("db", db.id)?.port, 5432)).toBe(5432);
    expect(changed).toContain("api");

    await sx.updateService({ ...api1, payload: { zone: "c" } });
    expect(await eventually(ids, ["api-1@10.0.0.1:8080/c", "api-2@10.0.0.2:8080/b"])).toEqual(["api-1@10.0.0.1:8080/c", "api-2@10.0.0.2:8080/b"]);

    // y's process dies: both its instances vanish from everyone's view.
    await y.close();
    expect(await eventually(ids, ["api-1@10.0.0.1:8080/c"])).toEqual(["api-1@10.0.0.1:8080/c"]);
    expect(await eventually(() => sw.queryForInstances("db").length, 0)).toBe(0);
    expect(await eventually(() => sx.queryForInstances("api").length, 1)).toBe(1);

    await sx.unregisterService(api1);
    expect(await eventually(() => sw.queryForInstances("api").length, 0)).toBe(0);
    await Promise.all([sx.close(), sw.close()]);
    await Promise.all([x.close(), watcher.close()]);
  });
});
