/**
 * `npm run bench [-- --compare zookeeper] [--quick] [...]`: starts the local edgekeeper service
 * (and a standalone ZooKeeper 3.8), runs the same workloads against both, prints a summary and
 * writes bench/results/<timestamp>.json and bench/results/latest.json. See docs/benchmarks.md.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { performance as perf } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { freePort, startServer, type LocalServer } from "../test/e2e/server.js";
import { edgekeeperVersion, machineInfo, packageVersion, projectRoot } from "./lib/env.js";
import { allProcs, clockTicks, cmdline, machineTicks, pidListeningOn, processTree, round1, TreeSampler, type ProcStat } from "./lib/proc.js";
import { findDevBundle, summarizeProfile, WorkerProfiler, type CpuProfile } from "./lib/profiler.js";
import { Progress } from "./lib/progress.js";
import { renderMarkdown, summaryTable } from "./lib/render.js";
import { edgekeeperTarget, zookeeperTarget, type SystemName, type Target } from "./lib/targets.js";
import type { Options, Results, SystemResult, WorkloadResult } from "./lib/types.js";
import { workloads, type Meter } from "./lib/workloads.js";
import {
  debianPackageVersion,
  ensureZooKeeperInstalled,
  javaVersion,
  killAllZooKeepers,
  startZooKeeper,
  waitGoneSync,
  type ZooKeeperServer,
} from "./lib/zookeeper-server.js";

const HELP = `usage: npm run bench -- [options]

  --compare zookeeper     also run every workload on a standalone ZooKeeper 3.8 (Debian package)
  --server <kind>         the local edgekeeper to start: workerd (default: \`npm run serve\`, the deploy
                          bundle on bare workerd) or wrangler-dev (the development server)
  --no-coalesce           edgekeeper's client sends one frame per request instead of one per tick
                          (to measure what coalescing is worth)
  --no-share              every edgekeeper session gets its own WebSocket instead of sharing the
                          bench process's sockets (SocketShare; to measure what sharing is worth)
  --url <http://host:port> benchmark an edgekeeper that is already running (e.g. \`npm run serve\`)
                          instead of starting one; its CPU and memory are those of the
                          process listening on that port and its children
  --quick                 ~1-minute smoke run (small sizes, short windows)
  --only <list>           workload groups (a-g), ids or id prefixes, e.g. --only a,f,g-fanout-100
  --duration <s>          measured seconds per timed workload (b-f)       default 10 (quick 1.5)
  --warmup <s>            unmeasured warm-up before each timed workload    default 1 (quick 0.5)
  --creates <n>           nodes per create run (a)                          default 10000 (quick 1000)
  --warmup-creates <n>    unmeasured creates before each create run         default 300 (quick 100)
  --sessions <n>          sessions for b-e                                  default 8
  --inflight <list>       in flight per session for b and c                 default 1,8
  --create-inflight <l>   in flight for a                                   default 1,64
  --mix-inflight <n>      in flight per session for e                       default 8
  --mix-nodes <n>         nodes the mix spreads over                        default 100
  --mix-writes <f>        fraction of writes in the mix                     default 0.1
  --contenders <n>        lock contenders (f)                               default 8
  --fanout <list>         watchers (= sessions) for g                       default 100,1000 (quick 100,1000)
  --fanout-rounds <n>     measured rounds per fan-out size                  default 20 (quick 5)
  --scale                 also run the scale group (issue 4; not in the default run). --only scale
                          runs just it: znode count, idle sessions, namespaces
  --scale-znodes <list>   tree sizes the scale tree grows through         default 10000,100000,1000000
  --scale-sessions <list> idle sessions beside the load (0 = baseline)    default 0,100,1000,10000
  --scale-max-grow <s>    give up growing the tree to a size after this   default 600
  --data-bytes <n>        znode data size                                   default 100
  --out <dir>             results directory                                 default bench/results
  --report                also regenerate docs/benchmarks.md
  --quiet-pct <n>         before each step, wait until other processes use < n% of a core   default 15
  --quiet-wait <s>        ... for at most this long (0: do not wait)                         default 120 (quick 10)
  --profile               CPU-profile edgekeeper's Worker (V8, via wrangler's inspector) in each
                          measured window; profiles go to <out>/profiles/<run>/ (slows it down:
                          use for "where does the time go", not for the numbers)
  -h, --help
`;

function serverKind(v: string | undefined): Options["server"] {
  if (v === undefined || v === "workerd") return "workerd";
  if (v === "wrangler-dev") return "wrangler-dev";
  throw new Error(`--server must be workerd or wrangler-dev, not ${v}`);
}

/**
 * Starts `npm run serve` (the deploy bundle on bare workerd, scripts/serve.mjs) on a free
 * port with a fresh state directory; resolves with its URL once /healthz answers.
 */
