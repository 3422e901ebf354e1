import { Code, ZkError } from "../core/errors.js";

/**
 * Requests in flight per connection (docs/limits.md): the requests of frames queued for the
 * next group commit and not yet answered (SessionServer.accept/drain). A connection may have
 * at most `max` of them; the requests of a frame beyond that are answered THROTTLEDOP, in
 * order, and never applied. A frame answered at once is never queued, so never in flight.
 * Everything queued is answered by one drain, which starts the counts over.
 */
export class InFlight<C extends object> {
  private readonly counts = new Map<C, number>();

  constructor(readonly max: number) {}

  /** A frame of `n` requests is queued on `conn`: how many of them may run (the first ones). */
  admit(conn: C, n: number): number {
    const used = this.counts.get(conn) ?? 0;
    const admitted = Math.max(0, Math.min(n, this.max - used));
    if (admitted > 0) this.counts.set(conn, used + admitted);
    return admitted;
  }

  /** Requests queued on `conn` (for tests and introspection). */
  of(conn: C): number {
    return this.counts.get(conn) ?? 0;
  }

  /** A drain answered everything queued. */
  clear(): void {
    this.counts.clear();
  }

  refusal(): ZkError {
    return new ZkError(
      Code.THROTTLEDOP,
      `too many requests in flight on this connection: at most ${this.max} may wait for a commit (EDGEKEEPER_MAX_INFLIGHT); wait for the responses to earlier requests, then retry`,
    );
  }
}
