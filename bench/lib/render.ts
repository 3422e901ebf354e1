import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Results, SystemResult, WorkloadResult } from "./types.js";

/** Renders a results file as Markdown: docs/benchmarks.md and the console summary. */

const num = (x: number | null | undefined): string => {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  return x >= 100 ? Math.round(x).toLocaleString("en-US") : x >= 10 ? x.toFixed(1) : x.toFixed(2);
};
export const ms = (x: number | null | undefined): string => {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3);
};
export const ratio = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? "–" : `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}×`);

const SYS_LABEL: Record<string, string> = { edgekeeper: "edgekeeper", zookeeper: "ZooKeeper" };

/** Other processes used more than this (% of a core) during a window: flagged as noisy. */
export const NOISY_PCT = 25;
/** The load generator's event loop was this busy (%): the client, not the server, set the pace. */
export const CLIENT_BOUND_PCT = 85;

function cell(w: WorkloadResult, r: SystemResult | undefined): string {
  if (!r) return "not run";
  if (!r.ok) return `**failed**: ${r.error?.split("\n")[0] ?? "error"}`;
  const noisy = (r.client.otherCpuPct ?? 0) > NOISY_PCT ? ` ⚠ other load ${Math.round(r.client.otherCpuPct!)} %` : "";
  const bound = r.client.eventLoopPct >= CLIENT_BOUND_PCT ? " ‡" : "";
  const lat = `p50 ${ms(r.latency.p50Ms)} / p99 ${ms(r.latency.p99Ms)} ms${noisy}${bound}`;
  return r.throughput === null ? lat : `${num(r.throughput)} ${w.unit}<br>${lat}`;
}

function ratioCell(w: WorkloadResult): string {
  const parts: string[] = [];
  if (w.ratios.throughput !== null) parts.push(`throughput **${ratio(w.ratios.throughput)}**`);
  if (w.kind === "latency" && w.ratios.latencyP50 !== null)
    parts.push(`latency ZK/ek p50 **${ratio(w.ratios.latencyP50)}**, p99 ${ratio(w.ratios.latencyP99)}`);
  return parts.join("<br>") || "–";
}

/** The summary table: one row per workload. */
export function summaryTable(res: Results): string {
  const both = res.options.systems.length > 1;
  const head = both
    ? "| workload | shape | edgekeeper | ZooKeeper 3.8 | edgekeeper / ZooKeeper |\n|---|---|---|---|---|"
    : "| workload | shape | edgekeeper |\n|---|---|---|";
  const rows = res.workloads.map((w) => {
    const name = `**${w.group}.** ${w.title}`;
    return both
      ? `| ${name} | ${w.shape} | ${cell(w, w.systems.edgekeeper)} | ${cell(w, w.systems.zookeeper)} | ${ratioCell(w)} |`
      : `| ${name} | ${w.shape} | ${cell(w, w.systems.edgekeeper)} |`;
  });
  return [head, ...rows].join("\n");
}

function detailTable(res: Results): string {
  const head =
    "| workload | system | throughput | p50 ms | p90 ms | p99 ms | max ms | server CPU (% of a core) | server CPU per op (µs) | server RSS max (MiB) | client CPU % | client event loop % | other load % | errors |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";
  const rows: string[] = [];
  for (const w of res.workloads)
    for (const sys of res.options.systems) {
      const r = w.systems[sys];
      if (!r) continue;
      if (!r.ok) {
        rows.push(`| ${w.id} | ${SYS_LABEL[sys]} | failed: ${r.error?.split("\n")[0]} | | | | | | | | | | | |`);
        continue;
      }
      const tp = r.throughput === null ? "–" : `${num(r.throughput)} ${w.unit}`;
      const perOp = r.throughput ? num((r.server.cpuPct / 100 / r.throughput) * 1e6) : "–";
      const rss = sys === "edgekeeper" ? `${num(r.server.rssMaxMiB)} (tree ${num(r.server.treeRssMaxMiB)})` : num(r.server.rssMaxMiB);
      rows.push(
        `| ${w.id} | ${SYS_LABEL[sys]} | ${tp} | ${ms(r.latency.p50Ms)} | ${ms(r.latency.p90Ms)} | ${ms(r.latency.p99Ms)} | ${ms(r.latency.maxMs)} | ${num(r.server.cpuPct)} | ${perOp} | ${rss} | ${num(r.client.cpuPct)} | ${num(r.client.eventLoopPct)} | ${num(r.client.otherCpuPct)} | ${r.errors}${r.firstError ? ` (${r.firstError.slice(0, 80)})` : ""} |`,
      );
    }
  return [head, ...rows].join("\n");
}

