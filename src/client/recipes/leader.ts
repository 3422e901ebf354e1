import type { EdgeKeeper, Watcher } from "../client.js";
import { ClosedError, ConnectionLossError, NoNodeError, SessionExpiredError } from "../errors.js";
import { contend, deleteGuaranteed, Hold, Lease, predecessor } from "./lock-internals.js";
import { sortBySequence } from "../../core/contenders.js";
import { ensurePath } from "./sequence.js";
import { deadlineOf, retryOnLoss, Wakeup } from "./waiting.js";

/**
 * Leader election, per docs/recipes.md: candidates are `candidate-<seq>` EPHEMERAL_SEQUENTIAL
 * children of the election path, with the candidate's id as data; the lowest is the leader;
 * each candidate watches only the one just before it. The leader's fencing token is the czxid
 * of its candidate node. LeaderLatch and LeaderSelector follow the same rules, so they can
 * take part in one election.
 */

const isOver = (e: unknown) => e instanceof SessionExpiredError || e instanceof ClosedError;
const overError = (zk: EdgeKeeper) => (zk.state === "expired" ? new SessionExpiredError("session expired") : new ClosedError(`client is ${zk.state}`));
const final = (s: string) => s === "expired" || s === "closed" || s === "authFailed";
const randomId = () => (typeof crypto !== "undefined" && "randomUUID" in crypto ? crypto.randomUUID() : Math.random().toString(36).slice(2));

/**
 * Curator's LeaderLatch: once started, this candidate stays in the election until closed,
 * and is told when it gains or loses leadership.
 *
 * Connection states follow Curator's default ("standard") error policy:
 * - `suspended` (connection lost, session maybe alive): leadership is reported lost at once
 *   (onNotLeader), since this client can no longer know whether it still leads. On reconnect
 *   the latch re-reads the candidates and, if its node is still first, reports leadership again
 *   (with the same token).
 * - session expired or client closed: the candidate node is gone and this client can never
 *   rejoin (its sessions do not come back): the latch closes. Start a new latch on a new
 *   client to stand again. Curator's latch would re-create its node on the new session
 *   instead, because a Curator client survives expiry.
 */
