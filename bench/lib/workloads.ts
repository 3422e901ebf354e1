import type { UsageReport } from "./proc.js";
import { Recorder, summarize, type LatencySummary } from "./stats.js";
import { ensurePath, type Session, type Target } from "./targets.js";
import type { ClientUsage, Options, WorkloadResult } from "./types.js";
import { scaleWorkloads } from "./scale.js";
import { MeasuredWindow } from "./window.js";

/**
 * The workloads. Each runs the same code against either system through the Session/Target
 * interface; the measured window is bracketed by meter.start()/meter.stop(), which sample
 * the server's process tree and the benchmark process itself.
 */

export interface Meter {
  start(): void;
  stop(): { server: UsageReport; client: ClientUsage };
}

export interface Ctx {
  opts: Options;
  meter: Meter;
  /** Redraws the progress line: fraction of this workload done, and a detail. */
  progress(fraction: number, detail: string): void;
  /** `dataBytes` bytes of znode data. */
  data: Uint8Array;
  /** The server's current RSS (MiB), for workloads that must stop before it grows too large. */
  serverRssMiB?: () => number;
}

export interface Measured {
  count: number;
  durationS: number;
  /** null: a latency-only workload. */
  throughput: number | null;
  latency: LatencySummary;
  errors: number;
  firstError?: string;
  usage: { server: UsageReport; client: ClientUsage };
  extra?: Record<string, unknown>;
}

/** A throughput measurement from its recorder: `ms` of run time, its errors, usage and extras. */
export function measured(rec: Recorder, ms: number, errs: { n: number; first?: string }, usage: Measured["usage"], extra?: Record<string, unknown>): Measured {
  return {
    count: rec.n,
    durationS: ms / 1000,
    throughput: Math.round((rec.n / ms) * 1000 * 10) / 10,
    latency: rec.summary(),
    errors: errs.n,
    firstError: errs.first,
    usage,
    ...(extra ? { extra } : {}),
  };
}

