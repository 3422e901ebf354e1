import { LatencyHistogram, Tally } from "../core/metrics.js";
import type { ApiCall, ApiStreamCall } from "../protocol/api.js";

/** How a request reached the namespace. */
export type Transport = "ws" | "http";

/**
 * What the namespace's object counts while it runs, for the admin views (docs/admin.md):
 * requests by transport and operation, and latencies. In memory only — recording never touches
 * storage, and everything starts from zero when the object starts (after an eviction, a deploy
 * or a crash): `startedAt` says since when.
 *
 * Latency is measured per frame (WebSocket) or call (HTTP), from the moment it reached the
 * object to the moment its reply could leave: inside a Durable Object the clock only moves on
 * I/O, so a frame that wrote is measured at its durable commit — one `storage.sync()` promise
 * per event that wrote (a group commit shares one), not per request — and one that only read at
 * its reply, in the same event (0 ms in production, where the clock stands still meanwhile).
 */
export class Telemetry {
  readonly startedAt: number;
  readonly requests: Record<Transport, Tally> = { ws: new Tally(), http: new Tally() };
  /** Frames and calls that wrote (arrival → durable commit), and those that did not (arrival → reply). */
  readonly latency = { write: new LatencyHistogram(), read: new LatencyHistogram() };
  /** WebSocket frames received (handled or queued). */
  frames = 0;
  /** Arrival times of the frames queued for the next group commit, in order. */
  private queued: number[] = [];

  constructor(
    /** Resolves once every write made so far is durable. */
    private readonly durable: () => Promise<void>,
    now = Date.now(),
  ) {
    this.startedAt = now;
  }

  /** A request (or a handshake) of a WebSocket frame was answered; `err` is its code (0: ok). */
  wsRequest(op: string, err: number): void {
    this.requests.ws.count(op, err !== 0);
  }

  /** A WebSocket frame was handled or queued; `wrote` when it was handled at once and committed something. */
  frame(arrivedAt: number, queued: boolean, wrote: boolean): void {
    this.frames++;
    if (queued) this.queued.push(arrivedAt);
    else this.settle([arrivedAt], wrote);
  }

  /** The queued frames were applied, in one event; `wrote` when it committed something. */
  drained(wrote: boolean): void {
    if (this.queued.length === 0) return;
    const arrivals = this.queued;
    this.queued = [];
    this.settle(arrivals, wrote);
  }

  /**
   * An HTTP API call: counted now, its failure when its reply comes. A held call (lock
   * acquire, long-poll) is not timed: its latency is the wait its caller asked for.
   */
  httpCall(call: ApiCall | ApiStreamCall, arrivedAt: number, wrote: boolean, reply: Promise<{ ok: boolean }>): void {
    const op = opOf(call);
    this.requests.http.count(op);
    const held = call.op === "acquire" || call.op === "poll" || call.op === "watch" || call.op === "observe";
    if (held) {
      reply.then((r) => r.ok || this.requests.http.fail(op), () => this.requests.http.fail(op));
      return;
    }
    reply.then(
      (r) => {
        if (!r.ok) this.requests.http.fail(op);
        this.settle([arrivedAt], wrote);
      },
      () => this.requests.http.fail(op),
    );
  }

  private settle(arrivals: number[], wrote: boolean): void {
    if (!wrote) {
      const now = Date.now();
      for (const at of arrivals) this.latency.read.record(now - at);
      return;
    }
    this.durable().then(
      () => {
        const now = Date.now();
        for (const at of arrivals) this.latency.write.record(now - at);
      },
      () => {
        // The commit failed: the object is being reset; nothing was acknowledged.
      },
    );
  }
}

/** The name an HTTP call is counted under: a node request by its op, anything else by the call. */
export function opOf(call: ApiCall | ApiStreamCall): string {
  return call.op === "execute" ? call.request.op : call.op;
}