async function startServe(): Promise<{ url: string; proc: ChildProcess; dir: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "edgekeeper-bench-serve-"));
  const proc = spawn(process.execPath, ["scripts/serve.mjs", "--port", String(port), "--persist-to", join(dir, "state"), "--work-dir", join(dir, "work")], {
    stdio: ["ignore", "ignore", "inherit"],
    detached: true,
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, proc, dir };
    } catch {
      // not up yet
    }
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error("npm run serve did not come up");
    await new Promise((r) => setTimeout(r, 100));
  }
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      compare: { type: "string" },
      url: { type: "string" },
      server: { type: "string" },
      "no-coalesce": { type: "boolean", default: false },
      "no-share": { type: "boolean", default: false },
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      creates: { type: "string" },
      "warmup-creates": { type: "string" },
      sessions: { type: "string" },
      inflight: { type: "string" },
      "create-inflight": { type: "string" },
      "mix-inflight": { type: "string" },
      "mix-nodes": { type: "string" },
      "mix-writes": { type: "string" },
      contenders: { type: "string" },
      fanout: { type: "string" },
      "fanout-rounds": { type: "string" },
      "data-bytes": { type: "string" },
      scale: { type: "boolean", default: false },
      "scale-znodes": { type: "string" },
      "scale-sessions": { type: "string" },
      "scale-max-grow": { type: "string" },
      out: { type: "string" },
      report: { type: "boolean", default: false },
      profile: { type: "boolean", default: false },
      "quiet-pct": { type: "string" },
      "quiet-wait": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const q = values.quick;
  const n = (name: string, v: string | undefined, def: number, min = 0): number => {
    if (v === undefined) return def;
    const x = Number(v);
    if (!Number.isFinite(x) || x < min) throw new Error(`--${name}: expected a number ≥ ${min}, got ${v}`);
    return x;
  };
  const list = (name: string, v: string | undefined, def: number[], min = 1): number[] => {
    if (v === undefined) return def;
    const xs = v.split(",").map((s) => Number(s.trim()));
    if (xs.some((x) => !Number.isInteger(x) || x < min)) throw new Error(`--${name}: expected integers ≥ ${min}, got ${v}`);
    return xs;
  };
  const systems: SystemName[] = ["edgekeeper"];
  if (values.compare !== undefined) {
    if (values.compare !== "zookeeper") throw new Error(`--compare: only "zookeeper" is supported, got ${values.compare}`);
    systems.push("zookeeper");
  }
  return {
    systems,
    quick: q,
    duration: n("duration", values.duration, q ? 1.5 : 10, 0.1),
    warmup: n("warmup", values.warmup, q ? 0.5 : 1),
    creates: n("creates", values.creates, q ? 1000 : 10_000, 1),
    warmupCreates: n("warmup-creates", values["warmup-creates"], q ? 100 : 300),
    sessions: n("sessions", values.sessions, 8, 1),
    inflight: list("inflight", values.inflight, [1, 8]),
    createInflight: list("create-inflight", values["create-inflight"], [1, 64]),
    mixInflight: n("mix-inflight", values["mix-inflight"], 8, 1),
    mixNodes: n("mix-nodes", values["mix-nodes"], 100, 1),
    mixWrites: n("mix-writes", values["mix-writes"], 0.1),
    contenders: n("contenders", values.contenders, 8, 2),
    fanout: list("fanout", values.fanout, [100, 1000]),
    fanoutRounds: n("fanout-rounds", values["fanout-rounds"], q ? 5 : 20, 1),
    scale: values.scale,
    scaleZnodes: list("scale-znodes", values["scale-znodes"], q ? [1000, 10_000] : [10_000, 100_000, 1_000_000]),
    scaleSessions: list("scale-sessions", values["scale-sessions"], q ? [0, 100] : [0, 100, 1000, 10_000], 0),
    scaleMaxGrowS: n("scale-max-grow", values["scale-max-grow"], 600, 1),
    dataBytes: n("data-bytes", values["data-bytes"], 100),
    only: values.only ? values.only.split(",").map((s) => s.trim()).filter(Boolean) : null,
    out: values.out ?? "bench/results",
    url: values.url,
    server: serverKind(values.server),
    coalesce: !values["no-coalesce"],
    share: !values["no-share"],
    report: values.report,
    profile: values.profile,
    quietPct: n("quiet-pct", values["quiet-pct"], 15),
    quietWaitS: n("quiet-wait", values["quiet-wait"], q ? 10 : 120),
  };
}

