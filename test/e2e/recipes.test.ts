import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connect, LeaderLatch, Mutex, TreeCache, type EdgeKeeper } from "../../src/client/index.js";
import { clientBundle } from "./client-bundle.js";
import { startServer, type LocalServer } from "./server.js";

/**
 * Recipes over real sockets against the real local server, including processes that are
 * frozen (SIGSTOP) or killed (SIGKILL) while they hold a lock or lead.
 */
const SESSION_MS = 1500;
let server: LocalServer;
let bundlePath: string;
const clients: EdgeKeeper[] = [];
const children: ChildProcess[] = [];

const client = async (namespace: string, sessionTimeout = 10_000) => {
  const zk = await connect(server.url, { namespace, sessionTimeout });
  clients.push(zk);
  return zk;
};

/** Starts a holder process and resolves with it and its token once it holds. */
function holder(namespace: string, kind: "mutex" | "leader", path: string): Promise<{ proc: ChildProcess; token: number }> {
  const proc = spawn(process.execPath, ["test/e2e/fixtures/holder.mjs", bundlePath, server.url, namespace, kind, path, String(SESSION_MS)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(proc);
  return new Promise((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (d) => {
      out += d;
      const m = /HOLDING (\d+)/.exec(out);
      if (m) resolve({ proc, token: Number(m[1]) });
    });
    proc.stderr!.on("data", (d) => (out += d));
    proc.on("exit", (code) => reject(new Error(`holder exited ${code}: ${out}`)));
  });
}

beforeAll(async () => {
  server = await startServer({ vars: { EDGEKEEPER_SESSION_TIMEOUT_MIN_MS: "500" } });
  bundlePath = clientBundle(); // the shipped bundle: the holder processes run on it
});

afterEach(async () => {
  for (const p of children.splice(0)) if (p.exitCode === null) p.kill("SIGKILL");
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
});

afterAll(async () => {
  await server?.stop();
});

describe("Mutex over real sockets", () => {
  it("N contenders never overlap, and fencing tokens strictly increase", async () => {
    const ns = "mutex-contention";
    const zks = await Promise.all(Array.from({ length: 6 }, () => client(ns)));
    const grants: Array<{ who: number; token: number; start: number; end: number }> = [];
    await Promise.all(
      zks.map(async (zk, who) => {
        const mutex = new Mutex(zk, "/locks/shared");
        for (let i = 0; i < 5; i++) {
          const lease = (await mutex.acquire())!;
          const start = performance.now();
          await new Promise((r) => setTimeout(r, 2 + Math.random() * 8));
          const end = performance.now();
          grants.push({ who, token: lease.token, start, end });
          await lease.release();
        }
      }),
    );
    expect(grants).toHaveLength(30);
    grants.sort((a, b) => a.start - b.start);
    for (let i = 1; i < grants.length; i++) {
      expect(grants[i].start).toBeGreaterThanOrEqual(grants[i - 1].end);
      expect(grants[i].token).toBeGreaterThan(grants[i - 1].token);
    }
  });

  it("a holder whose connection drops and resumes keeps the lock", async () => {
    const ns = "mutex-resume";
    const a = await client(ns);
    const b = await client(ns);
    const lease = (await new Mutex(a, "/locks/l").acquire())!;
    let bGot = false;
    const waiting = new Mutex(b, "/locks/l").acquire().then((l) => ((bGot = true), l));
    a.dropConnection();
    await a.waitConnected();
    await new Promise((r) => setTimeout(r, 300));
    expect(bGot).toBe(false);
    expect(lease.state).toBe("held");
    await lease.release();
    const next = (await waiting)!;
    expect(next.token).toBeGreaterThan(lease.token);
  });

  it("a frozen holder keeps the lock until its session times out, then the next waiter gets it", async () => {
    const ns = "mutex-frozen";
    const { proc, token } = await holder(ns, "mutex", "/locks/f");
    const b = await client(ns);
    const waiting = new Mutex(b, "/locks/f").acquire();
    proc.kill("SIGSTOP");
    const frozenAt = Date.now();
    const next = (await waiting)!;
    const waited = Date.now() - frozenAt;
    // The holder last pinged at most timeout/3 before freezing: the server expires it between
    // 2/3 of a timeout and a timeout (plus alarm latency) after that.
    expect(waited).toBeGreaterThanOrEqual((SESSION_MS * 2) / 3 - 100);
    expect(next.token).toBeGreaterThan(token);
    proc.kill("SIGKILL");
  });
});

describe("leader election over real sockets", () => {
  it("survives the leader's process being killed: the next candidate leads", async () => {
    const ns = "election";
    const leader = await holder(ns, "leader", "/election/svc");
    const b = await client(ns);
    const latch = new LeaderLatch(b, "/election/svc", { id: "b" });
    await latch.start();
    expect(latch.hasLeadership()).toBe(false);
    expect((await latch.getLeader())?.id).toBe(`pid-${leader.proc.pid}`);
    leader.proc.kill("SIGKILL");
    expect(await latch.awaitLeadership({ timeout: 10_000 })).toBe(true);
    expect(latch.token).toBeGreaterThan(leader.token);
    await latch.close();
  });
});

describe("TreeCache over real sockets", () => {
  it("mirrors a subtree exactly after random concurrent writes and forced reconnects", async () => {
    const ns = "treecache";
    const watcher = await client(ns);
    const writers = await Promise.all([client(ns), client(ns), client(ns)]);
    await writers[0].create("/tree");
    const cache = new TreeCache(watcher, "/tree");
    await cache.start();
    const names = ["a", "b", "c", "d"];
    const randomPath = () => {
      const depth = 1 + Math.floor(Math.random() * 3);
      return "/tree/" + Array.from({ length: depth }, () => names[Math.floor(Math.random() * names.length)]).join("/");
    };
    await Promise.all(
      writers.map(async (zk, w) => {
        for (let i = 0; i < 60; i++) {
          const path = randomPath();
          const r = Math.random();
          try {
            if (r < 0.45) await zk.create(path, `w${w}-${i}`);
            else if (r < 0.8) await zk.setData(path, `w${w}-${i}`);
            else await zk.delete(path);
          } catch {
            // NONODE / NODEEXISTS / NOTEMPTY are part of the randomness.
          }
          if (w === 0 && i % 15 === 7) watcher.dropConnection();
        }
      }),
    );
    await watcher.waitConnected();
    await watcher.sync("/tree");
    // Let the cache finish fetching data for the last events.
    await new Promise((r) => setTimeout(r, 500));

    const truth = new Map<string, { data: string; version: number }>();
    const walk = async (path: string) => {
      const { data, stat } = await writers[0].getString(path);
      truth.set(path, { data, version: stat.version });
      for (const child of await writers[0].getChildren(path)) await walk(`${path}/${child}`);
    };
    await walk("/tree");
    const mirror = new Map<string, { data: string; version: number }>();
    for (const [path, node] of cache.getCurrentTree()) mirror.set(path, { data: new TextDecoder().decode(node.data), version: node.stat.version });
    expect(mirror).toEqual(truth);
    await cache.close();
  });
});
