import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EdgeKeeper, SocketFactory, State } from "../../src/client/index.js";
import { checkRegisters, type Outcome, type RegisterInput, type RegisterOp, type RegisterOutput, type RegisterState } from "../helpers/linearizability.js";
import { clientBundle } from "./client-bundle.js";
import { startServer, type LocalServer } from "./server.js";

/**
 * Fault test: several clients (the shipped client bundle) read and write a handful of znodes
 * while the local server process is killed with SIGKILL and restarted, several times. Every
 * operation is recorded with its invocation and completion times and its outcome; a request
 * that was in flight when the server died has an unknown outcome (CONNECTIONLOSS) and is
 * recorded as indeterminate (creates are the exception: the client re-sends them after the
 * reconnect with their request id, so they are answered late instead). Afterwards:
 *
 * (a) every acknowledged write is there: the final reads take part in the linearizability
 *     check, and each acknowledged create is found with its data;
 * (b) nothing is applied twice: a value is never seen with two versions, and the sequential
 *     creates (streamed by every client until each kill, so that some are applied but not
 *     answered and then re-sent with the same request id) leave each payload at most once;
 * (c) sessions resume or expire by their timeout: every session alive at a kill either comes
 *     back with the same id and its ephemeral node, or is reported expired — and then its
 *     ephemeral node is gone and the server had not heard from it for its timeout. A probe
 *     session that cannot reach the server for longer than its timeout after each restart
 *     (a client-side partition) must be expired;
 * (d) the recorded history is linearizable (test/helpers/linearizability.ts, per key).
 *
 * Nothing here asserts how fast anything happens: waits have generous deadlines, and the one
 * timing assertion is a lower bound the server must respect (no session ends before its
 * timeout has run out).
 */

type ClientModule = typeof import("../../src/client/index.js");

const ROUNDS = 3; // SIGKILL + restart cycles
const SLOTS = 5; // concurrent workload clients
const KEYS = ["/reg/k0", "/reg/k1", "/reg/k2", "/reg/k3"];
/** Workload sessions outlive any restart: they should resume. One is shorter, to vary things. */
const SLOT_TIMEOUTS = [20_000, 20_000, 20_000, 20_000, 5_000];
/** The partitioned probe's timeout: it must run out while the probe cannot reach the server. */
const PROBE_TIMEOUT = 1_500;
/** Clock slack between this process (Date.now) and the server's (workerd's Date.now, coarse). */
const SLACK_MS = 250;
const SETTLE_MS = 60_000;
const MIN_TIMEOUT = 500;

const CONNECTIONLOSS = -4;
const OPERATIONTIMEOUT = -7;
const NONODE = -101;
const BADVERSION = -103;
const NODEEXISTS = -110;
const SESSIONEXPIRED = -112;
const SESSIONMOVED = -118;

let ek: ClientModule;
let server: LocalServer;
const ns = `fault-${Date.now().toString(36)}`;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const decode = (b: Uint8Array) => new TextDecoder().decode(b);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)];

/** One client (one session) and what we know about it. */
interface Tracked {
  name: string;
  zk: EdgeKeeper;
  timeout: number;
  /** The session id it got when it first connected. */
  sessionId: string;
  /** Every state change, with wall-clock time and the session id the client then had. */
  transitions: Array<{ state: State; at: number; sessionId: string | undefined }>;
  /**
   * A lower bound (wall clock) of the last time the server heard from this session: the
   * invocation time of the last request it answered, or the time of a kill it was connected
   * at (after a restart the server gives the sessions that had a socket a fresh timeout).
   */
  evidence: number;
  /** Its ephemeral node, once acknowledged. */
  ephemeral?: string;
  /** While true, the client cannot open sockets (a client-side network partition). */
  partition: { on: boolean };
  /** The server's handshake answers (`connected` messages), seen on the wire. */
  hellos: Hello[];
}

interface Hello {
  at: number;
  sessionId: string;
  resumed: boolean;
  /** The namespace's last committed zxid when the server answered. */
  zxid: number;
}

const tracked: Tracked[] = [];
const history: RegisterOp[] = [];
/** Unique-name creates (/uniq/...): their keys join the history, starting absent. */
const uniqueKeys = new Set<string>();
/** Sequential creates under /seq, each with a unique payload. */
const seqCreates: Array<{ token: string; by: string; invoke: number; outcome: "ok" | "indeterminate"; path?: string; czxid?: number; completed?: number }> = [];
const unexpected: string[] = [];
const kills: Array<{ at: number; wallAt: number; restartedAt: number }> = [];
const stats = { ops: 0, indeterminate: 0, expiredSlots: 0 };