/** A workload: what its result row describes (WorkloadResult's descriptive fields), and how to run it. */
export interface Workload extends Pick<WorkloadResult, "id" | "group" | "title" | "shape" | "kind" | "unit" | "latencyLabel"> {
  run(t: Target, ctx: Ctx): Promise<Measured>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const errText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
const pad = (i: number) => String(i).padStart(10, "0");
const rate = (n: number, ms: number) => (ms > 0 ? Math.round((n / ms) * 1000) : 0);

/** Connects `n` sessions, `batch` at a time. */
async function connectMany(t: Target, n: number, onProgress?: (done: number) => void, batch = 50): Promise<Session[]> {
  const out: Session[] = [];
  try {
    while (out.length < n) {
      const k = Math.min(batch, n - out.length);
      out.push(...(await Promise.all(Array.from({ length: k }, () => t.connect()))));
      onProgress?.(out.length);
    }
  } catch (e) {
    await closeAll(out);
    throw e;
  }
  return out;
}

async function closeAll(sessions: Session[], batch = 100): Promise<void> {
  for (let i = 0; i < sessions.length; i += batch) await Promise.all(sessions.slice(i, i + batch).map((s) => s.close().catch(() => {})));
}

/** Runs `fn` with `n` fresh sessions and closes them afterwards. */
async function withSessions<T>(t: Target, n: number, fn: (s: Session[]) => Promise<T>): Promise<T> {
  const sessions = await connectMany(t, n);
  try {
    return await fn(sessions);
  } finally {
    await closeAll(sessions);
  }
}

class ErrorCount {
  n = 0;
  first: string | undefined;
  add(e: unknown, ops: number): void {
    this.n++;
    this.first ??= errText(e);
    if (this.n > 1000 && this.n > ops) throw new Error(`too many errors (${this.n}); first: ${this.first}`);
  }
}

/**
 * Closed loops for a fixed time: `loopsPerSession` loops on every session, each issuing one
 * operation after the other. An operation counts if it completes inside the measured window
 * (after the warm-up); its latency is from its send to its completion.
 */
async function timedLoops(
  ctx: Ctx,
  sessions: Session[],
  loopsPerSession: number,
  op: (s: Session, session: number, loop: number, window: { start: number; end: number }) => Promise<unknown>,
  unitLabel = "ops/s",
): Promise<Measured & { recorder: Recorder }> {
  const durMs = ctx.opts.duration * 1000;
  const rec = new Recorder();
  const errs = new ErrorCount();
  const win = new MeasuredWindow(ctx.meter, ctx.opts.warmup * 1000, durMs, (f, now) =>
    ctx.progress(f, now >= win.start ? `${rate(rec.n, now - win.start)} ${unitLabel}` : "warming up"),
  );
  const window = { start: win.start, end: win.end };
  const loop = async (s: Session, i: number, j: number) => {
    for (;;) {
      const a = performance.now();
      if (a >= win.end) return;
      try {
        await op(s, i, j, window);
      } catch (e) {
        errs.add(e, rec.n);
        continue;
      }
      const b = performance.now();
      if (win.contains(b)) rec.push(b - a);
    }
  };
  let usage: Measured["usage"];
  try {
    await Promise.all(sessions.flatMap((s, i) => Array.from({ length: loopsPerSession }, (_, j) => loop(s, i, j))));
  } finally {
    usage = win.finish();
  }
  return { recorder: rec, ...measured(rec, durMs, errs, usage) };
}

// ---------------------------------------------------------------- a. creates

function createWorkload(inflight: number, n: number): Workload {
  return {
    id: `a-create-x${inflight}`,
    group: "a",
    title: `create ${n.toLocaleString("en-US")} persistent nodes`,
    shape: `1 session × ${inflight} in flight`,
    kind: "throughput",
    unit: "ops/s",
    latencyLabel: "create round trip",
    async run(t, ctx) {
      return withSessions(t, 1, async ([s]) => {
        const base = `/bench/a${inflight}`;
        await ensurePath(s, base);
        await ensurePath(s, `${base}-warm`);
        // Unmeasured warm-up, same shape, under another parent.
        let wi = 0;
        const warm = ctx.opts.warmupCreates;
        await Promise.all(
          Array.from({ length: inflight }, async () => {
            for (let i; (i = wi++) < warm; ) await s.create(`${base}-warm/n-${pad(i)}`, ctx.data);
          }),
        );
        const rec = new Recorder();
        const errs = new ErrorCount();
        let next = 0;
        ctx.meter.start();
        const t0 = performance.now();
        const progressTimer = setInterval(() => ctx.progress(rec.n / n, `${rate(rec.n, performance.now() - t0)} ops/s`), 250);
        try {
          await Promise.all(
            Array.from({ length: inflight }, async () => {
              for (let i; (i = next++) < n; ) {
                const a = performance.now();
                try {
                  await s.create(`${base}/n-${pad(i)}`, ctx.data);
                } catch (e) {
                  errs.add(e, rec.n);
                  continue;
                }
                rec.push(performance.now() - a);
              }
            }),
          );
        } finally {
          clearInterval(progressTimer);
        }
        const ms = performance.now() - t0;
        const usage = ctx.meter.stop();
        return measured(rec, ms, errs, usage, { nodes: n, warmupCreates: warm });
      });
    },
  };
}

// ---------------------------------------------------------------- b, c. setData / getData

function dataWorkload(kind: "setData" | "getData", sessionsN: number, inflight: number): Workload {
  const group = kind === "setData" ? "b" : "c";
  return {
    id: `${group}-${kind}-${sessionsN}x${inflight}`,
    group,
    title: `${kind} (100-byte data)`,
    shape: `${sessionsN} sessions × ${inflight} in flight, one node per session`,
    kind: "throughput",
    unit: "ops/s",
    latencyLabel: `${kind} round trip`,
    async run(t, ctx) {
      return withSessions(t, sessionsN, async (sessions) => {
        const base = `/bench/${group}-${sessionsN}x${inflight}`;
        await ensurePath(sessions[0], base);
        const paths = sessions.map((_, i) => `${base}/s-${i}`);
        for (const p of paths) await sessions[0].create(p, ctx.data);
        const m = await timedLoops(ctx, sessions, inflight, (s, i) => (kind === "setData" ? s.setData(paths[i], ctx.data) : s.getData(paths[i])));
        return { ...m, recorder: undefined };
      });
    },
  };
}

// ---------------------------------------------------------------- d. lock pattern

function ephemeralCycleWorkload(sessionsN: number): Workload {
  return {
    id: `d-ephemeral-seq-cycle-${sessionsN}`,
    group: "d",
    title: "ephemeral-sequential create + delete cycle",
    shape: `${sessionsN} sessions × 1 cycle in flight, one parent`,
    kind: "throughput",
    unit: "cycles/s",
    latencyLabel: "cycle (create + delete)",
    async run(t, ctx) {
      return withSessions(t, sessionsN, async (sessions) => {
        const base = "/bench/d";
        await ensurePath(sessions[0], base);
        const m = await timedLoops(
          ctx,
          sessions,
          1,
          async (s) => {
            const p = await s.create(`${base}/lock-`, ctx.data, "ephemeral_sequential");
            await s.delete(p);
          },
          "cycles/s",
        );
        return { ...m, recorder: undefined, extra: { opsPerSec: Math.round((m.throughput ?? 0) * 2) } };
      });
    },
  };
}

// ---------------------------------------------------------------- e. 90/10 mix

function mixWorkload(sessionsN: number, inflight: number, nodes: number, writes: number): Workload {
  const pctW = Math.round(writes * 100);
  return {
    id: `e-mix-${100 - pctW}-${pctW}`,
    group: "e",
    title: `${100 - pctW}/${pctW} getData/setData mix`,
    shape: `${sessionsN} sessions × ${inflight} in flight, ${nodes} shared nodes, random`,
    kind: "throughput",
    unit: "ops/s",
    latencyLabel: "any op round trip",
    async run(t, ctx) {
      return withSessions(t, sessionsN, async (sessions) => {
        const base = "/bench/e";
        await ensurePath(sessions[0], base);
        const paths = Array.from({ length: nodes }, (_, i) => `${base}/n-${i}`);
        await Promise.all(paths.map((p) => sessions[0].create(p, ctx.data)));
        const reads = new Recorder();
        const writesRec = new Recorder();
        const m = await timedLoops(ctx, sessions, inflight, async (s, _i, _j, win) => {
          const p = paths[(Math.random() * nodes) | 0];
          const w = Math.random() < writes;
          const a = performance.now();
          await (w ? s.setData(p, ctx.data) : s.getData(p));
          const b = performance.now();
          if (b >= win.start && b < win.end) (w ? writesRec : reads).push(b - a);
        });
        return { ...m, recorder: undefined, extra: { reads: reads.summary(), writes: writesRec.summary() } };
      });
    },
  };
}

// ---------------------------------------------------------------- f. lock hand-off

function lockWorkload(contenders: number): Workload {
  return {
    id: `f-lock-handoff-${contenders}`,
    group: "f",
    title: "lock hand-off (herd-free mutex)",
    shape: `${contenders} contenders (1 session each), hold 0 ms, re-queue at once`,
    kind: "latency",
    unit: "hand-offs/s",
    latencyLabel: "release → next holder acquired",
    async run(t, ctx) {
      return withSessions(t, contenders, async (sessions) => {
        const base = "/bench/f/lock";
        await ensurePath(sessions[0], base);
        const durMs = ctx.opts.duration * 1000;
        const rec = new Recorder();
        const errs = new ErrorCount();
        const win = new MeasuredWindow(ctx.meter, ctx.opts.warmup * 1000, durMs, (f, now) =>
          ctx.progress(f, now >= win.start ? `${rate(rec.n, now - win.start)} hand-offs/s` : "warming up"),
        );
        let holders = 0;
        let violations = 0;
        let acquisitions = 0;
        let lastRelease: number | undefined;
        const contender = async (s: Session) => {
          while (!win.over) {
            let release: () => Promise<unknown>;
            try {
              release = await t.lock(s, base);
            } catch (e) {
              errs.add(e, rec.n);
              await sleep(10);
              continue;
            }
            const now = performance.now();
            if (++holders > 1) violations++;
            acquisitions++;
            if (lastRelease !== undefined && win.contains(now)) rec.push(now - lastRelease);
            holders--;
            lastRelease = performance.now();
            try {
              await release();
            } catch (e) {
              errs.add(e, rec.n);
            }
          }
        };
        let usage: Measured["usage"];
        try {
          await Promise.all(sessions.map(contender));
        } finally {
          usage = win.finish();
        }
        if (violations > 0) throw new Error(`mutual exclusion violated ${violations} times`);
        return measured(rec, durMs, errs, usage, { acquisitions, mutualExclusionViolations: violations, lock: t.lockImpl });
      });
    },
  };
}

// ---------------------------------------------------------------- g. watch fan-out

function fanoutWorkload(watchers: number, rounds: number): Workload {
  return {
    id: `g-fanout-${watchers}`,
    group: "g",
    title: `watch fan-out to ${watchers.toLocaleString("en-US")} watchers`,
    shape: `${watchers.toLocaleString("en-US")} sessions × 1 one-shot data watch on one node, 1 writer; ${rounds} rounds`,
    kind: "latency",
    unit: "",
    latencyLabel: "setData sent → last notification received",
    async run(t, ctx) {
      const tc = performance.now();
      const all = await connectMany(t, watchers + 1, (n) => ctx.progress(0, `connecting ${n}/${watchers + 1} sessions`));
      const connectS = (performance.now() - tc) / 1000;
      try {
        const writer = all[0];
        const ws = all.slice(1);
        const base = `/bench/g${watchers}`;
        await ensurePath(writer, base);
        const path = `${base}/node`;
        await writer.create(path, ctx.data);
        const lastRec = new Recorder();
        const eachRec = new Recorder();
        const armRec = new Recorder();
        let missing = 0;
        const warmRounds = 2;
        let usage: Measured["usage"] | undefined;
        const tAll = performance.now();
        for (let r = 0; r < warmRounds + rounds; r++) {
          if (r === warmRounds) ctx.meter.start();
          let got = 0;
          let last = 0;
          const arrivals: number[] = [];
          let done!: () => void;
          const everyone = new Promise<void>((ok) => (done = ok));
          const ta = performance.now();
          // Arm: every watcher reads the node with a one-shot data watch.
          await Promise.all(
            ws.map((s) =>
              s.getData(path, () => {
                const now = performance.now();
                arrivals.push(now);
                last = now;
                if (++got === watchers) done();
              }),
            ),
          );
          const t0 = performance.now();
          const write = writer.setData(path, ctx.data);
          const timedOut = await Promise.race([everyone.then(() => false), sleep(10_000).then(() => true)]);
          await write;
          if (r >= warmRounds) {
            armRec.push(t0 - ta);
            if (timedOut) missing += watchers - got;
            else lastRec.push(last - t0);
            for (const a of arrivals) eachRec.push(a - t0);
          }
          ctx.progress((r + 1) / (warmRounds + rounds), `round ${r + 1}/${warmRounds + rounds}, last ${(last - t0).toFixed(1)} ms`);
          // Stray late events of a timed-out round must not count in the next one.
          if (timedOut) await sleep(2000);
        }
        usage = ctx.meter.stop();
        const ms = performance.now() - tAll;
        return {
          count: lastRec.n,
          durationS: Math.round(ms) / 1000,
          throughput: null,
          latency: lastRec.summary(),
          errors: missing,
          firstError: missing ? `${missing} notifications did not arrive within 10 s` : undefined,
          usage,
          extra: {
            watchers,
            sessions: watchers + 1,
            rounds,
            everyNotification: eachRec.summary(),
            armAllWatchesMs: armRec.summary(),
            connectAllSessionsS: Math.round(connectS * 100) / 100,
            sessionsConnectedPerSec: Math.round((watchers + 1) / connectS),
          },
        };
      } finally {
        await closeAll(all);
      }
    },
  };
}

export function workloads(o: Options): Workload[] {
  const scale = o.scale || (o.only ?? []).some((x) => x === "scale" || x.startsWith("scale-"));
  return [
    ...o.createInflight.map((k) => createWorkload(k, o.creates)),
    ...o.inflight.map((k) => dataWorkload("setData", o.sessions, k)),
    ...o.inflight.map((k) => dataWorkload("getData", o.sessions, k)),
    ephemeralCycleWorkload(o.sessions),
    mixWorkload(o.sessions, o.mixInflight, o.mixNodes, o.mixWrites),
    lockWorkload(o.contenders),
    ...o.fanout.map((w) => fanoutWorkload(w, o.fanoutRounds)),
    ...(scale ? scaleWorkloads(o) : []),
  ];
}

export { summarize };