function commandLine(argv: string[]): string {
  const args = argv.map((a) => (/^[\w.,:/=-]+$/.test(a) ? a : JSON.stringify(a))).join(" ");
  const env = WRANGLER_ENV.filter((k) => process.env[k] !== undefined)
    .map((k) => `${k}=${process.env[k]} `)
    .join("");
  if (process.env.npm_lifecycle_event === "bench") return `${env}npm run bench${args ? ` -- ${args}` : ""}`;
  return `${env}node bench/run.mjs bench/main.ts${args ? ` ${args}` : ""}`;
}

/** The `wrangler dev` process this benchmark started: our child whose command line names its persistence dir. */
function findWranglerRoot(server: LocalServer): number {
  const procs = allProcs();
  for (const p of processTree(process.pid, procs)) if (p.pid !== process.pid && cmdline(p.pid).includes(server.persistDir)) return p.pid;
  throw new Error("could not find the wrangler dev process in /proc");
}

interface ProfileHook {
  start(): void;
  stop(): void;
}

function meterFor(rootPid: number, countsForRss: (p: ProcStat) => boolean, label?: (p: ProcStat) => string, hook?: ProfileHook): Meter {
  let sampler: TreeSampler | undefined;
  let cpu0 = process.cpuUsage();
  let elu0 = perf.eventLoopUtilization();
  let m0 = machineTicks();
  let t0 = 0;
  return {
    start() {
      hook?.start();
      sampler = new TreeSampler(rootPid, countsForRss, label);
      sampler.start();
      cpu0 = process.cpuUsage();
      elu0 = perf.eventLoopUtilization();
      m0 = machineTicks();
      t0 = performance.now();
    },
    stop() {
      hook?.stop();
      const server = sampler!.stop();
      const cpu = process.cpuUsage(cpu0);
      const elu = perf.eventLoopUtilization(elu0);
      const m1 = machineTicks();
      const s = (performance.now() - t0) / 1000;
      const pct = (ticks: number) => (ticks / clockTicks() / s) * 100;
      const cpuPct = ((cpu.user + cpu.system) / 1e6 / s) * 100;
      return {
        server,
        client: {
          cpuPct: round1(cpuPct),
          eventLoopPct: round1(elu.utilization * 100),
          otherCpuPct: round1(Math.max(0, pct(m1.busy - m0.busy) - server.cpuPct - cpuPct)),
          stealPct: round1(pct(m1.steal - m0.steal)),
        },
      };
    },
  };
}