/**
 * The global WebSocket, except that it fails while the client is "partitioned"; it also
 * notes the server's handshake answers, which the client does not expose.
 */
const instrumented =
  (partition: { on: boolean }, hellos: Hello[]): SocketFactory =>
  (url) => {
    if (partition.on) throw new Error("partitioned");
    const ws = new WebSocket(url);
    ws.addEventListener("message", (ev) => {
      if (typeof ev.data !== "string" || !ev.data.includes('"connected"')) return;
      for (const m of [JSON.parse(ev.data)].flat())
        if (m?.type === "connected") hellos.push({ at: Date.now(), sessionId: m.sessionId, resumed: m.resumed, zxid: m.zxid });
    });
    return ws;
  };

async function newClient(name: string, timeout: number): Promise<Tracked> {
  const partition = { on: false };
  const hellos: Hello[] = [];
  const transitions: Tracked["transitions"] = [];
  const zk = new ek.EdgeKeeper(server.url, {
    namespace: ns,
    sessionTimeout: timeout,
    requestTimeout: 30_000,
    connectTimeout: SETTLE_MS,
    backoff: { baseMs: 50, maxMs: 500 },
    WebSocket: instrumented(partition, hellos),
  });
  zk.onState((state) => transitions.push({ state, at: Date.now(), sessionId: zk.sessionId }));
  const started = Date.now();
  await zk.ready;
  if (stopping) {
    await zk.close();
    throw new Error("stopping");
  }
  const t: Tracked = { name, zk, timeout: zk.sessionTimeout, sessionId: zk.sessionId!, transitions, evidence: started, partition, hellos };
  tracked.push(t);
  try {
    const eph = `/eph/${name}-${t.sessionId}`;
    await zk.create(eph, name, { mode: "ephemeral" });
    t.ephemeral = eph;
  } catch (e) {
    if (classify(e) !== "indeterminate") throw e;
  }
  return t;
}

/** How an error counts in the history. */
function classify(e: unknown): "fail" | "indeterminate" | "unexpected" {
  const code = (e as { code?: unknown })?.code;
  if (code === CONNECTIONLOSS || code === OPERATIONTIMEOUT || code === SESSIONEXPIRED || code === SESSIONMOVED) return "indeterminate";
  if (code === BADVERSION || code === NONODE || code === NODEEXISTS) return "fail";
  return "unexpected";
}

/**
 * Runs one operation and records it. A read that gets no answer is left out (it changed
 * nothing); a write that gets no answer is indeterminate.
 */
async function record<T>(c: Tracked, key: string, input: RegisterInput, call: () => Promise<T>, output: (r: T) => RegisterOutput): Promise<T | undefined> {
  const wall = Date.now();
  const invoke = performance.now();
  let outcome: Outcome<RegisterOutput>;
  let result: T | undefined;
  try {
    result = await call();
    outcome = { type: "ok", at: performance.now(), output: output(result) };
    c.evidence = Math.max(c.evidence, wall);
  } catch (e) {
    const at = performance.now();
    const kind = classify(e);
    if (input.f === "read" && kind === "fail" && (e as { code: number }).code === NONODE) {
      outcome = { type: "ok", at, output: { value: null } };
      c.evidence = Math.max(c.evidence, wall);
    } else if (kind === "fail") {
      outcome = { type: "fail", at };
      c.evidence = Math.max(c.evidence, wall);
    } else if (kind === "indeterminate") {
      stats.indeterminate++;
      if (input.f === "read") return undefined;
      outcome = { type: "indeterminate" };
    } else {
      unexpected.push(`${c.name} ${input.f} ${key}: ${String(e)}`);
      return undefined;
    }
  }
  stats.ops++;
  history.push({ key, process: c.name, input, invoke, outcome });
  return result;
}