function cpuByProcessTable(res: Results): string {
  const fmt = (r: SystemResult | undefined) =>
    !r || !r.ok
      ? "–"
      : Object.entries(r.server.cpuPctByName)
          .filter(([, v]) => v >= 0.5)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ${num(v)}`)
          .join(", ") || "idle";
  const both = res.options.systems.length > 1;
  const head = both
    ? "| workload | edgekeeper server processes | ZooKeeper server | client (bench process) ek / ZK |\n|---|---|---|---|"
    : "| workload | edgekeeper server processes | client (bench process) |\n|---|---|---|";
  const rows = res.workloads.map((w) => {
    const e = w.systems.edgekeeper;
    const z = w.systems.zookeeper;
    const cl = (r?: SystemResult) => (r?.ok ? num(r.client.cpuPct) : "–");
    return both ? `| ${w.id} | ${fmt(e)} | ${fmt(z)} | ${cl(e)} / ${cl(z)} |` : `| ${w.id} | ${fmt(e)} | ${cl(e)} |`;
  });
  return [head, ...rows].join("\n");
}

function profileSection(res: Results): string {
  const rows: string[] = [];
  for (const w of res.workloads) {
    const p = w.systems.edgekeeper?.profile;
    if (!p) continue;
    const busy = Math.round(100 - (p.idleMs / p.totalMs) * 100);
    const files = p.byFile
      .slice(0, 6)
      .map((f) => `${f.file} ${num(f.pct)} %`)
      .join(", ");
    const fns = p.top
      .slice(0, 8)
      .map((f) => `\`${f.name}\` (${f.file}) ${num(f.pct)} %`)
      .join(", ");
    const natives = (p.nativeByCaller ?? [])
      .slice(0, 5)
      .map((f) => `\`${f.name}\` (${f.file}) ${num(f.pct)} %`)
      .join(", ");
    rows.push(`| ${w.id} | ${busy} % | ${files} | ${fns} | ${natives} |`);
  }
  if (!rows.length) return "";
  return `## Inside the Worker: V8 CPU profile

This run was profiled (\`--profile\`): a V8 CPU profile of the Worker and its Durable Object was
taken in each edgekeeper window through wrangler's inspector; the .cpuprofile files open in
Chrome DevTools. Shares are of the isolate's non-idle time; "(native)" is time in runtime
built-ins called from JS (the SQLite calls \`exec\`, \`toArray\`, \`transactionSync\`, WebSocket
\`send\`…), "(v8)" is "(program)" and "(garbage collector)". Time the isolate spends idle
(waiting for the next message or for a storage commit) is not attributed.

| workload | isolate busy | by source file | top functions (self time) | native time by JS caller |
|---|---|---|---|---|
${rows.join("\n")}
`;
}

function extrasSection(res: Results): string {
  const out: string[] = [];
  for (const w of res.workloads) {
    for (const sys of res.options.systems) {
      const r = w.systems[sys];
      if (!r?.ok || !r.extra) continue;
      const x = r.extra as Record<string, any>;
      if (w.group === "e" && x.reads && x.writes)
        out.push(`- ${w.id}, ${SYS_LABEL[sys]}: reads p50 ${ms(x.reads.p50Ms)} / p99 ${ms(x.reads.p99Ms)} ms (${x.reads.count}), writes p50 ${ms(x.writes.p50Ms)} / p99 ${ms(x.writes.p99Ms)} ms (${x.writes.count})`);
      if (w.group === "d" && x.opsPerSec) out.push(`- ${w.id}, ${SYS_LABEL[sys]}: ${num(x.opsPerSec)} ops/s (2 per cycle)`);
      if (w.group === "f")
        out.push(`- ${w.id}, ${SYS_LABEL[sys]}: ${x.acquisitions} acquisitions, ${x.mutualExclusionViolations} mutual-exclusion violations; lock: ${x.lock}`);
      if (w.group === "g")
        out.push(
          `- ${w.id}, ${SYS_LABEL[sys]}: every notification p50 ${ms(x.everyNotification?.p50Ms)} / p99 ${ms(x.everyNotification?.p99Ms)} ms after the write; arming all watches (one getData+watch per session) p50 ${ms(x.armAllWatchesMs?.p50Ms)} ms; ${num(x.sessions)} sessions connected in ${x.connectAllSessionsS} s (${num(x.sessionsConnectedPerSec)}/s, 50 at a time)`,
        );
    }
  }
  return out.join("\n");
}

function kv(rows: Array<[string, unknown]>): string {
  return ["| | |", "|---|---|", ...rows.filter(([, v]) => v !== undefined && v !== "").map(([k, v]) => `| ${k} | ${String(v).replace(/\n/g, "<br>")} |`)].join("\n");
}

