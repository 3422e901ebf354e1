import { runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { LeaderLatch, LeaderSelector, type EdgeKeeper } from "../../src/client/index.js";
import { freshNamespace, sleep, stubFor } from "../helpers/raw-client.js";
import { until, useClients, type Net } from "../helpers/net.js";

const open = useClients();
const latches: LeaderLatch[] = [];
afterEach(async () => {
  await Promise.all(latches.splice(0).map((l) => l.close().catch(() => {})));
});

const ELECTION = "/election/svc";
const leaders = (ls: LeaderLatch[]) => ls.filter((l) => l.hasLeadership());

describe("LeaderLatch", () => {
  it("elects exactly one leader; when it closes, the next candidate takes over", { timeout: 15_000 }, async () => {
    const ns = freshNamespace("ld");
    const cs = await Promise.all(Array.from({ length: 5 }, () => open(ns)));
    const ls: LeaderLatch[] = [];
    for (const [i, c] of cs.entries()) {
      const l = new LeaderLatch(c.zk, ELECTION, { id: `node-${i}` });
      latches.push(l);
      ls.push(l);
      await l.start(); // in order, so candidate i is i-th in line
    }
    expect(await ls[0].awaitLeadership({ timeout: 2000 })).toBe(true);
    await sleep(50);
    expect(leaders(ls)).toEqual([ls[0]]);
    expect(await ls[3].getLeader()).toMatchObject({ id: "node-0" });
    expect(await ls[3].awaitLeadership({ timeout: 50 })).toBe(false);
    const firstToken = ls[0].token!;

    const notLeader: string[] = [];
    ls[0].onNotLeader(() => notLeader.push("0"));
    const elected = new Promise<number>((r) => ls[1].onLeadership(r));
    for (const c of cs) c.net.events.length = 0;
    await ls[0].close();
    const token = await elected;
    // Herd-free: of the other candidates only the next one was woken.
    for (const c of cs) await c.zk.sync();
    expect(cs[1].net.events.map((e) => e.event)).toEqual(["NodeDeleted"]);
    for (const c of cs.slice(2)) expect(c.net.events).toEqual([]);
    expect(token).toBeGreaterThan(firstToken);
    expect(notLeader).toEqual(["0"]);
    await sleep(50);
    expect(leaders(ls)).toEqual([ls[1]]);

    // A non-leader leaving changes nothing for the leader; the order holds.
    await ls[3].close();
    await ls[1].close();
    expect(await ls[2].awaitLeadership({ timeout: 2000 })).toBe(true);
    await sleep(50);
    expect(leaders(ls)).toEqual([ls[2]]);
    await expect(ls[1].awaitLeadership()).rejects.toThrow();
  });

  it("the leader is reported not-leader on suspension, and leader again once resumed", { timeout: 15_000 }, async () => {
    const ns = freshNamespace("ld");
    const [a, b] = await Promise.all([open(ns, { sessionTimeout: 3000 }), open(ns)]);
    const la = new LeaderLatch(a.zk, ELECTION);
    const lb = new LeaderLatch(b.zk, ELECTION);
    latches.push(la, lb);
    await la.start();
    await lb.start();
    expect(await la.awaitLeadership({ timeout: 2000 })).toBe(true);
    const token = la.token;
    const events: string[] = [];
    la.onNotLeader(() => events.push("not"));
    la.onLeadership((t) => events.push(`leader ${t === token}`));
    a.net.cut();
    expect(la.hasLeadership()).toBe(false); // at once, before anyone else could know
    await until(() => la.hasLeadership(), 3000, "leadership back");
    expect(events).toEqual(["not", "leader true"]);
    expect(lb.hasLeadership()).toBe(false);
  });

  it("when the leader's session expires, the next candidate takes over with a higher token", { timeout: 15_000 }, async () => {
    const ns = freshNamespace("ld");
    const [a, b] = await Promise.all([open(ns, { sessionTimeout: 300 }), open(ns)]);
    const la = new LeaderLatch(a.zk, ELECTION);
    const lb = new LeaderLatch(b.zk, ELECTION);
    latches.push(la, lb);
    await la.start();
    await lb.start();
    expect(await la.awaitLeadership({ timeout: 2000 })).toBe(true);
    const oldToken = la.token!;

    a.net.partition();
    await sleep(450);
    await runDurableObjectAlarm(stubFor(ns));
    expect(await lb.awaitLeadership({ timeout: 3000 })).toBe(true);
    expect(lb.token!).toBeGreaterThan(oldToken);
    expect(la.hasLeadership()).toBe(false);

    a.net.unblock();
    await until(() => a.zk.state === "expired", 3000, "expired");
    await expect(la.awaitLeadership()).rejects.toThrow(); // the latch closed with its session
  });
});

describe("LeaderSelector", () => {
  it("runs takeLeadership on one candidate at a time, re-queueing with autoRequeue", { timeout: 30_000 }, async () => {
    const ns = freshNamespace("sel");
    const cs = await Promise.all(Array.from({ length: 4 }, () => open(ns)));
    let inside = 0;
    const runs: Array<{ who: number; token: number }> = [];
    const selectors = cs.map(
      ({ zk }, who) =>
        new LeaderSelector(zk, ELECTION, {
          autoRequeue: true,
          takeLeadership: async (signal, lease) => {
            inside++;
            expect(inside).toBe(1);
            expect(signal.aborted).toBe(false);
            runs.push({ who, token: lease.token });
            await sleep(5 + Math.random() * 10);
            inside--;
          },
        }),
    );
    for (const s of selectors) s.start();
    await until(() => runs.length >= 12, 10_000, "12 leaderships");
    await Promise.all(selectors.map((s) => s.close()));
    for (let i = 1; i < runs.length; i++) expect(runs[i].token).toBeGreaterThan(runs[i - 1].token);
    expect(new Set(runs.map((r) => r.who)).size).toBe(4);
    expect(await cs[0].zk.getChildren(ELECTION)).toEqual([]);
  });

  it("without autoRequeue, leads once per start/requeue", { timeout: 15_000 }, async () => {
    const ns = freshNamespace("sel");
    const { zk } = await open(ns);
    let n = 0;
    const s = new LeaderSelector(zk, ELECTION, { takeLeadership: async () => void n++ });
    s.start();
    await until(() => n === 1);
    await sleep(100);
    expect(n).toBe(1);
    expect(s.requeue()).toBe(true);
    await until(() => n === 2);
    await s.close();
  });

  it("aborts takeLeadership when the connection is suspended; another candidate then leads", { timeout: 15_000 }, async () => {
    const ns = freshNamespace("sel");
    const [a, b] = await Promise.all([open(ns, { sessionTimeout: 5000 }), open(ns)]);
    const log: string[] = [];
    let aborted: unknown;
    const sa = new LeaderSelector(a.zk, ELECTION, {
      takeLeadership: async (signal) => {
        log.push("a leads");
        await new Promise<void>((r) => signal.addEventListener("abort", () => r()));
        aborted = signal.reason;
        log.push("a stops");
      },
    });
    const sb = new LeaderSelector(b.zk, ELECTION, {
      takeLeadership: async (signal) => {
        log.push("b leads");
        await new Promise<void>((r) => signal.addEventListener("abort", () => r()));
      },
    });
    sa.start();
    await until(() => sa.hasLeadership());
    sb.start();
    await until(async () => (await b.zk.getChildren(ELECTION)).length === 2);

    a.net.cut();
    await until(() => log.includes("a stops"), 1000, "a aborted");
    expect(aborted).toBeInstanceOf(Error);
    // Once a is back it deletes its candidate node, so b leads.
    await until(() => sb.hasLeadership(), 5000, "b leads");
    expect(log).toEqual(["a leads", "a stops", "b leads"]);
    expect(sa.hasLeadership()).toBe(false);
    await sb.close();
    await sa.close();
    expect(await b.zk.getChildren(ELECTION)).toEqual([]);
  });

  it("aborts takeLeadership when the session expires; the next candidate takes over", { timeout: 15_000 }, async () => {
    const ns = freshNamespace("sel");
    const [a, b] = await Promise.all([open(ns, { sessionTimeout: 300 }), open(ns)]);
    const tokens: number[] = [];
    let aStopped = false;
    const sa = new LeaderSelector(a.zk, ELECTION, {
      takeLeadership: async (signal, lease) => {
        tokens.push(lease.token);
        await new Promise<void>((r) => signal.addEventListener("abort", () => r()));
        aStopped = true;
      },
    });
    const sb = new LeaderSelector(b.zk, ELECTION, {
      takeLeadership: async (signal, lease) => {
        tokens.push(lease.token);
        await new Promise<void>((r) => signal.addEventListener("abort", () => r()));
      },
    });
    sa.start();
    await until(() => sa.hasLeadership());
    sb.start();
    await until(async () => (await b.zk.getChildren(ELECTION)).length === 2);
    a.net.partition();
    await until(() => aStopped, 1000, "a aborted on suspension");
    await sleep(450);
    await runDurableObjectAlarm(stubFor(ns));
    await until(() => sb.hasLeadership(), 3000, "b leads");
    expect(tokens).toHaveLength(2);
    expect(tokens[1]).toBeGreaterThan(tokens[0]);
    await sb.close();
    a.net.unblock();
    await sa.close();
  });
});