let seqCounter = 0;
/** A persistent_sequential create under /seq with a unique payload. */
async function seqCreate(c: Tracked): Promise<void> {
  const token = `${c.name}-seq-${seqCounter++}`;
  const entry: (typeof seqCreates)[number] = { token, by: c.name, invoke: performance.now(), outcome: "indeterminate" };
  seqCreates.push(entry);
  const wall = Date.now();
  try {
    const r = await c.zk.create2("/seq/item-", token, { mode: "persistent_sequential" });
    entry.path = r.path;
    entry.czxid = r.stat.czxid;
    entry.outcome = "ok";
    entry.completed = performance.now();
    c.evidence = Math.max(c.evidence, wall);
  } catch (e) {
    if (classify(e) === "indeterminate") stats.indeterminate++;
    else unexpected.push(`${c.name} sequential create: ${String(e)}`);
  }
}

let stopping = false;
/** Errors that ended a workload client's loop (checked after each round and at the end). */
const workerErrors: unknown[] = [];
let valueCounter = 0;
/** The live workload client of each slot (replaced when its session expires). */
const slots: Tracked[] = [];

/** One workload client: random reads, writes, CASes and creates until told to stop. */
async function slot(i: number): Promise<void> {
  let c = await newClient(`s${i}`, SLOT_TIMEOUTS[i]);
  slots[i] = c;
  let created = 0;
  while (!stopping) {
    const st = c.zk.state;
    if (st === "expired" || st === "closed" || st === "authFailed") {
      stats.expiredSlots++;
      c = await newClient(`s${i}.${stats.expiredSlots}`, SLOT_TIMEOUTS[i]);
      slots[i] = c;
      continue;
    }
    const key = pick(KEYS);
    const r = Math.random();
    const value = `${c.name}:${valueCounter++}`;
    if (r < 0.35) {
      await record(c, key, { f: "write", value }, () => c.zk.setData(key, value), (s) => ({ version: s.version }));
    } else if (r < 0.5) {
      // Read, then a conditional write on the version read.
      const got = await record(c, key, { f: "read" }, () => c.zk.getData(key), (d) => ({ value: decode(d.data), version: d.stat.version }));
      if (got) {
        const v = got.stat.version;
        await record(c, key, { f: "cas", expectedVersion: v, value }, () => c.zk.setData(key, value, { version: v }), (s) => ({ version: s.version }));
      }
    } else if (r < 0.85) {
      await record(c, key, { f: "read" }, () => c.zk.getData(key), (d) => ({ value: decode(d.data), version: d.stat.version }));
    } else if (r < 0.93) {
      const path = `/uniq/${c.name}-${created++}`;
      uniqueKeys.add(path);
      await record(c, path, { f: "create", value }, () => c.zk.create(path, value), () => ({ version: 0 }));
    } else {
      await seqCreate(c);
    }
    await sleep(Math.random() * 4);
  }
}

/**
 * Waits until a client that was alive at a kill (time `killedAt`) has come back: connected
 * again after losing its socket, or expired. Returns that transition.
 */
async function settle(c: Tracked, killedAt: number, connectedAtKill: boolean, deadlineMs: number): Promise<{ state: State; at: number; sessionId: string | undefined }> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const after = c.transitions.filter((t) => t.at >= killedAt);
    // It must have noticed the loss first, unless it had no socket at the kill anyway.
    const lost = connectedAtKill ? after.findIndex((t) => t.state !== "connected") : -1;
    if (!connectedAtKill || lost >= 0) {
      const back = after.slice(lost + 1).find((t) => t.state !== "suspended" && t.state !== "connecting");
      if (back) return back;
    }
    if (Date.now() > deadline)
      throw new Error(`${c.name} (session ${c.sessionId}) did not come back within ${deadlineMs} ms of the kill; transitions: ${JSON.stringify(c.transitions)}`);
    await sleep(50);
  }
}