export class LeaderLatch {
  readonly id: string;
  private state: "latent" | "started" | "closed" = "latent";
  private leader = false;
  private ourPath: string | undefined;
  private ourToken: number | undefined;
  private readonly stop = new AbortController();
  private readonly onLeader = new Set<(token: number) => void>();
  private readonly onNot = new Set<() => void>();
  private readonly changed = new Set<() => void>();
  private offState: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly zk: EdgeKeeper,
    readonly path: string,
    options: { id?: string } = {},
  ) {
    this.id = options.id ?? randomId();
  }

  /** Joins the election: resolves once this candidate's node exists (not when it leads). */
  async start(): Promise<void> {
    if (this.state !== "latent") throw new Error("a LeaderLatch can be started only once");
    this.state = "started";
    this.offState = this.zk.onState((s) => {
      if (s === "suspended") this.setLeader(false);
      else if (final(s)) this.end();
    });
    try {
      await this.createNode();
    } catch (e) {
      this.end();
      throw e;
    }
    this.loop = this.run();
  }

  hasLeadership(): boolean {
    return this.leader;
  }

  /** The fencing token (czxid of the candidate node) while this candidate leads. */
  get token(): number | undefined {
    return this.leader ? this.ourToken : undefined;
  }

  /** Listens for gaining leadership; returns an unsubscribe function. */
  onLeadership(listener: (token: number) => void): () => void {
    this.onLeader.add(listener);
    return () => this.onLeader.delete(listener);
  }

  /** Listens for losing leadership (suspension, expiry, close); returns an unsubscribe function. */
  onNotLeader(listener: () => void): () => void {
    this.onNot.add(listener);
    return () => this.onNot.delete(listener);
  }

  /**
   * Resolves true when this candidate leads (at once if it does), false if `timeout` passes
   * first; rejects if `signal` aborts or the latch closes.
   */
  awaitLeadership(opts: { signal?: AbortSignal; timeout?: number } = {}): Promise<boolean> {
    const deadline = deadlineOf(opts.timeout);
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = (v: boolean | Error) => {
        this.changed.delete(check);
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
      const check = () => {
        if (this.leader) finish(true);
        else if (this.state === "closed") finish(new ClosedError("the latch is closed"));
      };
      const onAbort = () => finish(opts.signal!.reason ?? new DOMException("aborted", "AbortError"));
      if (opts.signal?.aborted) return onAbort();
      if (this.state === "latent") return finish(new Error("the latch is not started"));
      this.changed.add(check);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      if (deadline !== Infinity) timer = setTimeout(() => finish(false), Math.max(0, deadline - Date.now()));
      check();
    });
  }

  /** The current leader's id and node, or null when there is no candidate. */
  async getLeader(): Promise<{ id: string; path: string } | null> {
    for (const name of sortBySequence(await this.zk.getChildren(this.path))) {
      try {
        const { data } = await this.zk.getString(`${this.path}/${name}`);
        return { id: data, path: `${this.path}/${name}` };
      } catch (e) {
        if (!(e instanceof NoNodeError)) throw e;
      }
    }
    return null;
  }

  /** Leaves the election: leadership (if any) ends and the candidate node is deleted. */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    const path = this.ourPath;
    this.end();
    await this.loop?.catch(() => {});
    if (path) await deleteGuaranteed(this.zk, path);
  }

  private end(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.offState?.();
    this.stop.abort(new ClosedError("the latch is closed"));
    this.setLeader(false);
    for (const c of [...this.changed]) c();
  }

  private async createNode(): Promise<void> {
    await retryOnLoss(this.zk, () => ensurePath(this.zk, this.path));
    const r = await this.zk.create2(`${this.path}/candidate-`, this.id, { mode: "ephemeral_sequential", timeout: 0 });
    if (this.state === "closed") {
      await deleteGuaranteed(this.zk, r.path);
      return;
    }
    this.ourPath = r.path;
    this.ourToken = r.stat.czxid;
  }

  private setLeader(v: boolean): void {
    if (this.leader === v) return;
    this.leader = v;
    const ls = v ? [...this.onLeader].map((l) => () => l(this.ourToken!)) : [...this.onNot];
    for (const l of ls) {
      try {
        l();
      } catch (err) {
        console.error("edgekeeper: leader listener threw", err);
      }
    }
    for (const c of [...this.changed]) c();
  }

  /** Check, watch one node, wait for it or for a connection change, repeat. */
  private async run(): Promise<void> {
    while (this.state === "started") {
      let watched: { path: string; w: Watcher } | undefined;
      let fired = false;
      const wake = new Wakeup();
      const offState = this.zk.onState((s) => s !== "connected" && wake.trigger());
      try {
        if (this.zk.state !== "connected") await this.zk.waitConnected();
        if (!this.ourPath) await this.createNode(); // our node was deleted by someone: stand again
        const ourPath = this.ourPath!;
        const name = ourPath.slice(this.path.length + 1);
        const sorted = sortBySequence(await this.zk.getChildren(this.path));
        const index = sorted.indexOf(name);
        if (index < 0) {
          this.setLeader(false);
          this.ourPath = undefined;
          continue;
        }
        // The leader watches its own node (someone may delete it), the others their predecessor.
        const target = index === 0 ? ourPath : `${this.path}/${sorted[index - 1]}`;
        const w: Watcher = () => ((fired = true), wake.trigger());
        try {
          await this.zk.getData(target, { watch: w });
          watched = { path: target, w };
        } catch (e) {
          if (e instanceof NoNodeError) continue;
          throw e;
        }
        if (this.zk.state !== "connected") continue; // suspended meanwhile: not a leader now
        this.setLeader(index === 0);
        await wake.wait(this.zk, Infinity, this.stop.signal);
      } catch (e) {
        if (this.stop.signal.aborted || isOver(e) || final(this.zk.state)) break;
        if (!(e instanceof ConnectionLossError)) {
          console.error("edgekeeper: LeaderLatch check failed; retrying", e);
          await new Promise((r) => setTimeout(r, 1000));
        }
      } finally {
        offState();
        if (watched && !fired) this.zk.removeWatches(watched.path, "data", watched.w).catch(() => {});
      }
    }
    this.end();
  }
}

