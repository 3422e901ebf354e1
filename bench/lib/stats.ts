/** Latency samples (ms) in a growable Float64Array: no per-sample allocation. */
export class Recorder {
  private buf = new Float64Array(1 << 14);
  n = 0;

  push(ms: number): void {
    if (this.n === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.n++] = ms;
  }

  values(): Float64Array {
    return this.buf.subarray(0, this.n);
  }

  summary(): LatencySummary {
    return summarize(this.values());
  }
}

export interface LatencySummary {
  count: number;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  meanMs: number | null;
}

/** Nearest-rank percentile of sorted values. */
function pct(sorted: Float64Array, p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

export function summarize(values: Float64Array | number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return { count: 0, p50Ms: null, p90Ms: null, p99Ms: null, maxMs: null, meanMs: null };
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    p50Ms: r3(pct(sorted, 50)),
    p90Ms: r3(pct(sorted, 90)),
    p99Ms: r3(pct(sorted, 99)),
    maxMs: r3(sorted[sorted.length - 1]),
    meanMs: r3(sum / sorted.length),
  };
}
