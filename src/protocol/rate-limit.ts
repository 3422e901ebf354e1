import { Code, ZkError } from "../core/errors.js";

/**
 * Request rate limits (docs/limits.md): one token bucket per session (or per client address for
 * HTTP calls without a lease), in memory. A bucket holds up to `burst` tokens and refills at
 * `rate` per second; each request takes one. A request that finds less than one token is
 * refused with THROTTLEDOP and told how long to back off; it takes nothing.
 *
 * Buckets are not persisted: after a restart every session starts with a full one, which is
 * what a rate limit for fairness between clients needs (nothing is lost by forgetting).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly rate: number,
    readonly burst: number,
    /** Buckets kept before full ones (idle long enough to refill) are forgotten. */
    private readonly maxKeys = 100_000,
  ) {}

  /** Takes a token for `key` at `now` (ms): 0 when the request may go, else the ms until it may. */
  take(key: string, now: number): number {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.sweep(now);
      this.buckets.set(key, (b = { tokens: this.burst, at: now }));
    } else if (now > b.at) {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.rate) / 1000);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - b.tokens) * 1000) / this.rate));
  }

  /** The error for a refused request. */
  refusal(waitMs: number, who = "session"): ZkError {
    return new ZkError(
      Code.THROTTLEDOP,
      `request rate limit exceeded: at most ${this.rate} requests per second per ${who}, in bursts of up to ${this.burst} (EDGEKEEPER_MAX_REQUEST_RATE, EDGEKEEPER_REQUEST_BURST); back off and retry in ${waitMs} ms`,
    );
  }

  forget(key: string): void {
    this.buckets.delete(key);
  }

  /** Drops buckets that have refilled: a fresh one would be the same. */
  private sweep(now: number): void {
    for (const [key, b] of this.buckets) if (b.tokens + ((now - b.at) * this.rate) / 1000 >= this.burst) this.buckets.delete(key);
    // Everyone is busy: start over rather than grow without bound (a fresh bucket is full).
    if (this.buckets.size >= this.maxKeys) this.buckets.clear();
  }
}
