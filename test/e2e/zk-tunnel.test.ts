import { spawn, spawnSync } from "node:child_process";
import { connect as tcpConnect, type Socket } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import zookeeper from "node-zookeeper-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureZooKeeperInstalled, startZooKeeper, type ZooKeeperServer } from "../../bench/lib/zookeeper-server.js";
import { startTunnel, tunnelTarget, parseListen, type Tunnel } from "../../src/cli/tunnel.js";
import { startBridge, type Bridge } from "./zk-bridge.js";
import { closeClient, connectClient, firstDifference, runSequence } from "./zk-diff.js";
import { ensureKazoo, mask, PYTHON, run, zkCli } from "./zk-tools.js";

/**
 * `edgekeeper tunnel` (docs/zookeeper-compat.md) and the ZooKeeper clients that use it,
 * against a real ZooKeeper 3.8 (Debian's package, started here): the tunnel carries each
 * connection over a WebSocket to a stand-in for the service's /zk route that forwards to
 * ZooKeeper (test/e2e/zk-bridge.ts), so zkCli.sh, kazoo and node-zookeeper-client must behave
 * through it exactly as they do directly — which the differential harness (zk-diff.ts)
 * checks operation by operation.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = join(ROOT, "bin/edgekeeper.mjs");

let zk: ZooKeeperServer;
let bridge: Bridge;
let tunnel: Tunnel;
const logs: string[] = [];
const via = () => `127.0.0.1:${tunnel.port}`;


/** What zkCli prints for the script above; times and zxids are masked. */