/** Polls until `check` returns true (a generous deadline, not a timing assertion). */
async function eventually(what: string, check: () => Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not so within ${deadlineMs} ms`);
    await sleep(100);
  }
}

/** A short-lived client for checks, closed after use. */
async function withChecker<T>(fn: (zk: EdgeKeeper) => Promise<T>): Promise<T> {
  const zk = await ek.connect(server.url, { namespace: ns, sessionTimeout: 20_000, connectTimeout: SETTLE_MS, requestTimeout: 30_000 });
  try {
    return await fn(zk);
  } finally {
    await zk.close().catch(() => {});
  }
}

/** A session that expired must have been silent for its timeout (never ended early). */
function expectExpiredByTimeout(c: Tracked, expiredAt: number): void {
  const silent = expiredAt - c.evidence;
  expect(
    silent,
    `${c.name} (session ${c.sessionId}, timeout ${c.timeout} ms) was reported expired only ${silent} ms after the server last heard from it`,
  ).toBeGreaterThanOrEqual(c.timeout - SLACK_MS);
}

beforeAll(async () => {
  ek = (await import(/* @vite-ignore */ pathToFileURL(clientBundle()).href)) as ClientModule;
  server = await startServer({ vars: { EDGEKEEPER_SESSION_TIMEOUT_MIN_MS: String(MIN_TIMEOUT) } });
});

afterAll(async () => {
  stopping = true;
  // close() waits at most 5 s for the server's answer; a client that cannot reach it just ends.
  await Promise.all(tracked.map((c) => c.zk.close().catch(() => {})));
  await server?.stop();
});

describe("SIGKILL and restart under load", () => {
  it(
    `keeps every acknowledged write, applies nothing twice, resumes or expires sessions by their timeout, and stays linearizable (${ROUNDS} kills)`,
    async () => {
      const began = Date.now();
      try {
        await withChecker(async (zk) => {
          for (const p of ["/reg", "/uniq", "/seq", "/eph"]) await zk.create(p);
          for (const k of KEYS) await zk.create(k, "init");
        });
        const initial = (key: string): RegisterState => (key.startsWith("/reg/") ? { value: "init", version: 0 } : { value: null, version: -1 });

        const workers = Array.from({ length: SLOTS }, (_, i) =>
          slot(i).catch((e) => {
            if (!stopping) workerErrors.push(e);
          }),
        );
        const bursts: Promise<void>[] = [];
        await eventually("every workload client started", async () => slots.filter(Boolean).length === SLOTS);

        for (let round = 1; round <= ROUNDS; round++) {
          await sleep(1_000 + Math.random() * 1_000);
          const probe = await newClient(`probe${round}`, PROBE_TIMEOUT);
          expect(probe.ephemeral).toBeDefined();

          // A stream of sequential creates (a few in flight per client) until the kill, so
          // that it catches some applied and not yet answered; the client re-sends those after
          // the restart with the same request id, and they must not be created twice.
          let storming = true;
          const storms = slots.map(async (c) => {
            const inFlight = new Set<Promise<void>>();
            while (storming) {
              if (inFlight.size < 4) {
                const p: Promise<void> = seqCreate(c).finally(() => inFlight.delete(p));
                inFlight.add(p);
                bursts.push(p);
              }
              await sleep(1);
            }
          });
          await sleep(300);

          // Who is alive at the kill, and whether it has a socket.
          const alive = tracked.filter((c) => c.zk.state === "connected" || c.zk.state === "suspended");
          const connectedAtKill = new Map(alive.map((c) => [c, c.zk.state === "connected"]));
          probe.partition.on = true;
          const killedAt = Date.now();
          const killedPerf = performance.now();
          const restarting = server.restart({ signal: "SIGKILL" }); // the SIGKILL is sent before this returns
          storming = false;
          await Promise.all([restarting, ...storms]);
          kills.push({ at: killedPerf, wallAt: killedAt, restartedAt: Date.now() });
          for (const c of alive) if (connectedAtKill.get(c)) c.evidence = Math.max(c.evidence, killedAt);

          // Every session alive at the kill resumes (same id) or is reported expired.
          const others = alive.filter((c) => c !== probe);
          const back = await Promise.all(others.map((c) => settle(c, killedAt, connectedAtKill.get(c)!, SETTLE_MS)));
          for (const [i, c] of others.entries()) {
            const b = back[i];
            if (b.state === "connected") {
              expect(b.sessionId, `${c.name} came back with another session`).toBe(c.sessionId);
              const hello = c.hellos.findLast((h) => h.at <= b.at);
              expect(hello, `${c.name}'s handshake answer`).toMatchObject({ sessionId: c.sessionId, resumed: true });
              if (c.ephemeral) {
                const stat = await c.zk.exists(c.ephemeral).catch((e) => (classify(e) === "indeterminate" ? undefined : Promise.reject(e)));
                // undefined: it lost its connection again meanwhile (not expected, but not a failure of this check).
                if (stat !== undefined) expect(stat?.ephemeralOwner, `${c.name}'s ephemeral after resuming`).toBe(c.sessionId);
              }
            } else {
              expect(b.state, `${c.name} after the restart`).toBe("expired");
              expectExpiredByTimeout(c, b.at);
            }
          }

          // The probe could not reach the server from the kill until well past its timeout
          // after the restarted server first answered anybody: it must be expired.
          const firstAnswer = Math.min(Date.now(), ...back.map((b) => b.at));
          await sleep(Math.max(0, firstAnswer + probe.timeout + 2_000 - Date.now()));
          probe.partition.on = false;
          const p = await settle(probe, killedAt, connectedAtKill.get(probe) ?? false, SETTLE_MS);
          expect(p.state, "the partitioned probe after its timeout").toBe("expired");
          expectExpiredByTimeout(probe, p.at);
          expect(workerErrors, "workload clients failed").toEqual([]);
        }

        // A little more load after the last restart, then stop and let everything finish.
        await sleep(1_000);
        stopping = true;
        await Promise.all(workers);
        await Promise.all(bursts);
        expect(workerErrors, "workload clients failed").toEqual([]);

        // --- final state -------------------------------------------------------------------
        const final = await withChecker(async (zk) => {
          const readFinal = async (key: string) => {
            const invoke = performance.now();
            const out = await zk.getData(key).then(
              (d) => ({ value: decode(d.data), version: d.stat.version }) as RegisterOutput,
              (e) => {
                if ((e as { code?: number }).code === NONODE) return { value: null } as RegisterOutput;
                throw e;
              },
            );
            history.push({ key, process: "final", input: { f: "read" }, invoke, outcome: { type: "ok", at: performance.now(), output: out } });
            return out;
          };
          for (const k of KEYS) await readFinal(k);
          for (const k of uniqueKeys) await readFinal(k);
          const uniq = await zk.getChildren("/uniq");
          const seqNames = await zk.getChildren("/seq");
          const seq = await Promise.all(seqNames.map(async (n) => ({ path: `/seq/${n}`, token: decode((await zk.getData(`/seq/${n}`)).data) })));
          // Sessions: the live ones still own their ephemerals; the expired ones' are gone.
          for (const c of tracked) {
            if (!c.ephemeral) continue;
            if (c.zk.state === "connected") {
              const stat = await zk.exists(c.ephemeral);
              expect(stat?.ephemeralOwner, `${c.name}'s ephemeral at the end`).toBe(c.sessionId);
            } else if (c.zk.state === "expired") {
              await eventually(`${c.name}'s ephemeral is deleted after its session expired`, async () => (await zk.exists(c.ephemeral!)) === null);
            }
          }
          return { uniq, seq };
        });

        // --- checks ------------------------------------------------------------------------
        expect(unexpected, "errors that are neither a definite failure nor a lost connection").toEqual([]);

        // Every expiry, at a restart or not, came after the session's timeout.
        for (const c of tracked) {
          const exp = c.transitions.find((t) => t.state === "expired");
          if (exp) expectExpiredByTimeout(c, exp.at);
        }

        // (a) acknowledged unique creates exist; nothing else appeared under /uniq.
        const ackedUnique = history.filter((o) => o.input.f === "create" && o.outcome.type === "ok").map((o) => o.key);
        const uniqNow = new Set(final.uniq.map((n) => `/uniq/${n}`));
        for (const k of ackedUnique) expect(uniqNow.has(k), `acknowledged create ${k}`).toBe(true);
        for (const k of uniqNow) expect(uniqueKeys.has(k), `${k} was never created by anyone`).toBe(true);

        // (b) sequential creates: each payload at most once; the acknowledged ones where the
        // server said they were.
        const byToken = new Map<string, string[]>();
        for (const { path, token } of final.seq) byToken.set(token, [...(byToken.get(token) ?? []), path]);
        const dupes = [...byToken].filter(([, paths]) => paths.length > 1);
        expect(dupes, "sequential creates applied more than once").toEqual([]);
        const tokens = new Set(seqCreates.map((s) => s.token));
        for (const token of byToken.keys()) expect(tokens.has(token), `${token} was never sent`).toBe(true);
        for (const s of seqCreates.filter((x) => x.outcome === "ok")) expect(byToken.get(s.token), `acknowledged ${s.token}`).toEqual([s.path]);

        // (b) a value is never seen with two versions (a write applied twice would be).
        const seen = new Map<string, number>();
        for (const o of history) {
          if (o.input.f !== "read" || o.outcome.type !== "ok" || o.outcome.output.value == null || o.outcome.output.version === undefined) continue;
          const id = `${o.key} ${o.outcome.output.value}`;
          const v = seen.get(id);
          if (v !== undefined) expect(o.outcome.output.version, `${id} seen at two versions`).toBe(v);
          seen.set(id, o.outcome.output.version);
        }

        // (d) the whole history, final reads included, is linearizable.
        const t0 = performance.now();
        const verdict = checkRegisters(history, initial);
        const checkMs = performance.now() - t0;
        if (!verdict.ok) throw new Error(`history not linearizable:\n${verdict.explanation}`);
        // The check is not vacuous: every register saw acknowledged writes and reads, and the
        // same history with one final read changed to a value nobody wrote is rejected.
        for (const k of KEYS) {
          const acked = (f: RegisterInput["f"]) => history.some((o) => o.key === k && o.input.f === f && o.outcome.type === "ok" && o.process !== "final");
          expect(acked("write") && acked("read"), `${k} saw acknowledged writes and reads`).toBe(true);
        }
        const lastFinal = history.findLast((o) => o.process === "final" && o.key === KEYS[0])!;
        const tampered = history.map((o) => (o === lastFinal && o.outcome.type === "ok" ? { ...o, outcome: { ...o.outcome, output: { value: "never written" } } } : o));
        expect(checkRegisters(tampered, initial).ok, "the checker rejects a final read of a value never written").toBe(false);

        // Some of the interesting cases did happen (they are likely, not certain: reported, not asserted).
        // A create acknowledged across a kill was re-sent after the restart. If its czxid is
        // at most the zxid the restarted server started from (the first handshake answered
        // after the kill, before any write could reach it), the killed server had applied it
        // and the retry was answered from the request-id record instead of creating again.
        const restartZxid = kills.map((k, i) => {
          const next = kills[i + 1]?.wallAt ?? Infinity;
          return Math.min(...tracked.flatMap((c) => c.hellos.filter((h) => h.at > k.wallAt && h.at < next).map((h) => h.zxid)));
        });
        const acrossKill = seqCreates.flatMap((s) => {
          const k = kills.findIndex((x) => s.outcome === "ok" && s.invoke < x.at && x.at < s.completed!);
          return k < 0 ? [] : [{ ...s, kill: k }];
        });
        const retriedSeq = acrossKill.length;
        const dedupedSeq = acrossKill.filter((s) => s.czxid! <= restartZxid[s.kill]).length;
        const resumed = tracked.filter((c) => c.transitions.filter((t) => t.state === "connected").length > 1).length;
        const expired = tracked.filter((c) => c.zk.state === "expired").length;
        const readValues = new Set(history.filter((o) => o.input.f === "read" && o.outcome.type === "ok").map((o) => `${o.key} ${(o.outcome as { output: RegisterOutput }).output.value}`));
        const lostWrites = history.filter((o) => o.input.f !== "read" && o.outcome.type === "indeterminate");
        const lostSeen = lostWrites.filter((o) => readValues.has(`${o.key} ${(o.input as { value: string }).value}`)).length;
        const lostSeq = seqCreates.filter((s) => s.outcome === "indeterminate");
        const lostSeqSeen = lostSeq.filter((s) => byToken.has(s.token)).length;
        console.log(
          [
            `fault test: ${ROUNDS} SIGKILL restarts (${kills.map((k) => `${k.restartedAt - k.wallAt} ms`).join(", ")}), ${((Date.now() - began) / 1000).toFixed(1)} s in all`,
            `  ${stats.ops} operations recorded (${history.length} with final reads), ${stats.indeterminate} without an answer (reads dropped); ${lostWrites.length} writes/creates indeterminate, ${lostSeen} of them seen applied`,
            `  ${seqCreates.length} sequential creates: ${retriedSeq} acknowledged across a kill (re-sent with their request id; ${dedupedSeq} of those had been applied before it), ${lostSeq.length} without an answer, ${lostSeqSeen} of them applied`,
            `  ${tracked.length} sessions: ${resumed} resumed at least once, ${expired} expired (${ROUNDS} of them partitioned probes, ${stats.expiredSlots} workload)`,
            `  linearizability: ${verdict.keys} keys, ${verdict.operations} operations, ${verdict.steps} search steps, ${checkMs.toFixed(0)} ms`,
          ].join("\n"),
        );
      } catch (e) {
        console.error(`--- wrangler dev output (last 8 KiB) ---\n${server?.logs().slice(-8192)}`);
        throw e;
      } finally {
        stopping = true;
      }
    },
    180_000,
  );
});
