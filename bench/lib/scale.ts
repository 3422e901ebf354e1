import { performance } from "node:perf_hooks";
import { Recorder } from "./stats.js";
import { ensurePath, type Session, type Target } from "./targets.js";
import type { Options } from "./types.js";
import { MeasuredWindow } from "./window.js";
import { measured, type Ctx, type Measured, type Workload } from "./workloads.js";

/**
 * The `scale` group (issue 4): how throughput and memory grow with the number of znodes, of
 * idle sessions, and of namespaces. Not part of the default run: `--only scale` (or `--scale`).
 * The znode workloads build on each other (the tree grows from one size to the next on the
 * same server), so run them in order.
 */

const PARENTS = 1000;
const CREATE_SESSIONS = 8;
const CREATE_INFLIGHT = 64;
const LOAD_SESSIONS = 8;
const LOAD_INFLIGHT = 8;
const MAX_SERVER_RSS_MIB = 6 * 1024;

const errText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
const short = (n: number) => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}m` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : String(n));
const parentOf = (i: number) => `/scale/z/p-${String(i % PARENTS).padStart(4, "0")}`;
const nodeOf = (i: number) => `${parentOf(i)}/n-${String(i).padStart(10, "0")}`;

/** Per system: how many znodes the scale tree holds, and whether growing was abandoned. */
const grown = new Map<string, { count: number; abandoned?: string }>();

async function connectMany(t: Target, n: number, ctx: Ctx, stopIf?: () => string | undefined, batch = 50): Promise<{ sessions: Session[]; stopped?: string }> {
  const out: Session[] = [];
  const t0 = performance.now();
  while (out.length < n) {
    const why = stopIf?.();
    if (why) return { sessions: out, stopped: why };
    const k = Math.min(batch, n - out.length);
    const got = await Promise.allSettled(Array.from({ length: k }, () => t.connect()));
    for (const g of got) if (g.status === "fulfilled") out.push(g.value);
    const bad = got.find((g): g is PromiseRejectedResult => g.status === "rejected");
    if (bad) {
      const why = `a connect failed after ${out.length} sessions, ${Math.round((performance.now() - t0) / 100) / 10} s: ${errText(bad.reason)}`;
      if (!stopIf) {
        await closeAll(out);
        throw new Error(why);
      }
      return { sessions: out, stopped: why };
    }
    ctx.progress(out.length / n / 2, `connecting ${out.length}/${n} sessions`);
  }
  return { sessions: out };
}

async function closeAll(sessions: Session[], batch = 200): Promise<void> {
  for (let i = 0; i < sessions.length; i += batch) await Promise.all(sessions.slice(i, i + batch).map((s) => s.close().catch(() => {})));
}

/** Closed loops for warm-up + duration; counts operations that complete inside the window. */
async function timed(ctx: Ctx, sessions: Session[], inflight: number, op: (s: Session) => Promise<{ write: boolean }>): Promise<Measured> {
  const durMs = ctx.opts.duration * 1000;
  const all = new Recorder();
  const reads = new Recorder();
  const writes = new Recorder();
  let errors = 0;
  let firstError: string | undefined;
  const win = new MeasuredWindow(ctx.meter, ctx.opts.warmup * 1000, durMs, (f) => ctx.progress(0.5 + f / 2, `${all.n} ops`));
  const loop = async (s: Session) => {
    while (performance.now() < win.end) {
      const a = performance.now();
      let w: { write: boolean };
      try {
        w = await op(s);
      } catch (e) {
        errors++;
        firstError ??= errText(e);
        if (errors > 1000 && errors > all.n) throw new Error(`too many errors (${errors}); first: ${firstError}`);
        continue;
      }
      const b = performance.now();
      if (win.contains(b)) {
        all.push(b - a);
        (w.write ? writes : reads).push(b - a);
      }
    }
  };
  let usage: Measured["usage"];
  try {
    await Promise.all(sessions.flatMap((s) => Array.from({ length: inflight }, () => loop(s))));
  } finally {
    usage = win.finish();
  }
  return measured(all, durMs, { n: errors, first: firstError }, usage, { reads: reads.summary(), writes: writes.summary() });
}

/** Grows the scale tree on `t` to `n` nodes with 8 sessions × 64 creates in flight. */
async function grow(t: Target, ctx: Ctx, n: number): Promise<Record<string, unknown>> {
  const st = grown.get(t.name) ?? { count: 0 };
  grown.set(t.name, st);
  if (st.abandoned) throw new Error(`not measured: ${st.abandoned}`);
  if (st.count >= n) return { created: 0 };
  const { sessions } = await connectMany(t, CREATE_SESSIONS, ctx);
  try {
    if (st.count === 0) {
      await ensurePath(sessions[0], "/scale/z");
      for (let p = 0; p < PARENTS; p += 100)
        await Promise.all(Array.from({ length: Math.min(100, PARENTS - p) }, (_, k) => ensurePath(sessions[k % sessions.length], parentOf(p + k))));
    }
    const from = st.count;
    let next = from;
    let done = 0;
    let stop: string | undefined;
    const capMs = ctx.opts.scaleMaxGrowS * 1000;
    ctx.meter.start();
    const t0 = performance.now();
    const progressTimer = setInterval(() => {
      const ms = performance.now() - t0;
      ctx.progress((done / (n - from)) * 0.5, `growing to ${n}: ${from + done} nodes, ${Math.round((done / ms) * 1000)} creates/s`);
      if (ms > capMs && !stop) stop = `growing from ${from} to ${n} nodes would take too long: ${done} creates in ${Math.round(ms / 1000)} s (${Math.round((done / ms) * 1000)}/s), over the --scale-max-grow ${ctx.opts.scaleMaxGrowS} s cap`;
    }, 250);
    try {
      await Promise.all(
        sessions.flatMap((s) =>
          Array.from({ length: CREATE_INFLIGHT }, async () => {
            for (let i; !stop && (i = next++) < n; ) {
              await s.create(nodeOf(i), ctx.data);
              done++;
            }
          }),
        ),
      );
    } finally {
      clearInterval(progressTimer);
    }
    const ms = performance.now() - t0;
    const u = ctx.meter.stop();
    st.count = Math.min(next, n);
    const info = {
      created: done,
      createSeconds: Math.round(ms) / 1000,
      createsPerSec: Math.round((done / ms) * 1000),
      createServerCpuPct: u.server.cpuPct,
      createServerRssMaxMiB: u.server.rssMaxMiB,
    };
    if (stop) {
      st.abandoned = stop;
      throw new Error(`not measured: ${stop}`);
    }
    return info;
  } finally {
    await closeAll(sessions);
  }
}

function znodeWorkload(n: number, kind: "getData" | "setData"): Workload {
  return {
    id: `scale-znodes-${short(n)}-${kind === "getData" ? "get" : "set"}`,
    group: "scale",
    title: `${kind} on random nodes of ${n.toLocaleString("en-US")} znodes`,
    shape: `${LOAD_SESSIONS} sessions × ${LOAD_INFLIGHT} in flight, random existing node; tree grown by ${CREATE_SESSIONS} sessions × ${CREATE_INFLIGHT} creates in flight under ${PARENTS} parents`,
    kind: "throughput",
    unit: "ops/s",
    latencyLabel: `${kind} round trip`,
    async run(t, ctx) {
      const g = await grow(t, ctx, n); // a no-op for setData: getData grew it
      const { sessions } = await connectMany(t, LOAD_SESSIONS, ctx);
      try {
        const count = grown.get(t.name)!.count;
        const m = await timed(ctx, sessions, LOAD_INFLIGHT, async (s) => {
          const p = nodeOf((Math.random() * count) | 0);
          await (kind === "setData" ? s.setData(p, ctx.data) : s.getData(p));
          return { write: kind === "setData" };
        });
        return { ...m, extra: { znodes: count, ...g } };
      } finally {
        await closeAll(sessions);
      }
    },
  };
}

function sessionsWorkload(idle: number): Workload {
  return {
    id: `scale-sessions-${short(idle)}`,
    group: "scale",
    title: `90/10 getData/setData mix beside ${idle.toLocaleString("en-US")} idle sessions`,
    shape: `${idle.toLocaleString("en-US")} idle sessions (heartbeats only) on one namespace; ${LOAD_SESSIONS} other sessions × ${LOAD_INFLIGHT} in flight on 100 nodes`,
    kind: "throughput",
    unit: "ops/s",
    latencyLabel: "any op round trip",
    async run(t, ctx) {
      const tc = performance.now();
      const rss = () => ctx.serverRssMiB?.() ?? 0;
      let maxConnectRss = 0;
      const { sessions: idleS, stopped } = await connectMany(t, idle, ctx, () => {
        const r = rss();
        maxConnectRss = Math.max(maxConnectRss, r);
        return r > MAX_SERVER_RSS_MIB ? `server RSS ${Math.round(r)} MiB passed ${MAX_SERVER_RSS_MIB} MiB` : undefined;
      }, 100);
      const connectS = (performance.now() - tc) / 1000;
      const idleRss = rss();
      let load: Session[] = [];
      try {
        if (stopped && idleS.length === 0) throw new Error(stopped);
        load = (await connectMany(t, LOAD_SESSIONS, ctx)).sessions;
        const base = "/scale/s";
        await ensurePath(load[0], base);
        const paths = Array.from({ length: 100 }, (_, i) => `${base}/n-${i}`);
        await Promise.all(paths.map((p) => load[0].create(p, ctx.data).catch(() => {})));
        const m = await timed(ctx, load, LOAD_INFLIGHT, async (s) => {
          const p = paths[(Math.random() * paths.length) | 0];
          const w = Math.random() < 0.1;
          await (w ? s.setData(p, ctx.data) : s.getData(p));
          return { write: w };
        });
        return {
          ...m,
          extra: { ...m.extra, idleSessions: idleS.length, requestedIdleSessions: idle, stoppedConnecting: stopped, serverRssMaxWhileConnectingMiB: Math.round(maxConnectRss), connectSeconds: Math.round(connectS * 100) / 100, serverRssAfterConnectMiB: Math.round(idleRss) },
        };
      } finally {
        ctx.progress(1, "closing sessions");
        await closeAll([...load, ...idleS]);
      }
    },
  };
}

function namespacesWorkload(namespaces: number, perNs: number, kind: "getData" | "setData"): Workload {
  return {
    id: `scale-ns-${namespaces}x${perNs}-${kind === "getData" ? "get" : "set"}`,
    group: "scale",
    title: `${kind} spread over ${namespaces} namespace${namespaces > 1 ? "s" : ""}`,
    shape: `${namespaces} namespace${namespaces > 1 ? "s" : ""} × ${perNs} session${perNs > 1 ? "s" : ""} × ${LOAD_INFLIGHT} in flight, one node per session`,
    kind: "throughput",
    unit: "ops/s",
    latencyLabel: `${kind} round trip`,
    async run(t, ctx) {
      if (!t.inNamespace) throw new Error("not applicable: ZooKeeper has no namespaces (one ensemble serves one tree)");
      const all: Session[] = [];
      const paths = new Map<Session, string>();
      try {
        for (let k = 0; k < namespaces; k++) {
          const nt = t.inNamespace(`scale-ns${namespaces}x${perNs}-${k}`);
          const { sessions } = await connectMany(nt, perNs, ctx);
          all.push(...sessions);
          await ensurePath(sessions[0], "/scale/ns");
          for (let i = 0; i < sessions.length; i++) {
            const p = `/scale/ns/s-${i}`;
            await sessions[0].create(p, ctx.data).catch(() => {});
            paths.set(sessions[i], p);
          }
        }
        const m = await timed(ctx, all, LOAD_INFLIGHT, async (s) => {
          const p = paths.get(s)!;
          await (kind === "setData" ? s.setData(p, ctx.data) : s.getData(p));
          return { write: kind === "setData" };
        });
        return { ...m, extra: { namespaces, sessionsPerNamespace: perNs } };
      } finally {
        await closeAll(all);
      }
    },
  };
}

export function scaleWorkloads(o: Options): Workload[] {
  return [
    ...o.scaleZnodes.flatMap((n) => [znodeWorkload(n, "getData"), znodeWorkload(n, "setData")]),
    ...o.scaleSessions.map((n) => sessionsWorkload(n)),
    ...(["setData", "getData"] as const).flatMap((k) => [namespacesWorkload(1, 8, k), namespacesWorkload(8, 1, k), namespacesWorkload(8, 8, k)]),
  ];
}

export type { Measured };
