import type { UsageReport } from "./proc.js";
import type { ProfileSummary } from "./profiler.js";
import type { LatencySummary } from "./stats.js";
import type { SystemName } from "./targets.js";

export interface Options {
  /** The systems to run, edgekeeper first. */
  systems: SystemName[];
  quick: boolean;
  /** Seconds measured per timed workload (b–f). */
  duration: number;
  /** Seconds of unmeasured warm-up before each timed workload. */
  warmup: number;
  /** Nodes created by workload a (per in-flight setting). */
  creates: number;
  /** Unmeasured creates before each create run. */
  warmupCreates: number;
  /** Sessions for workloads b–e. */
  sessions: number;
  /** In-flight requests per session for b and c. */
  inflight: number[];
  /** In-flight requests of the single create client in a. */
  createInflight: number[];
  /** In-flight requests per session for the mix (e). */
  mixInflight: number;
  /** Nodes the mix reads and writes. */
  mixNodes: number;
  /** Fraction of writes in the mix. */
  mixWrites: number;
  /** Contenders of the lock hand-off (f). */
  contenders: number;
  /** Watcher counts for fan-out (g); one session per watcher. */
  fanout: number[];
  /** Measured rounds per fan-out size (plus 2 warm-up rounds). */
  fanoutRounds: number;
  /** Add the scale group (issue 4) to the run; also implied by --only scale. */
  scale: boolean;
  /** Znode counts the scale tree grows through. */
  scaleZnodes: number[];
  /** Idle-session counts for the scale group. */
  scaleSessions: number[];
  /** Give up growing the scale tree (and report the rate) after this many seconds per step. */
  scaleMaxGrowS: number;
  /** Bytes of znode data. */
  dataBytes: number;
  /** Workload ids or groups to run (null = all). */
  only: string[] | null;
  /** Results directory. */
  out: string;
  /** An edgekeeper already running (instead of starting wrangler dev). */
  url?: string;
  /** Which local server to start when no --url is given. */
  server: "workerd" | "wrangler-dev";
  /** edgekeeper's client coalesces the requests of one tick into one frame (default). */
  coalesce: boolean;
  /** edgekeeper's sessions share the bench process's WebSockets (SocketShare; default). */
  share: boolean;
  /** Also write docs/benchmarks.md. */
  report: boolean;
  /** Take a V8 CPU profile of edgekeeper's Worker during each measured window (perturbs the numbers). */
  profile: boolean;
  /** Before each step, wait until other processes use less than this % of a core… */
  quietPct: number;
  /** …for at most this many seconds (0: do not wait). */
  quietWaitS: number;
}

export interface ClientUsage {
  /** CPU of the benchmark process (the load generator, both clients live here), % of one core. */
  cpuPct: number;
  /** Event-loop utilisation of the benchmark process, %: near 100 means the client side is saturated. */
  eventLoopPct: number;
  /**
   * CPU used on the machine by everything else (the other, idle server included) during the
   * window, % of one core: a noisy neighbour shows up here.
   */
  otherCpuPct?: number;
  /** CPU stolen by the hypervisor during the window, % of one core. */
  stealPct?: number;
}

export interface SystemResult {
  ok: boolean;
  error?: string;
  /** Operations (or cycles, hand-offs, rounds) counted in the measured window. */
  count: number;
  durationS: number;
  /** count / durationS, in `unit`; null for latency-only workloads. */
  throughput: number | null;
  latency: LatencySummary;
  errors: number;
  firstError?: string;
  server: UsageReport;
  client: ClientUsage;
  extra?: Record<string, unknown>;
  /** With --profile (edgekeeper): where the Worker's JS time went. */
  profile?: ProfileSummary;
}

export interface WorkloadResult {
  id: string;
  group: string;
  title: string;
  /** Sessions × in flight, sizes: how the load is shaped. */
  shape: string;
  kind: "throughput" | "latency";
  /** Unit of `throughput`, e.g. "ops/s". */
  unit: string;
  /** What the latency percentiles measure. */
  latencyLabel: string;
  systems: Partial<Record<SystemName, SystemResult>>;
  ratios: {
    /** edgekeeper / ZooKeeper throughput (>1: edgekeeper is faster). */
    throughput: number | null;
    /** ZooKeeper / edgekeeper p50 latency (>1: edgekeeper is faster). */
    latencyP50: number | null;
    /** ZooKeeper / edgekeeper p99 latency (>1: edgekeeper is faster). */
    latencyP99: number | null;
  };
}

export interface Results {
  schema: 1;
  id: string;
  startedAt: string;
  finishedAt: string;
  /** The exact command that produced this file. */
  command: string;
  options: Options;
  machine: Record<string, unknown>;
  versions: Record<string, string | undefined>;
  servers: Record<string, Record<string, unknown>>;
  workloads: WorkloadResult[];
  notes: string[];
}