const DEFINITIONS = `- **a. create**: one session creates N persistent nodes with 100 bytes of data each under one
  parent (\`/bench/a<k>/n-<i>\`), keeping 1 or 64 requests in flight. Throughput = N / wall time.
  An unmeasured warm-up of a few hundred creates under another parent precedes it.
- **b. setData / c. getData**: 8 sessions, each with 1 or 8 requests in flight (closed loops) on its
  own 100-byte node, for a fixed time after a warm-up. Latency = one request's round trip.
- **d. lock pattern**: 8 sessions, each looping create EPHEMERAL_SEQUENTIAL \`/bench/d/lock-\` then
  delete it (one cycle = 2 writes). Throughput in cycles/s.
- **e. mix**: 8 sessions × 8 in flight over 100 shared 100-byte nodes; each request is a getData
  (90 %) or a setData (10 %) on a random node.
- **f. lock hand-off**: 8 contenders (one session each) loop acquire → release → acquire on one
  herd-free mutex (sequential ephemeral children of the lock node; a waiter watches only its
  predecessor). Hand-off latency = from the holder calling release to the next holder's acquire
  resolving (same process, same clock). edgekeeper uses its \`Mutex\` recipe
  (\`src/client/recipes/mutex.ts\`); ZooKeeper runs the same request sequence by hand
  (\`bench/lib/targets.ts\`): exists(lock), create, getChildren, getData+watch on the predecessor,
  getChildren again after its event, and the recipe's getData+watch on its own node once granted.
  Every acquisition is checked for mutual exclusion.
- **g. watch fan-out**: W sessions (one per watcher) each set a one-shot data watch (getData with a
  watch) on one node; a separate writer session sets its data. Latency = from the setData call to
  the last of the W notifications arriving (all clients live in the benchmark process, so this
  includes their client-side handling). Watches are re-armed between rounds; 2 warm-up rounds.
- **Server CPU** = utime + stime of the server's process tree from /proc over the measured window,
  as % of one core (200 % = both cores). edgekeeper's tree is the one \`workerd\` process of
  \`npm run serve\` (with \`--server wrangler-dev\`: \`wrangler dev\`'s node and the \`workerd\`
  processes it starts); ZooKeeper's is one \`java\` process. **Server RSS** = max over samples
  (every 250 ms) of the summed RSS of that tree (with wrangler dev, the \`workerd\` processes, the
  whole tree in parentheses), the JVM for ZooKeeper.
- **Server CPU per op** = server CPU time / operations (µs of CPU per op, per cycle, per hand-off).
- **Client CPU / event loop**: CPU and event-loop utilisation of the one Node process that runs
  every client. It shares the 2 cores with the server; an event loop near 100 % means the
  load generator, not the server, sets the pace.
- **Other load** = CPU busy on the whole machine (/proc/stat) minus the server and the client
  during the window: the other, idle server and anything else running. A large value means a
  noisy neighbour disturbed that measurement.`;