/** wrangler dev runs two workerd processes: the one with the inspector runs the Worker and its Durable Objects. */
function wranglerLabel(): (p: ProcStat) => string {
  const cache = new Map<number, string>();
  return (p) => {
    if (p.name !== "workerd") return p.name === "node" ? "node (wrangler)" : p.name;
    let l = cache.get(p.pid);
    if (!l) cache.set(p.pid, (l = cmdline(p.pid).includes("--inspector-addr") ? "workerd (worker + DO)" : "workerd (entry proxy)"));
    return l;
  };
}

/** Environment variables that change how `wrangler dev` runs (recorded with the results). */
const WRANGLER_ENV = ["X_LOCAL_OBSERVABILITY", "X_LOCAL_EXPLORER"];

/** wrangler dev streams every invocation to a local observability collector unless X_LOCAL_OBSERVABILITY=false. */
function localObservability(): string {
  const v = process.env.X_LOCAL_OBSERVABILITY;
  if (v === undefined) return "on (wrangler's default; X_LOCAL_OBSERVABILITY unset)";
  return /^(false|0|no|off)$/i.test(v) ? `off (X_LOCAL_OBSERVABILITY=${v})` : `on (X_LOCAL_OBSERVABILITY=${v})`;
}

/**
 * CPU (% of one core) used over `ms` by everything except this process and the server trees:
 * other people's work on a shared machine.
 */
async function otherLoad(roots: number[], ms = 1000): Promise<number> {
  const ours = () => {
    const procs = allProcs();
    let t = 0;
    for (const r of [process.pid, ...roots]) for (const p of processTree(r, procs)) t += p.cpuTicks;
    return t;
  };
  const m0 = machineTicks();
  const o0 = ours();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const busy = machineTicks().busy - m0.busy - (ours() - o0);
  return round1(Math.max(0, (busy / clockTicks() / ((performance.now() - t0) / 1000)) * 100));
}

/** Waits (up to `maxWaitS`) until other processes leave the machine mostly idle; returns the last reading. */
async function waitForQuiet(roots: number[], opts: Options, log: (s: string) => void): Promise<number> {
  let load = await otherLoad(roots);
  if (load <= opts.quietPct) return load;
  const deadline = performance.now() + opts.quietWaitS * 1000;
  log(`machine busy: other processes use ${load}% of a core; waiting up to ${opts.quietWaitS} s for < ${opts.quietPct}%…`);
  while (load > opts.quietPct && performance.now() < deadline) load = await otherLoad(roots, 2000);
  if (load > opts.quietPct) log(`still busy (${load}%): measuring anyway; the "other load" column shows it`);
  return load;
}

