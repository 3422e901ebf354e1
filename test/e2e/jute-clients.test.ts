import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import zookeeper from "node-zookeeper-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type LocalServer } from "./server.js";

/**
 * Real ZooKeeper clients against the real local server's /zk route (docs/zookeeper-compat.md):
 * node-zookeeper-client and, when Debian's zookeeper package is installed, zkCli.sh. A minimal
 * TCP-to-WebSocket bridge stands in for the tunnel here: it splits the TCP stream on ZooKeeper's
 * 4-byte length prefix, sends each payload as one binary message, and prefixes what comes back.
 */

let server: LocalServer;
let bridge: Server;
let port = 0;
const NS = "jute-e2e";

function startBridge(target: string): Promise<Server> {
  const srv = createServer((sock: Socket) => {
    const ws = new WebSocket(target, ["zookeeper"]);
    ws.binaryType = "arraybuffer";
    const early: Uint8Array[] = [];
    let buf = Buffer.alloc(0);
    ws.addEventListener("open", () => {
      for (const p of early.splice(0)) ws.send(p);
    });
    ws.addEventListener("message", (e) => {
      const payload = Buffer.from(e.data as ArrayBuffer);
      const len = Buffer.alloc(4);
      len.writeInt32BE(payload.length);
      sock.write(Buffer.concat([len, payload]));
    });
    ws.addEventListener("close", () => sock.destroy());
    ws.addEventListener("error", () => sock.destroy());
    sock.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const n = buf.readInt32BE(0);
        const packet = new Uint8Array(buf.subarray(4, 4 + n));
        buf = buf.subarray(4 + n);
        if (ws.readyState === WebSocket.OPEN) ws.send(packet);
        else early.push(packet);
      }
    });
    sock.on("close", () => ws.close());
    sock.on("error", () => ws.close());
  });
  return new Promise((resolve) => srv.listen(0, "127.0.0.1", () => resolve(srv)));
}

beforeAll(async () => {
  server = await startServer();
  bridge = await startBridge(server.wsUrl(NS).replace(/\/ws$/, "/zk"));
  port = (bridge.address() as { port: number }).port;
});

afterAll(async () => {
  bridge?.close();
  await server?.stop();
});

type Client = ReturnType<typeof zookeeper.createClient>;
type Callback = (err: any, ...rest: any[]) => void;
const call = <T>(f: (cb: Callback) => void): Promise<T[]> =>
  new Promise((resolve, reject) => f((err, ...rest) => (err ? reject(err) : resolve(rest as T[]))));

async function connect(): Promise<Client> {
  const c = zookeeper.createClient(`127.0.0.1:${port}`, { sessionTimeout: 10_000, retries: 0 });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("connect timed out")), 10_000);
    c.once("connected", () => (clearTimeout(t), resolve()));
    c.connect();
  });
  return c;
}

describe("node-zookeeper-client over /zk", () => {
  it("creates, reads, watches, runs a transaction and closes its session (ephemerals gone)", async () => {
    const a = await connect();
    const b = await connect();
    const [created] = await call<string>((cb) => a.create("/app", Buffer.from("v0"), zookeeper.CreateMode.PERSISTENT, cb));
    expect(created).toBe("/app");
    const [seq] = await call<string>((cb) => a.create("/app/n-", Buffer.alloc(0), zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL, cb));
    expect(seq).toBe("/app/n-0000000000");

    const fired = new Promise<{ type: number; path: string }>((resolve) =>
      a.getData("/app", (e) => resolve({ type: e.getType(), path: e.getPath() }), () => {}),
    );
    await call((cb) => b.setData("/app", Buffer.from("v1"), -1, cb));
    expect(await fired).toEqual({ type: zookeeper.Event.NODE_DATA_CHANGED, path: "/app" });
    const [data, stat] = await call<any>((cb) => a.getData("/app", cb));
    expect(data.toString()).toBe("v1");
    expect(stat.version).toBe(1);

    const [children] = await call<string[]>((cb) => b.getChildren("/app", cb));
    expect(children).toEqual(["n-0000000000"]);

    const [results] = await call<any[]>((cb) => a.transaction().create("/app/t", Buffer.from("x")).check("/app", 1).setData("/app", Buffer.from("v2"), 1).commit(cb));
    expect(results.map((r: { type: number }) => r.type)).toEqual([1, 13, 5]);
    await expect(call((cb) => a.transaction().create("/app/u").check("/app", 99).commit(cb))).rejects.toMatchObject({ code: -103 });
    const [exists] = await call<any>((cb) => a.exists("/app/u", cb));
    expect(exists).toBeNull();

    const gone = new Promise<number>((resolve) => b.exists("/app/n-0000000000", (e) => resolve(e.getType()), () => {}));
    a.close();
    expect(await gone).toBe(zookeeper.Event.NODE_DELETED);
    b.close();
  });
});

const ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh";
describe.skipIf(!existsSync(ZKCLI))("zkCli.sh over /zk", () => {
  it("the Java client: create, get, set with a version, ls, stat, an ephemeral node, delete", async () => {
    const script = ["create /cli hello", "get /cli", "set -v 0 /cli world", "set -v 0 /cli again", "create -e /cli/eph e", "ls /cli", "stat /cli", "delete /cli/eph", "get /cli/nope", "quit", ""].join("\n");
    // Asynchronously: the bridge runs in this process.
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(ZKCLI, ["-server", `127.0.0.1:${port}`], { stdio: ["pipe", "pipe", "pipe"] });
      let text = "";
      // Results go to stdout, "Created …" and errors to stderr.
      p.stdout.on("data", (d) => (text += d));
      p.stderr.on("data", (d) => (text += d));
      const timer = setTimeout(() => p.kill("SIGKILL"), 60_000);
      p.on("error", reject);
      p.on("close", () => (clearTimeout(timer), resolve(text)));
      p.stdin.end(script);
    });
    expect(out).toContain("Created /cli");
    expect(out).toMatch(/^hello$/m);
    expect(out).toContain("version No is not valid : /cli");
    expect(out).toMatch(/\[eph\]/);
    expect(out).toMatch(/dataVersion = 1/);
    expect(out).toMatch(/numChildren = 1/);
    expect(out).toContain("Node does not exist: /cli/nope");
  }, 120_000);
});