/** docs/benchmarks.md */
export function renderMarkdown(res: Results, opts: { resultsPath: string; root: string }): string {
  const m = res.machine as Record<string, any>;
  const v = res.versions;
  const zk = res.servers.zookeeper as Record<string, any> | undefined;
  const ek = res.servers.edgekeeper as Record<string, any>;
  const both = res.options.systems.length > 1;
  const o = res.options;
  const notesPath = notesFile(opts.root);
  const notes = existsSync(notesPath) ? readFileSync(notesPath, "utf8").trim() : "";

  return `# Benchmarks${both ? ": edgekeeper and ZooKeeper 3.8, side by side" : ""}

<!-- Generated by \`npm run bench:report\` from ${opts.resultsPath}; edit bench/lib/render.ts or
     bench/where-the-time-goes.md, not this file. -->

Measured on ${res.startedAt.slice(0, 10)}, in one run, on one machine: the local edgekeeper service
(${String(res.servers.edgekeeper?.how ?? "").startsWith("`npm run serve`") ? "\`npm run serve\`: the deploy bundle on bare workerd with local SQLite storage" : "\`wrangler dev\`, i.e. workerd with local SQLite storage, behind wrangler's development tooling"})${both ? " and a standalone Apache ZooKeeper from Debian's `zookeeper` package" : ""}, both on 127.0.0.1, driven by
one Node process running the clients; edgekeeper ${res.versions.edgekeeper ?? "?"}. The levers applied since the first
(baseline) run, and what each was worth, are below the tables. Reproduce with:

\`\`\`sh
${res.command}
npm run bench:report      # regenerates this file from bench/results/latest.json
\`\`\`

## Summary

Throughput ratios are edgekeeper / ZooKeeper (**> 1: edgekeeper is faster**). For the
latency-type workloads (f, g) the latency ratio is ZooKeeper / edgekeeper, so that **> 1 also
means edgekeeper is better**. ⚠ marks a measurement during which other processes on the
machine used more than ${NOISY_PCT} % of a core (see "other load" below); ‡ marks one where the
load generator's event loop was ≥ ${CLIENT_BOUND_PCT} % busy, so the client, not the server, set
the pace: that figure is a lower bound for the server.${(res.options as { share?: boolean }).share ? " edgekeeper's sessions shared the benchmark process's WebSockets (the client's `share` option, docs/client.md); ZooKeeper's client has a TCP connection per session. `--no-share` gives each session its own socket: the difference is in the levers table." : ""}

${summaryTable(res)}

## Machine and versions

${kv([
  ["CPU", `${m.cpuModel} (${m.nproc} cores visible)`],
  ["memory", `${m.memTotalMiB} MiB`],
  ["OS / kernel", `${m.os} / ${m.kernel}`],
  ["temp dir filesystem (both servers' data)", m.tmpFs],
  ["4 KiB write + fdatasync there", m.fsync4k ? `p50 ${m.fsync4k.p50Us} µs, p99 ${m.fsync4k.p99Us} µs` : undefined],
  ["Node (benchmark + clients)", v.node],
  ["edgekeeper", v.edgekeeper],
  ["wrangler / workerd", `${v.wrangler} / ${v.workerd}`],
  ["ZooKeeper", v.zookeeper ? `${v.zookeeper} (Debian package ${v.zookeeperDebian})` : undefined],
  ["Java", v.java],
  ["ZooKeeper client", v.zkClient ? `node-zookeeper-client ${v.zkClient}` : undefined],
  ["run", `${res.startedAt} → ${res.finishedAt}`],
])}

How the servers ran:

- **edgekeeper**: ${ek.how}
${zk ? `- **ZooKeeper**: ${zk.how}\n\n\`\`\`ini\n${String(zk.config).trim()}\n\`\`\`` : ""}

Options of this run: ${o.quick ? "`--quick`, " : ""}${o.duration} s measured per timed workload after ${o.warmup} s warm-up; ${o.creates.toLocaleString("en-US")} creates; ${o.sessions} sessions; fan-out ${o.fanout.join(", ")} watchers × ${o.fanoutRounds} rounds; ${o.dataBytes}-byte data.

## Details

${detailTable(res)}

${extrasSection(res)}

## Server CPU by process

% of one core over each measured window, per process name${both ? "; the last column is the benchmark process (both clients)" : ""}.

${cpuByProcessTable(res)}

${profileSection(res)}${notes ? `\n${notes}\n` : ""}
## What each workload does

${DEFINITIONS}
${res.notes.length ? `\nNotes from the run:\n\n${res.notes.map((n) => `- ${n}`).join("\n")}\n` : ""}
## Running it

- \`npm run bench\` — edgekeeper only; \`npm run bench -- --compare zookeeper\` — both (installs
  Debian's \`zookeeper\` with apt-get when it is missing and the script runs as root).
- \`--quick\` — a ~1-minute smoke run (small sizes, short windows).
- Sizes: \`--duration <s>\` (${"default 10"}), \`--warmup <s>\`, \`--creates <n>\`, \`--sessions <n>\`,
  \`--inflight 1,8\`, \`--create-inflight 1,64\`, \`--mix-inflight <n>\`, \`--mix-nodes <n>\`,
  \`--contenders <n>\`, \`--fanout 100,1000\`, \`--fanout-rounds <n>\`, \`--data-bytes <n>\`;
  \`--only a,b,g\` (groups or workload ids) runs a subset.
- Before each step the script waits (\`--quiet-wait\`, up to 120 s) until other processes use less
  than \`--quiet-pct\` (15 %) of a core, and records what they used during the window.
- \`--profile\` (with \`--server wrangler-dev\` only) also takes a V8 CPU profile of the Worker
  in every edgekeeper window (through wrangler's inspector; files under \`bench/results/profiles/\`), and the report then shows where
  the isolate's time went. Profiling slows edgekeeper down: use it for proportions only.
- With \`--server wrangler-dev\`, wrangler's local observability (on by default) is recorded with the results; run with
  \`X_LOCAL_OBSERVABILITY=false\` in the environment to measure without it.
- Results: \`bench/results/<timestamp>.json\` and \`bench/results/latest.json\`;
  \`npm run bench:report [results.json]\` writes this file, \`--report\` does it at the end of a run.
- Benchmarks are scripts, never timed tests. Keep the machine otherwise idle while they run:
  the clients and the servers share its cores.
`;
}

export const notesFile = (root: string) => join(root, "bench", "where-the-time-goes.md");