export interface LeaderSelectorOptions {
  /**
   * Runs while this candidate leads; leadership is relinquished when it returns (or throws).
   * `signal` aborts when leadership must stop: the connection is suspended, the session ends,
   * the candidate node is deleted, or the selector is closed. Stop promptly when it does:
   * another candidate may lead from then on (`lease.token` fences what this one still does).
   */
  takeLeadership: (signal: AbortSignal, lease: Lease) => Promise<void>;
  /** Queue again after each leadership ends (default false: lead at most once per start/requeue). */
  autoRequeue?: boolean;
  /** The candidate's id, stored as its node's data (default: a random UUID). */
  id?: string;
  /** Errors thrown by takeLeadership or the election (default: console.error). */
  onError?: (error: unknown) => void;
}

/**
 * Curator's LeaderSelector: runs `takeLeadership` each time this candidate is elected.
 * Like Curator's default listener, a `suspended` connection cancels leadership (aborts the
 * signal) rather than waiting to learn whether the session survived; after the function
 * returns the candidate node is deleted (retried until the connection is back or the session
 * is over) and, with autoRequeue, the candidate queues again at the back. A session that
 * expires ends the selector (this client cannot rejoin).
 */
export class LeaderSelector {
  readonly id: string;
  private readonly stop = new AbortController();
  private wanted = false;
  private running: Promise<void> | undefined;
  private leading = false;
  private closed = false;

  constructor(
    private readonly zk: EdgeKeeper,
    readonly path: string,
    private readonly options: LeaderSelectorOptions,
  ) {
    this.id = options.id ?? randomId();
  }

  /** Queues for leadership (once; see autoRequeue). */
  start(): void {
    if (this.closed) throw new ClosedError("the selector is closed");
    this.requeue();
  }

  /** Queues again unless already queued or leading; returns whether it queued. */
  requeue(): boolean {
    if (this.closed || this.wanted) return false;
    this.wanted = true;
    this.running ??= this.run().finally(() => (this.running = undefined));
    return true;
  }

  hasLeadership(): boolean {
    return this.leading;
  }

  /** Leaves the election: a running takeLeadership is aborted, and awaited. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wanted = false;
    this.stop.abort(new ClosedError("the selector is closed"));
    await this.running;
  }

  private async run(): Promise<void> {
    const onError = this.options.onError ?? ((e: unknown) => console.error("edgekeeper: LeaderSelector", e));
    while (this.wanted && !this.closed) {
      this.wanted = !!this.options.autoRequeue;
      try {
        await this.leadOnce();
      } catch (e) {
        if (this.stop.signal.aborted) break;
        if (isOver(e) || final(this.zk.state)) break;
        onError(e);
        this.wanted = true; // the election itself failed: try again
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    this.wanted = false;
  }

  private async leadOnce(): Promise<void> {
    const spec = { prefix: "candidate-", data: this.id, blocker: predecessor };
    const got = await contend(this.zk, this.path, spec, { signal: this.stop.signal });
    const lease = new Lease(new Hold(this.zk, got!.path, got!.token));
    const ac = new AbortController();
    const cancel = (reason: unknown) => ac.abort(reason);
    const off = lease.onStateChange((s) => {
      if (s === "suspended") cancel(new ConnectionLossError("connection suspended: leadership cancelled"));
      else if (s === "lost") lease.lost.then(cancel);
    });
    const onStop = () => cancel(this.stop.signal.reason);
    this.stop.signal.addEventListener("abort", onStop, { once: true });
    if (lease.state !== "held") cancel(new ConnectionLossError(`leadership cancelled: lease is ${lease.state}`));
    this.leading = true;
    try {
      await this.options.takeLeadership(ac.signal, lease);
    } catch (e) {
      if (!ac.signal.aborted) (this.options.onError ?? ((x: unknown) => console.error("edgekeeper: takeLeadership threw", x)))(e);
    } finally {
      this.leading = false;
      off();
      this.stop.signal.removeEventListener("abort", onStop);
      await lease.release().catch(() => {});
    }
  }
}
