import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SignJWT } from "jose";
import zookeeper from "node-zookeeper-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureZooKeeperInstalled, startZooKeeper, type ZooKeeperServer } from "../../bench/lib/zookeeper-server.js";
import { startTunnel, type Tunnel } from "../../src/cli/tunnel.js";
import { startServer, type LocalServer } from "./server.js";
import { closeClient, connectClient, firstDifference, runSequence, summarize, type SessionHandle } from "./zk-diff.js";
import { ensureKazoo, mask, PYTHON, run, zkCli } from "./zk-tools.js";

/**
 * Conformance with ZooKeeper 3.8 (docs/zookeeper-compat.md): edgekeeper's ZooKeeper protocol,
 * reached through `edgekeeper tunnel`, against a real ZooKeeper (Debian's package, started
 * here) with the same clients:
 *
 * - the differential test: seeded random operation sequences (zk-diff.ts) run with
 *   node-zookeeper-client against both, compared result by result — values, error codes,
 *   Stat fields (zxids by rank, times by invariants), watch events;
 * - zkCli.sh's basic verbs, the same script against both;
 * - kazoo's Lock, Election, Counter, Barrier, DoubleBarrier and Party recipes.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** Sequences and their length: EDGEKEEPER_ZK_DIFF_SEEDS=40 EDGEKEEPER_ZK_DIFF_OPS=250 for a longer run. */
const SEEDS = Number(process.env.EDGEKEEPER_ZK_DIFF_SEEDS) || 10;
const OPS = Number(process.env.EDGEKEEPER_ZK_DIFF_OPS) || 150;
const NS = `conformance-${Date.now().toString(36)}`;

let zk: ZooKeeperServer;
let server: LocalServer;
let tunnel: Tunnel;
const logs: string[] = [];
const via = () => `127.0.0.1:${tunnel.port}`;


/** A node-zookeeper-client call as a promise. */
function zkCall<T = unknown>(s: SessionHandle, f: (cb: (e: unknown, r: T) => void) => void): Promise<T> {
  return new Promise((ok, fail) => f((e, r) => (e ? fail(e) : ok(r))));
}


describe("edgekeeper through the tunnel, against ZooKeeper 3.8", () => {
  beforeAll(async () => {
    ensureZooKeeperInstalled((s) => console.log(s));
    ensureKazoo();
    [zk, server] = await Promise.all([startZooKeeper(), startServer()]);
    tunnel = await startTunnel({ port: 0, url: server.url, namespace: NS, log: (l) => logs.push(l) });
  });
  afterAll(async () => {
    await tunnel?.close();
    await Promise.all([server?.stop(), zk?.stop()]);
  });

  it("the differential test: the same random operation sequences give the same results, Stats and events", async () => {
    const stats: Array<Record<string, number>> = [];
    for (const seed of Array.from({ length: SEEDS }, (_, i) => 11 + i)) {
      const expected = await runSequence(zk.connectString, seed, `/diff-${seed}`, OPS);
      const actual = await runSequence(via(), seed, `/diff-${seed}`, OPS);
      stats.push(summarize(expected));
      expect(JSON.stringify(actual)).not.toMatch(/broken/);
      expect(firstDifference(expected, actual), `seed ${seed}`).toBeUndefined();
    }
    // The sequences covered what they claim to: every operation succeeding and failing with
    // ZooKeeper's usual codes, every create mode, multi both ways, every event type.
    const seen = new Set(stats.flatMap((s) => Object.keys(s)));
    const want = [
      "create/persistent:0", "create/ephemeral:0", "create/persistent_sequential:0", "create/ephemeral_sequential:0",
      "create/persistent:-110", "create/persistent:-101", "create/persistent:-108",
      "getData:0", "getData:-101", "setData:0", "setData:-103", "setData:-101", "delete:0", "delete:-103", "delete:-111", "delete:-101", "create/persistent_sequential:-102",
      "exists:0", "getChildren:0", "getChildren:-101", "getACL:0", "setACL:0", "setACL:-103", "multi:0", "multi:-101", "multi:-103", "multi:-110",
      "event:NODE_CREATED", "event:NODE_DELETED", "event:NODE_DATA_CHANGED", "event:NODE_CHILDREN_CHANGED",
    ];
    expect(want.filter((k) => !seen.has(k))).toEqual([]);
  });

  it("zkCli.sh's basic verbs print the same against both", async () => {
    const direct = mask(await zkCli(zk.connectString, "/zc"));
    const tunneled = mask(await zkCli(via(), "/zc"));
    expect(direct).toContain("Created /zc");
    expect(tunneled).toEqual(direct);
  });

  it("kazoo's Lock, Election, Counter, Barrier, DoubleBarrier and Party recipes", async () => {
    const r = await run(PYTHON, [join(ROOT, "test/e2e/fixtures/kazoo_recipes.py"), via(), "/kazoo"]);
    expect(r.stderr).not.toMatch(/Traceback/);
    expect(r.stdout.trim().split("\n")).toEqual(["lock ok 9", "election ok a,b", "counter ok 30", "barrier ok 2", "double-barrier ok", "party ok", "ALL OK"]);
    expect(r.code).toBe(0);
  });
  it("a session outlives the tunnel: restarted on the same port, the client resumes its session and keeps its ephemerals", async () => {
    const port = tunnel.port;
    const c = await connectClient(via(), "r");
    const other = await connectClient(via(), "o");
    await zkCall<string>(c, (cb) => c.client.create("/resume-eph", Buffer.from("e"), zookeeper.CreateMode.EPHEMERAL, cb));
    await zkCall<string>(c, (cb) => c.client.create("/resume-data", Buffer.from("d"), zookeeper.CreateMode.PERSISTENT, cb));
    const down = new Promise<void>((r) => c.client.once("disconnected", () => r()));
    await tunnel.close();
    await down;
    const up = new Promise<void>((r) => c.client.once("connected", () => r()));
    tunnel = await startTunnel({ port, url: server.url, namespace: NS, log: (l) => logs.push(l) });
    await up;
    const other2 = await connectClient(via(), "o2");
    const stat = await zkCall<zookeeper.Stat>(other2, (cb) => other2.client.exists("/resume-eph", cb));
    expect(stat.ephemeralOwner.toString("hex")).toBe(c.id);
    // (The watches it had are not checked: node-zookeeper-client does not get its watches back
    // after a reconnect from ZooKeeper either.)
    expect((await zkCall<Buffer>(c, (cb) => c.client.getData("/resume-data", cb))).toString()).toBe("d");
    await closeClient(c);
    expect(await zkCall(other2, (cb) => other2.client.exists("/resume-eph", cb))).toBeNull();
    await closeClient(other2);
    other.client.close();
  });
});