function selected(o: Options, w: { id: string; group: string }): boolean {
  return !o.only || o.only.some((x) => x === w.group || x === w.id || w.id.startsWith(`${x}-`));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let opts: Options;
  try {
    opts = parseOptions(argv);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n\n${HELP}`);
    process.exit(2);
  }
  const root = projectRoot();
  const startedAt = new Date();
  const list = workloads(opts).filter((w) => selected(opts, w) || (opts.scale && w.group === "scale"));
  if (list.length === 0) throw new Error(`--only ${opts.only?.join(",")} selects no workload`);
  const progress = new Progress(list.length * opts.systems.length);
  const notes: string[] = [];

  let ek: LocalServer | undefined;
  let ekRoot: number | undefined;
  let attachedPid: number | undefined;
  let served: { url: string; proc: ChildProcess; dir: string } | undefined;
  let zk: ZooKeeperServer | undefined;
  let profiler: WorkerProfiler | undefined;
  const ekVersion = edgekeeperVersion(root);
  const id = startedAt.toISOString().replace(/[:]/g, "-").replace(/\.\d+Z$/, "Z");
  const cleanupSync = () => {
    killAllZooKeepers();
    if (ekRoot !== undefined) {
      const tree = processTree(ekRoot).map((p) => p.pid);
      try {
        process.kill(-ekRoot, "SIGKILL");
      } catch {
        // gone
      }
      waitGoneSync(tree);
    }
    if (ek) rmSync(dirname(ek.persistDir), { recursive: true, force: true });
    if (served) {
      try {
        process.kill(-served.proc.pid!, "SIGKILL");
      } catch {
        // gone
      }
      rmSync(served.dir, { recursive: true, force: true });
    }
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.once(sig, () => {
      progress.done();
      process.stderr.write(`\n${sig}: stopping the servers\n`);
      cleanupSync();
      process.exit(130);
    });

  try {
    progress.log(`bench: ${list.length} workloads × ${opts.systems.join(" + ")}; ${opts.url ? `edgekeeper at ${opts.url}` : `starting edgekeeper (${opts.server})…`}`);
    if (!opts.url && opts.server === "workerd") {
      served = await startServe();
      opts.url = served.url;
    }
    let ekUrl: string;
    let ekHow: string;
    let meterEk: (hook?: ProfileHook) => Meter;
    if (opts.url) {
      ekUrl = opts.url.replace(/\/$/, "");
      const port = Number(new URL(ekUrl).port || 80);
      const pid = pidListeningOn(port);
      if (pid === undefined) throw new Error(`no process listens on port ${port} (${ekUrl})`);
      ekRoot = undefined;
      attachedPid = pid;
      ekHow = served
        ? `\`npm run serve\` (scripts/serve.mjs: the \`wrangler deploy --dry-run\` bundle on bare workerd, SQLite on local disk) started by the benchmark on a free port with a fresh state directory; measured: process ${pid} (workerd) and its children; one namespace, i.e. one Durable Object, for every workload.`
        : `already running at ${ekUrl} (--url): process ${pid} (\`${cmdline(pid).slice(0, 200)}\`) and its children; its state was not reset (this run used a fresh namespace).`;
      meterEk = (hook) => meterFor(pid, () => true, undefined, hook);
      progress.log(`edgekeeper at ${ekUrl}: pid ${pid} ${cmdline(pid).slice(0, 120)}`);
    } else {
      ek = await startServer({ startTimeoutMs: 120_000 });
      ekRoot = findWranglerRoot(ek);
      ekUrl = ek.url;
      ekHow = `\`wrangler dev --local\` started by test/e2e/server.ts on a free port with a fresh \`--persist-to\` directory (local Durable Object SQLite storage); one namespace, i.e. one Durable Object, for every workload; default vars; wrangler's local observability ${localObservability()}.`;
      const root = ekRoot;
      meterEk = (hook) => meterFor(root, (p) => p.name === "workerd", wranglerLabel(), hook);
      progress.log(`edgekeeper on ${ek.url} (wrangler pid ${ekRoot})`);
    }
    // A fresh namespace per run (also on a server that is already running).
    const namespace = `bench-${id}`;
    let profiling: Promise<CpuProfile> | undefined;
    let hook: ProfileHook | undefined;
    if (opts.profile) {
      if (ekRoot === undefined) throw new Error("--profile needs the wrangler dev the script starts (not --url)");
      const port = Number(/--inspector-port (\d+)/.exec(cmdline(ekRoot))?.[1]);
      profiler = await WorkerProfiler.connect(port);
      const pr = profiler;
      hook = {
        start: () => {
          profiling = pr.start().then(() => undefined as unknown as CpuProfile);
          profiling.catch(() => {});
        },
        stop: () => {
          const started = profiling;
          profiling = (started ?? Promise.resolve()).then(() => pr.stop());
          profiling.catch(() => {});
        },
      };
      notes.push("Profiled run (--profile): a V8 CPU profile of the Worker was taken in every edgekeeper window, which slows edgekeeper down; use its numbers for proportions, not for speed.");
    }
    if (!opts.coalesce) notes.push("--no-coalesce: edgekeeper's client sent one frame per request (coalescing off).");
    notes.push(
      opts.share
        ? "edgekeeper's sessions in the bench process shared WebSockets (client option `share`, up to 200 sessions per socket); ZooKeeper's client has one TCP connection per session."
        : "--no-share: every edgekeeper session had its own WebSocket.",
    );
    const treeRssMiB = (pid: number | undefined) => () => (pid === undefined ? 0 : processTree(pid).reduce((a, p) => a + p.rssBytes, 0) / 2 ** 20);
    const targets: Array<{ target: Target; meter: Meter; rss: () => number }> = [
      { target: edgekeeperTarget(ekUrl, namespace, opts.coalesce, opts.share), meter: meterEk(hook), rss: treeRssMiB(ekRoot ?? attachedPid) },
    ];
    if (opts.systems.includes("zookeeper")) {
      ensureZooKeeperInstalled((s) => progress.log(s));
      progress.log("starting ZooKeeper…");
      zk = await startZooKeeper();
      targets.push({ target: zookeeperTarget(zk.connectString), meter: meterFor(zk.pid, () => true), rss: treeRssMiB(zk.pid) });
      progress.log(`ZooKeeper ${zk.version} on ${zk.connectString} (pid ${zk.pid})`);
    }

    const data = new Uint8Array(opts.dataBytes);
    for (let i = 0; i < data.length; i++) data[i] = 97 + (i % 26);
    const results: WorkloadResult[] = [];
    for (const w of list) {
      const wr: WorkloadResult = {
        id: w.id,
        group: w.group,
        title: w.title,
        shape: w.shape,
        kind: w.kind,
        unit: w.unit,
        latencyLabel: w.latencyLabel,
        systems: {},
        ratios: { throughput: null, latencyP50: null, latencyP99: null },
      };
      for (const { target, meter, rss } of targets) {
        const roots = [ekRoot ?? attachedPid, zk?.pid].filter((p): p is number => p !== undefined);
        if (opts.quietWaitS > 0) await waitForQuiet(roots, opts, (m) => progress.log(m));
        progress.begin(`${target.name.padEnd(10)} ${w.group}. ${w.title} [${w.shape}]`);
        let r: SystemResult;
        try {
          const m = await w.run(target, { opts, meter, data, serverRssMiB: rss, progress: (f, d) => progress.update(f, d) });
          r = {
            ok: true,
            count: m.count,
            durationS: m.durationS,
            throughput: m.throughput,
            latency: m.latency,
            errors: m.errors,
            firstError: m.firstError,
            server: m.usage.server,
            client: m.usage.client,
            extra: m.extra,
          };
          const tp = r.throughput === null ? "" : `${Math.round(r.throughput)} ${w.unit}, `;
          progress.log(
            `${target.name.padEnd(10)} ${w.id}: ${tp}p50 ${r.latency.p50Ms} ms, p99 ${r.latency.p99Ms} ms; server CPU ${r.server.cpuPct}%, RSS ${r.server.rssMaxMiB} MiB; client CPU ${r.client.cpuPct}%${r.errors ? `; ${r.errors} errors (${r.firstError})` : ""}`,
          );
        } catch (e) {
          const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
          progress.log(`${target.name.padEnd(10)} ${w.id}: FAILED ${msg}`);
          r = {
            ok: false,
            error: e instanceof Error ? e.message : String(e),
            count: 0,
            durationS: 0,
            throughput: null,
            latency: { count: 0, p50Ms: null, p90Ms: null, p99Ms: null, maxMs: null, meanMs: null },
            errors: 0,
            server: { cpuPct: 0, cpuPctByName: {}, rssMaxMiB: 0, treeRssMaxMiB: 0, processes: {}, samples: 0 },
            client: { cpuPct: 0, eventLoopPct: 0 },
          };
        }
        if (target.name === "edgekeeper" && profiling) {
          try {
            const prof = await profiling;
            const dir = join(resolve(root, opts.out), "profiles", id);
            mkdirSync(dir, { recursive: true });
            const file = join(dir, `${w.id}.cpuprofile`);
            writeFileSync(file, JSON.stringify(prof));
            r.profile = { ...summarizeProfile(prof, ek ? findDevBundle(join(dirname(ek.persistDir), "project")) : undefined), file: relative(root, file) };
            const p = r.profile;
            progress.log(
              `           profile: ${Math.round(100 - (p.idleMs / p.totalMs) * 100)}% busy; ${p.byFile
                .slice(0, 5)
                .map((f) => `${f.file} ${f.pct}%`)
                .join(", ")}`,
            );
          } catch (e) {
            progress.log(`           profile failed: ${e instanceof Error ? e.message : String(e)}`);
          }
          profiling = undefined;
        }
        wr.systems[target.name] = r;
      }
      const e = wr.systems.edgekeeper;
      const z = wr.systems.zookeeper;
      if (e?.ok && z?.ok) {
        const div = (a: number | null, b: number | null) => (a && b ? Math.round((a / b) * 1000) / 1000 : null);
        wr.ratios = {
          throughput: div(e.throughput, z.throughput),
          latencyP50: div(z.latency.p50Ms, e.latency.p50Ms),
          latencyP99: div(z.latency.p99Ms, e.latency.p99Ms),
        };
      }
      results.push(wr);
    }
    progress.done();

    notes.push(
      "Both servers run for the whole run; each workload runs on edgekeeper, then on ZooKeeper, with fresh sessions. The load generator shares the machine's cores with the servers.",
    );
    const finishedAt = new Date();
    const res: Results = {
      schema: 1,
      id,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      command: commandLine(argv),
      options: opts,
      machine: machineInfo(),
      versions: {
        node: process.version,
        edgekeeper: ekVersion,
        wrangler: packageVersion(root, "wrangler"),
        workerd: packageVersion(root, "workerd"),
        zookeeper: zk?.version,
        zookeeperDebian: zk ? debianPackageVersion() : undefined,
        java: zk ? javaVersion() : undefined,
        zkClient: zk ? packageVersion(root, "node-zookeeper-client") : undefined,
      },
      servers: {
        edgekeeper: {
          how: ekHow,
          url: ekUrl,
          namespace,
          env: Object.fromEntries(WRANGLER_ENV.map((k) => [k, process.env[k]])),
        },
        ...(zk
          ? {
              zookeeper: {
                how: `standalone \`QuorumPeerMain\` with a fresh dataDir in the temp dir, default fsync (forceSync=yes), ${"`-Xmx1000m`"} as zkServer.sh, logging via slf4j-simple to a file; command \`${zk.command.replace(/zoo\.cfg$/, "zoo.cfg")}\``,
                config: zk.config.replace(zk.dataDir, "<temp>/data"),
              },
            }
          : {}),
      },
      workloads: results,
      notes,
    };
    const outDir = resolve(root, opts.out);
    mkdirSync(outDir, { recursive: true });
    const file = join(outDir, `${id}.json`);
    writeFileSync(file, JSON.stringify(res, null, 2) + "\n");
    writeFileSync(join(outDir, "latest.json"), JSON.stringify(res, null, 2) + "\n");
    process.stdout.write(`\n${summaryTable(res)}\n\nresults: ${relative(process.cwd(), file)} (and latest.json)\n`);
    if (opts.report) {
      const doc = join(root, "docs", "benchmarks.md");
      writeFileSync(doc, renderMarkdown(res, { resultsPath: relative(root, file), root }));
      process.stdout.write(`report: ${relative(process.cwd(), doc)}\n`);
    }
  } finally {
    progress.done();
    profiler?.close();
    await Promise.allSettled([ek?.stop(), zk?.stop()]);
    if (served) {
      try {
        process.kill(-served.proc.pid!, "SIGTERM");
      } catch {
        // already gone
      }
      rmSync(served.dir, { recursive: true, force: true });
      served = undefined;
    }
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`\nbench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
