import type { Meter } from "./workloads.js";

/**
 * A timed measurement: a warm-up, then a measured window of `durMs` during which the meter
 * runs. Progress is reported every 250 ms. `finish()` stops the timers and returns the
 * meter's usage for the window (also when the work ended early).
 */
export class MeasuredWindow {
  readonly t0 = performance.now();
  readonly start: number;
  readonly end: number;
  /** True once the window is over: loops that run until told to stop check this. */
  over = false;
  private usage: ReturnType<Meter["stop"]> | undefined;
  private started = false;
  private readonly timers: Array<ReturnType<typeof setTimeout>>;
  private readonly ticker: ReturnType<typeof setInterval>;

  constructor(
    private readonly meter: Meter,
    warmMs: number,
    readonly durMs: number,
    /** Called every 250 ms with the elapsed fraction of warm-up + window and the time now. */
    progress: (fraction: number, now: number) => void,
  ) {
    this.start = this.t0 + warmMs;
    this.end = this.start + durMs;
    this.timers = [
      setTimeout(() => (meter.start(), (this.started = true)), warmMs),
      setTimeout(() => ((this.usage = meter.stop()), (this.over = true)), warmMs + durMs),
    ];
    this.ticker = setInterval(() => {
      const now = performance.now();
      progress((now - this.t0) / (warmMs + durMs), now);
    }, 250);
  }

  /** Whether time `t` (performance.now()) falls inside the measured window. */
  contains(t: number): boolean {
    return t >= this.start && t < this.end;
  }

  finish(): ReturnType<Meter["stop"]> {
    clearInterval(this.ticker);
    for (const t of this.timers) clearTimeout(t);
    this.over = true;
    if (!this.usage) {
      if (!this.started) this.meter.start();
      this.usage = this.meter.stop();
    }
    return this.usage;
  }
}
