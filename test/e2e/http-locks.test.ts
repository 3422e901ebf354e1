import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type LocalServer } from "./server.js";

/**
 * The HTTP lock API on the real local server (wrangler dev), driven by plain fetch from Node:
 * 20 concurrent callers contend for one lock. By the callers' own records no two hold it at
 * once, fencing tokens strictly increase from grant to grant, every caller gets the lock, and
 * callers that die while holding it (they stop sending keepalives and never release) lose it
 * when their lease expires, after which the next waiter is granted.
 */

const TTL = 1500;
let server: LocalServer;

beforeAll(async () => {
  server = await startServer({ vars: { EDGEKEEPER_SESSION_TIMEOUT_MIN_MS: "500" } });
});

afterAll(async () => {
  await server?.stop();
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function post(ns: string, path: string, body: unknown, lease?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/v1/namespaces/${ns}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(lease ? { "Edgekeeper-Lease": lease } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

interface Hold {
  caller: number;
  token: number;
  enter: number;
  exit: number;
  killed: boolean;
  leaseId: string;
  lease: string;
}

describe("HTTP locks end to end", () => {
  it("20 concurrent callers: no overlap, increasing tokens, everyone acquires; dead holders' leases expire and release", { timeout: 120_000 }, async () => {
    const ns = `e2e-http-locks-${Date.now().toString(36)}`;
    const LOCK = "/locks/batch-job";
    const KILLED = new Set([3, 9, 15]);
    const LONG = new Set([5, 12]); // hold past the TTL, kept alive by refresh
    const holds: Hold[] = [];
    let retries = 0;

    const caller = async (i: number) => {
      // Arrive in a scattered order.
      await sleep(Math.random() * 50);
      for (;;) {
        const r = await post(ns, "/locks/acquire", { path: LOCK, ttl: TTL, wait: 60_000, owner: `caller-${i}` });
        if (r.status === 423) {
          retries++;
          continue;
        }
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        const enter = performance.now();
        const hold: Hold = { caller: i, token: r.body.token, enter, exit: Infinity, killed: false, leaseId: r.body.leaseId, lease: r.body.lease };
        if (KILLED.has(i)) {
          // Dies mid-hold: no keepalive, no release, ever. Its hold ends when it dies.
          await sleep(50);
          hold.exit = performance.now();
          hold.killed = true;
          holds.push(hold);
          return;
        }
        if (LONG.has(i)) {
          const until = performance.now() + TTL * 1.6;
          while (performance.now() < until) {
            await sleep(TTL / 4);
            const k = await post(ns, "/locks/refresh", { path: LOCK, token: hold.token }, hold.lease);
            expect(k.status, JSON.stringify(k.body)).toBe(200);
          }
        } else {
          await sleep(10 + Math.random() * 40);
        }
        hold.exit = performance.now();
        holds.push(hold);
        const rel = await post(ns, "/locks/release", { path: LOCK, token: hold.token }, hold.lease);
        expect(rel.status, JSON.stringify(rel.body)).toBe(200);
        return;
      }
    };

    const t0 = performance.now();
    await Promise.all(Array.from({ length: 20 }, (_, i) => caller(i)));
    const elapsed = performance.now() - t0;

    // Everyone acquired.
    expect(new Set(holds.map((h) => h.caller)).size).toBe(20);
    expect(retries).toBe(0);

    // No two holders overlap, and tokens strictly increase from grant to grant.
    holds.sort((a, b) => a.enter - b.enter);
    for (let i = 1; i < holds.length; i++) {
      expect(holds[i].enter, `caller ${holds[i].caller} entered before caller ${holds[i - 1].caller} left`).toBeGreaterThanOrEqual(holds[i - 1].exit);
      expect(holds[i].token).toBeGreaterThan(holds[i - 1].token);
    }

    // A dead holder's lock went only with its lease: the next grant came a TTL after its grant.
    for (let i = 0; i < holds.length - 1; i++) {
      if (!holds[i].killed) continue;
      expect(holds[i + 1].enter - holds[i].enter).toBeGreaterThanOrEqual(TTL - 100);
    }
    expect(elapsed).toBeGreaterThanOrEqual(KILLED.size * TTL);

    // The dead holders' leases are gone (the last grant may have been a dead one: give its lease
    // its TTL); nothing is left under the lock.
    const children = async () => (await (await fetch(`${server.url}/v1/namespaces/${ns}/nodes${LOCK}?children`)).json()).children as string[];
    const deadline = Date.now() + TTL * 4;
    while ((await children()).length > 0 && Date.now() < deadline) await sleep(100);
    for (const h of holds.filter((x) => x.killed)) {
      const r = await fetch(`${server.url}/v1/namespaces/${ns}/leases/${h.leaseId}`, { headers: { "Edgekeeper-Lease": h.lease } });
      expect(r.status).toBe(410);
      expect((await r.json()).code).toBe("SESSIONEXPIRED");
    }
    expect(await children()).toEqual([]);
  });

  it("a waiter that gives up is withdrawn at once; the SSE watch sees the lock's queue move", { timeout: 60_000 }, async () => {
    const ns = `e2e-http-watch-${Date.now().toString(36)}`;
    const LOCK = "/locks/one";
    const holder = await post(ns, "/locks/acquire", { path: LOCK, ttl: 5000 });
    expect(holder.status).toBe(200);

    const ac = new AbortController();
    const res = await fetch(`${server.url}/v1/namespaces/${ns}/watch?path=${LOCK}&fromZxid=${holder.body.zxid}`, { signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    let text = "";
    const readUntil = async (pred: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`SSE: ${text}`);
        const { value, done } = await reader.read();
        if (done) throw new Error(`SSE ended: ${text}`);
        text += new TextDecoder().decode(value);
      }
    };
    await readUntil(() => text.includes("event: ready"));

    const t0 = Date.now();
    const gaveUp = await post(ns, "/locks/acquire", { path: LOCK, wait: 300 });
    expect(gaveUp.status).toBe(423);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    // Its node came and went: two NodeChildrenChanged events on the lock, nothing left behind.
    await readUntil(() => (text.match(/NodeChildrenChanged/g) ?? []).length >= 2);
    const left = await fetch(`${server.url}/v1/namespaces/${ns}/nodes${LOCK}?children`);
    expect((await left.json()).children).toEqual([holder.body.node.split("/").pop()]);
    ac.abort();
    await reader.cancel().catch(() => {});
  });
});
