/**
 * Metrics primitives for the admin views (docs/admin.md): request tallies, a log-linear latency
 * histogram with percentiles, and the Prometheus text exposition format (version 0.0.4).
 * Runtime-free like the rest of src/core: whoever records gives the values (ms), whoever renders
 * gives the families.
 */

// ------------------------------------------------------------------ tallies

export interface Tallied {
  count: number;
  /** How many of them failed (answered with a ZooKeeper error code). */
  errors: number;
}

/**
 * Counts by a small, fixed set of keys (operation names chosen by the server, never by a
 * client), with how many failed.
 */
export class Tally {
  private readonly counts = new Map<string, Tallied>();

  private entry(key: string): Tallied {
    let t = this.counts.get(key);
    if (!t) this.counts.set(key, (t = { count: 0, errors: 0 }));
    return t;
  }

  /** One more `key`; `failed` when it is already known to have failed. */
  count(key: string, failed = false): void {
    const t = this.entry(key);
    t.count++;
    if (failed) t.errors++;
  }

  /** One `key` counted earlier turned out to fail (a reply that came later). */
  fail(key: string): void {
    this.entry(key).errors++;
  }

  get total(): number {
    let n = 0;
    for (const t of this.counts.values()) n += t.count;
    return n;
  }

  /** Every key with its counts, keys sorted. */
  toJSON(): Record<string, Tallied> {
    const out: Record<string, Tallied> = {};
    for (const key of [...this.counts.keys()].sort()) out[key] = { ...this.counts.get(key)! };
    return out;
  }
}

// ------------------------------------------------------------------ latency histogram

/** Sub-buckets per power of two: values below 2 × SUB are exact (integers), above within ±1/(2 × SUB). */
const SUB_BITS = 5;
const SUB = 1 << SUB_BITS;
/** Values are capped here (ms): about 35 years. */
const CAP = 2 ** 40;

export interface LatencySummary {
  /** How many values were recorded. */
  count: number;
  /** Their sum (for an average over any window: difference of sums / difference of counts). */
  sum: number;
  min: number;
  avg: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * A log-linear histogram in the manner of HdrHistogram, of non-negative values (ms): exact for
 * integers below 64, then 32 buckets per power of two, so a percentile is within ±1.6 % of a
 * recorded value; min, max, count and sum are exact. Memory is bounded (at most ~1,200 buckets,
 * allocated as values reach them) whatever the number of values, and recording is O(1).
 */
export class LatencyHistogram {
  private readonly buckets: number[] = [];
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  record(value: number): void {
    const v = Number.isFinite(value) ? Math.min(CAP, Math.max(0, value)) : value > 0 ? CAP : 0;
    const i = bucketOf(v);
    while (this.buckets.length <= i) this.buckets.push(0);
    this.buckets[i]++;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /**
   * The value at quantile `q` (0..1): the smallest recorded value's bucket such that at least
   * q × count values are at or below it, represented by its midpoint (its value below 64),
   * clamped to [min, max]. 0 when empty.
   */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    if (q <= 0) return this.min;
    if (q >= 1) return this.max;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i];
      if (seen >= rank) {
        const [lo, width] = boundsOf(i);
        const v = width === 1 ? lo : lo + width / 2;
        return Math.min(this.max, Math.max(this.min, v));
      }
    }
    return this.max;
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      sum: this.sum,
      min: this.count ? this.min : 0,
      avg: this.count ? this.sum / this.count : 0,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      max: this.max,
    };
  }
}

function bucketOf(v: number): number {
  if (v < 2 * SUB) return Math.floor(v);
  const e = Math.floor(Math.log2(v));
  const shift = e - SUB_BITS;
  // floor(v / 2^shift) is in [SUB, 2 SUB); log2 may round at exact powers, so clamp.
  const sub = Math.min(2 * SUB - 1, Math.max(SUB, Math.floor(v / 2 ** shift))) - SUB;
  return 2 * SUB + (shift - 1) * SUB + sub;
}

/** A bucket's lower bound and width. */
function boundsOf(i: number): [number, number] {
  if (i < 2 * SUB) return [i, 1];
  const shift = Math.floor((i - 2 * SUB) / SUB) + 1;
  const sub = (i - 2 * SUB) % SUB;
  const width = 2 ** shift;
  return [(SUB + sub) * width, width];
}

// ------------------------------------------------------------------ Prometheus text format

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type MetricType = "counter" | "gauge" | "summary" | "histogram" | "untyped";
export type Labels = Record<string, string>;

export interface Sample {
  /** Appended to the family's name: "_sum" and "_count" of a summary, "_bucket" of a histogram. */
  suffix?: string;
  labels?: Labels;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const escapeHelp = (s: string): string => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const escapeLabel = (s: string): string => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

/** A sample value as Prometheus writes it: integers plainly, NaN, +Inf, -Inf. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/**
 * Renders metric families in the Prometheus text exposition format 0.0.4: for each family its
 * `# HELP` and `# TYPE` lines, then its samples, each with `common` labels first; label values
 * and help text escaped. Throws on a metric or label name the format does not allow (a bug, not
 * input: names are chosen by the server).
 */
export function renderPrometheus(families: readonly MetricFamily[], common: Labels = {}): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const f of families) {
    if (!METRIC_NAME.test(f.name)) throw new Error(`bad metric name ${JSON.stringify(f.name)}`);
    if (seen.has(f.name)) throw new Error(`metric family ${f.name} rendered twice`);
    seen.add(f.name);
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const name = f.name + (s.suffix ?? "");
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name ${JSON.stringify(name)}`);
      const labels = { ...common, ...s.labels };
      const pairs = Object.entries(labels).map(([k, v]) => {
        if (!LABEL_NAME.test(k) || k.startsWith("__")) throw new Error(`bad label name ${JSON.stringify(k)}`);
        return `${k}="${escapeLabel(v)}"`;
      });
      lines.push(`${name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${formatValue(s.value)}`);
    }
  }
  return lines.join("\n") + "\n";
}

/**
 * The samples of a Prometheus summary from latency summaries (one per label set): quantiles 0.5,
 * 0.9 and 0.99, `_sum` and `_count`, scaled by `scale` (e.g. 1/1000: ms to seconds).
 */
export function summarySamples(entries: ReadonlyArray<{ labels: Labels; summary: LatencySummary }>, scale = 1): Sample[] {
  const out: Sample[] = [];
  for (const { labels, summary: s } of entries) {
    for (const [q, v] of [["0.5", s.p50], ["0.9", s.p90], ["0.99", s.p99]] as const) out.push({ labels: { ...labels, quantile: q }, value: v * scale });
    out.push({ suffix: "_sum", labels, value: s.sum * scale }, { suffix: "_count", labels, value: s.count });
  }
  return out;
}