describe("the tunnel to a server that requires tokens", () => {
  const SECRET = "zk-tunnel-secret-zk-tunnel-secret-!!";
  let secured: LocalServer;
  const sign = (rights: string[]) =>
    new SignJWT({ ns: { "zk-*": rights } }).setProtectedHeader({ alg: "HS256" }).setSubject("zk-ci").setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));
  beforeAll(async () => {
    secured = await startServer({ vars: { EDGEKEEPER_JWT_SECRET: SECRET } });
  });
  afterAll(() => secured?.stop());

  it("--token goes as the bearer subprotocol: read-write works, read-only gets NOAUTH on writes, none is refused", async () => {
    const open: Tunnel[] = [];
    const lines: string[] = [];
    const through = async (token?: string) => {
      const t = await startTunnel({ port: 0, url: secured.url, namespace: "zk-auth", token, log: (l) => lines.push(l) });
      open.push(t);
      return `127.0.0.1:${t.port}`;
    };
    try {
      const rw = await connectClient(await through(await sign(["read", "write"])), "rw");
      expect(await zkCall<string>(rw, (cb) => rw.client.create("/authed", Buffer.from("x"), zookeeper.CreateMode.PERSISTENT, cb))).toBe("/authed");
      const ro = await connectClient(await through(await sign(["read"])), "ro");
      expect((await zkCall<Buffer>(ro, (cb) => ro.client.getData("/authed", cb))).toString()).toBe("x");
      const denied = await zkCall(ro, (cb) => ro.client.setData("/authed", Buffer.from("y"), -1, cb)).then(
        () => 0,
        (e: { getCode(): number }) => e.getCode(),
      );
      expect(denied).toBe(zookeeper.Exception.NO_AUTH);
      await closeClient(rw);
      await closeClient(ro);
      // No token: the upgrade is refused, so the tunnel drops every attempt and no session opens.
      await expect(connectClient(await through(), "none", 3_000)).rejects.toThrow(/no session/);
      expect(lines.some((l) => /closed \(websocket error/.test(l))).toBe(true);
    } finally {
      for (const t of open) await t.close();
    }
  });
});