describe("tunnel to a real ZooKeeper through a stand-in for the service", () => {
  beforeAll(async () => {
    ensureZooKeeperInstalled((s) => console.log(s));
    ensureKazoo();
    zk = await startZooKeeper();
    bridge = await startBridge(zk.port);
    tunnel = await startTunnel({ port: 0, url: bridge.url, namespace: "conf", token: "tok.en", log: (l) => logs.push(l) });
  });
  afterAll(async () => {
    await tunnel?.close();
    await bridge?.close();
    await zk?.stop();
  });

  it("parses --listen and builds the /zk URL", () => {
    expect(parseListen("127.0.0.1:2181")).toEqual({ host: "127.0.0.1", port: 2181 });
    expect(parseListen("2181")).toEqual({ host: "127.0.0.1", port: 2181 });
    expect(parseListen("[::1]:2181")).toEqual({ host: "::1", port: 2181 });
    expect(parseListen("0.0.0.0:0")).toEqual({ host: "0.0.0.0", port: 0 });
    expect(() => parseListen("host:port")).toThrow(/--listen/);
    expect(tunnelTarget("https://coord.example.com/", "orders")).toBe("wss://coord.example.com/v1/namespaces/orders/zk");
    expect(tunnelTarget("http://127.0.0.1:8787", "a b")).toBe("ws://127.0.0.1:8787/v1/namespaces/a%20b/zk");
    expect(tunnelTarget("ws://h:1/prefix", "n")).toBe("ws://h:1/prefix/v1/namespaces/n/zk");
  });

  it("carries node-zookeeper-client: one WebSocket per connection, the token as a subprotocol, watches", async () => {
    const before = bridge.upgrades.length;
    const a = await connectClient(via(), "a");
    const b = await connectClient(via(), "b");
    expect(bridge.upgrades.slice(before)).toEqual([
      { path: "/v1/namespaces/conf/zk", protocols: ["zookeeper", "bearer.tok.en"], authorization: undefined },
      { path: "/v1/namespaces/conf/zk", protocols: ["zookeeper", "bearer.tok.en"], authorization: undefined },
    ]);
    const call = <T>(f: (cb: (e: unknown, r: T) => void) => void) => new Promise<T>((ok, fail) => f((e, r) => (e ? fail(e) : ok(r))));
    expect(await call<string>((cb) => a.client.create("/basic", Buffer.from("x"), zookeeper.CreateMode.PERSISTENT, cb))).toBe("/basic");
    const event = new Promise<string>((ok) => a.client.getData("/basic", (e) => ok(`${e.getName()} ${e.getPath()}`), () => {}));
    await call((cb) => b.client.setData("/basic", Buffer.from("y".repeat(200_000)), -1, cb));
    expect(await event).toBe("NODE_DATA_CHANGED /basic");
    const data = await call<Buffer>((cb) => a.client.getData("/basic", cb));
    expect(data.length).toBe(200_000);
    expect(await call<string[]>((cb) => b.client.getChildren("/", cb))).toContain("basic");
    await call<void>((cb) => a.client.remove("/basic", -1, (e) => cb(e, undefined)));
    expect(tunnel.connections).toBe(2);
    await closeClient(a);
    await closeClient(b);
    for (let i = 0; i < 50 && (tunnel.connections > 0 || bridge.open > 0); i++) await new Promise((r) => setTimeout(r, 20));
    expect(tunnel.connections).toBe(0);
    expect(bridge.open).toBe(0);
    expect(logs.some((l) => /connected → ws:\/\/127\.0\.0\.1:\d+\/v1\/namespaces\/conf\/zk/.test(l))).toBe(true);
    expect(logs.some((l) => /closed \(.*; \d+ packets up, \d+ down/.test(l))).toBe(true);
  });

  it("closes the TCP connection when the service closes, and on a packet over the limit", async () => {
    const sock: Socket = tcpConnect({ host: "127.0.0.1", port: tunnel.port });
    const closed = new Promise<void>((r) => sock.on("close", () => r()));
    sock.on("error", () => {});
    await new Promise((r) => sock.once("connect", r));
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(5 * 1024 * 1024);
    sock.write(prefix);
    await closed;
    expect(logs.at(-1)).toMatch(/bad packet: packet length 5242880/);

    // The service goes away: its connections drop.
    const c = await connectClient(via(), "c");
    const gone = new Promise<void>((r) => c.client.once("disconnected", () => r()));
    const other = await startBridge(zk.port);
    await bridge.close();
    await gone;
    bridge = other;
    await tunnel.close();
    tunnel = await startTunnel({ port: 0, url: bridge.url, namespace: "conf", token: "tok.en", log: (l) => logs.push(l) });
    c.client.close();
  });

  it("zkCli.sh's basic verbs work through the tunnel as they do directly", async () => {
    const direct = mask(await zkCli(zk.connectString, "/zc1"));
    const tunneled = mask(await zkCli(via(), "/zc2"));
    expect(direct).toContain("Created /zc1");
    expect(direct).toContain("Node does not exist: /zc1/nope");
    expect(direct).toContain("version No is not valid : /zc1");
    expect(tunneled).toEqual(direct.map((l) => l.replaceAll("/zc1", "/zc2")));
  });

  it("kazoo's Lock, Election, Counter, Barrier, DoubleBarrier and Party recipes work through the tunnel", async () => {
    const r = await run(PYTHON, [join(ROOT, "test/e2e/fixtures/kazoo_recipes.py"), via(), "/kazoo"]);
    expect(r.stderr).not.toMatch(/Traceback/);
    expect(r.stdout.trim().split("\n")).toEqual(["lock ok 9", "election ok a,b", "counter ok 30", "barrier ok 2", "double-barrier ok", "party ok", "ALL OK"]);
    expect(r.code).toBe(0);
  });

  it("the differential harness sees no difference between ZooKeeper directly and through the tunnel", async () => {
    const ops = new Set<string>();
    for (const seed of [1, 2, 3]) {
      const direct = await runSequence(zk.connectString, seed, `/same-direct-${seed}`);
      const tunneled = await runSequence(via(), seed, `/same-tunnel-${seed}`);
      expect(firstDifference(direct, tunneled)).toBeUndefined();
      expect(JSON.stringify(direct)).not.toMatch(/broken/);
      for (const s of direct.steps) ops.add(s.op);
    }
    // The sequences exercise what they claim to.
    expect([...ops].sort()).toEqual(["create", "delete", "exists", "getACL", "getChildren", "getData", "multi", "setACL", "setData"]);
  });

  it("the built CLI: edgekeeper tunnel --listen logs its connections and stops on SIGINT", async () => {
    const built = spawnSync(process.execPath, [join(ROOT, "scripts/build-cli.mjs"), "--quiet"], { cwd: ROOT, encoding: "utf8" });
    expect(built.status, built.stderr).toBe(0);
    const p = spawn(process.execPath, [BIN, "tunnel", "--listen", "127.0.0.1:0", "--url", bridge.url, "-n", "cli"], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => p.on("close", r));
    const port = await new Promise<number>((ok, fail) => {
      p.stdout.setEncoding("utf8").on("data", (d: string) => {
        stdout += d;
        const m = /tunnel listening on 127\.0\.0\.1:(\d+) → ws:\/\/127\.0\.0\.1:\d+\/v1\/namespaces\/cli\/zk/.exec(stdout);
        if (m) ok(Number(m[1]));
      });
      void exited.then(() => fail(new Error(`exited: ${stdout} ${stderr}`)));
    });
    const s = await connectClient(`127.0.0.1:${port}`, "cli");
    expect(bridge.upgrades.at(-1)).toEqual({ path: "/v1/namespaces/cli/zk", protocols: ["zookeeper"], authorization: undefined });
    await closeClient(s);
    p.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/#1 127\.0\.0\.1:\d+ connected/);
    expect(stderr).toMatch(/#1 127\.0\.0\.1:\d+ closed/);
  });
});
