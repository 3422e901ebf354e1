import type { EdgeKeeper, Watcher } from "../client.js";
import { json, type Data } from "../data.js";
import { ClosedError, NoNodeError, SessionExpiredError } from "../errors.js";
import { sortBySequence } from "../../core/contenders.js";
import { ensurePath } from "./sequence.js";
import { deadlineOf, retryOnLoss, Wakeup } from "./waiting.js";

/**
 * What the lock-like recipes (Mutex, ReadWriteLock, Semaphore, LeaderSelector) share, after
 * Curator's LockInternals: a contender is an EPHEMERAL_SEQUENTIAL child of the base path
 * (docs/recipes.md); it loops "read the children, find what blocks me, watch only that,
 * wait"; and once granted it holds a Lease whose fencing token is its node's czxid.
 */

export interface AcquireOptions {
  /** Gives up (the promise rejects with the signal's reason) when the signal aborts. */
  signal?: AbortSignal;
  /**
   * Gives up (the promise resolves with null) after this many ms of waiting for other
   * contenders. 0 = try once. Creating this contender's node and reading the children are not
   * cut short while the client is connected (they take one round trip each), so `timeout: 0`
   * still takes a free lock.
   */
  timeout?: number;
}

/**
 * - `held`: granted, and the client is connected.
 * - `suspended`: the connection dropped. The session (and the node) may still be alive, but
 *   this client cannot know whether the server has expired it: stop touching the guarded
 *   resource until the state is `held` again (Curator's SUSPENDED advice).
 * - `lost`: definitely gone: the session expired or the client was closed, the node was
 *   deleted by someone else, or the connection stayed suspended for a whole session timeout
 *   (the session is then presumed expired, as Curator does; the node is deleted if the
 *   session turns out to be alive, so it cannot block others).
 * - `released`: released by its owner.
 */
export type LeaseState = "held" | "suspended" | "lost" | "released";

/** The grant of a lock, a semaphore slot or a leadership. */
export class Lease {
  private done = false;

  /** @internal */
  constructor(private readonly hold: Hold) {}

  /**
   * The fencing token: the czxid of this contender's node. Tokens of one lock strictly
   * increase from grant to grant; pass it to the guarded resource, which must reject a token
   * lower than the highest it has seen.
   */
  get token(): number {
    return this.hold.token;
  }
  /** The contender node. */
  get path(): string {
    return this.hold.path;
  }
  get state(): LeaseState {
    return this.done && this.hold.state !== "lost" ? "released" : this.hold.state;
  }
  /** Resolves (never rejects) with the reason once the lease is lost; pending forever if it is released first. */
  get lost(): Promise<Error> {
    return this.hold.lost;
  }
  /** Aborted when the lease is lost or released: hand it to the work done under the lease. */
  get signal(): AbortSignal {
    return this.hold.signal;
  }
  /** Listens to state changes (held ⇄ suspended → lost | released); returns an unsubscribe function. */
  onStateChange(listener: (state: LeaseState) => void): () => void {
    return this.hold.listen(listener);
  }
  /**
   * Releases this grant (idempotent per Lease object). For a reentrant lock the node is
   * deleted with the last outstanding Lease. The delete is retried across connection loss.
   */
  release(): Promise<void> {
    if (this.done) return Promise.resolve();
    this.done = true;
    return this.hold.unref();
  }
}

const isOver = (e: unknown) => e instanceof SessionExpiredError || e instanceof ClosedError;

/**
 * Deletes a node, retrying across lost connections (Curator's guaranteed delete). Done when
 * the node is gone, or when the session is over (its ephemerals went with it).
 */
export async function deleteGuaranteed(zk: EdgeKeeper, path: string): Promise<void> {
  try {
    await retryOnLoss(zk, () => zk.delete(path));
  } catch (e) {
    if (!(e instanceof NoNodeError) && !isOver(e)) throw e;
  }
}

/** One granted contender node and its liveness; shared by the Leases of a reentrant lock. */
export class Hold {
  state: "held" | "suspended" | "lost" | "released" = "held";
  refs = 1;
  readonly lost: Promise<Error>;
  private resolveLost!: (e: Error) => void;
  private readonly ac = new AbortController();
  private readonly listeners = new Set<(s: LeaseState) => void>();
  private readonly offState: () => void;
  private presumedExpiry: ReturnType<typeof setTimeout> | undefined;
  private ended = false;

  constructor(
    private readonly zk: EdgeKeeper,
    readonly path: string,
    readonly token: number,
    private readonly onEnd: (h: Hold) => void = () => {},
  ) {
    this.lost = new Promise((r) => (this.resolveLost = r));
    this.offState = zk.onState((s) => this.onClientState(s));
    this.watchNode();
    if (zk.state !== "connected") this.onClientState(zk.state);
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  /** A lease stays alive while the client is: watch this node for its deletion by anyone else. */
  private watchNode(): void {
    const w: Watcher = (e) => {
      if (this.ended) return;
      if (e.type === "NodeDeleted") this.lose(new NoNodeError(`${this.path} was deleted`));
      else this.watchNode(); // a data change (a semaphore's touch): keep watching
    };
    retryOnLoss(this.zk, () => this.zk.getData(this.path, { watch: w })).catch((e) => {
      if (!this.ended) this.lose(e instanceof Error ? e : new Error(String(e)));
    });
  }

  private onClientState(s: string): void {
    if (this.ended) return;
    if (s === "suspended") {
      this.set("suspended");
      // ZooKeeper clients learn of expiry only when they reconnect; like Curator, give up
      // after a whole session timeout without the server: it has expired us by then.
      this.presumedExpiry ??= setTimeout(() => {
        this.lose(new SessionExpiredError("the connection stayed down for a whole session timeout; the session is presumed expired"));
        // If the session does resume after all, the node must not block others.
        void deleteGuaranteed(this.zk, this.path).catch(() => {});
      }, this.zk.sessionTimeout);
    } else if (s === "connected") {
      if (this.presumedExpiry) clearTimeout(this.presumedExpiry);
      this.presumedExpiry = undefined;
      // Back on the same session, so our ephemeral is still there unless someone deleted it;
      // a read (ordered after the events replayed on resume) tells which before we say `held`.
      this.zk.exists(this.path).then(
        (stat) => {
          if (this.ended || this.zk.state !== "connected") return;
          if (stat && stat.ephemeralOwner === this.zk.sessionId) this.set("held");
          else this.lose(new NoNodeError(`${this.path} is gone`));
        },
        () => {}, // lost again, or the session ended: another state change follows
      );
    } else if (s === "expired" || s === "closed" || s === "authFailed") {
      this.lose(s === "expired" ? new SessionExpiredError("session expired") : new ClosedError(`client is ${s}`));
    }
  }

  private set(s: LeaseState): void {
    if (this.state === s) return;
    this.state = s as Hold["state"];
    for (const l of [...this.listeners]) {
      try {
        l(s);
      } catch (err) {
        console.error("edgekeeper: lease listener threw", err);
      }
    }
  }

  listen(l: (s: LeaseState) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private end(): void {
    this.ended = true;
    if (this.presumedExpiry) clearTimeout(this.presumedExpiry);
    this.offState();
    this.onEnd(this);
  }

  lose(reason: Error): void {
    if (this.ended) return;
    this.end();
    this.set("lost");
    this.resolveLost(reason);
    this.ac.abort(reason);
  }

  unref(): Promise<void> {
    if (--this.refs > 0 || this.ended) return Promise.resolve();
    this.end();
    this.set("released");
    this.ac.abort(new DOMException("lease released", "AbortError"));
    // Our own watch sees this delete and, the hold having ended, ignores it.
    return deleteGuaranteed(this.zk, this.path);
  }
}

/** What blocks a contender: nothing (it holds), one node, or — a semaphore's first waiter — the whole list. */
export type Block = null | "children" | { node: string; skipIfTouched?: boolean };

export interface ContenderSpec {
  /** Node name prefix: "lock-", "read-", "write-", "lease-", "candidate-". */
  prefix: string;
  data: Data;
  /** Decides from the children in grant order and this contender's index in them. */
  blocker(sorted: string[], index: number): Block;
  /** Touch (setData) the node when granted: see Semaphore. */
  touchOnGrant?: boolean;
}

const TIMED_OUT = Symbol("timed out");
const abortReason = (s: AbortSignal) => s.reason ?? new DOMException("aborted", "AbortError");

/**
 * Awaits one step of an acquisition (a create or a read). The signal cuts it short at once;
 * the deadline only if the client is not connected — a connected step is one round trip away,
 * and abandoning it would make `timeout: 0` fail on a free lock — unless `strict`.
 */
function step<T>(zk: EdgeKeeper, p: Promise<T>, deadline: number, signal?: AbortSignal, strict = false): Promise<T | typeof TIMED_OUT> {
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let offState: (() => void) | undefined;
    const finish = (f: () => void) => {
      if (timer) clearTimeout(timer);
      offState?.();
      signal?.removeEventListener("abort", onAbort);
      f();
    };
    const onAbort = () => finish(() => reject(abortReason(signal!)));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const ifOffline = () => (strict || zk.state !== "connected") && finish(() => resolve(TIMED_OUT));
    if (deadline !== Infinity)
      timer = setTimeout(() => {
        ifOffline();
        offState = zk.onState(ifOffline);
      }, Math.max(0, deadline - Date.now()));
    p.then(
      (v) => finish(() => resolve(v)),
      (e) => finish(() => reject(e)),
    );
  });
}

/** Lock node data (docs/recipes.md): who holds it, for operators. */
export const ownerData = (zk: EdgeKeeper, owner?: string): Uint8Array => json({ owner: owner ?? zk.sessionId ?? "", kind: "ws" });

/**
 * Runs one contender until it holds: returns its node path and fencing token, or null when the
 * timeout passes first. On timeout, abort or error its node is deleted (none is orphaned, even
 * if the create was still in flight: it is deleted when it lands).
 */
export async function contend(
  zk: EdgeKeeper,
  base: string,
  spec: ContenderSpec,
  opts: AcquireOptions = {},
): Promise<{ path: string; token: number } | null> {
  const { signal } = opts;
  const deadline = deadlineOf(opts.timeout);
  if (signal?.aborted) throw abortReason(signal);
  if ((await step(zk, retryOnLoss(zk, () => ensurePath(zk, base)), deadline, signal)) === TIMED_OUT) return null;

  // The create is never abandoned midway: an abandoned create's outcome would be unknown and
  // its node could be orphaned. It carries a request id, so the client re-sends it after a
  // lost connection and the server applies it once; it is not given a request timeout.
  let own: string | undefined;
  let abandoned = false;
  const creating = zk.create2(`${base}/${spec.prefix}`, spec.data, { mode: "ephemeral_sequential", timeout: 0 }).then((r) => {
    own = r.path;
    if (abandoned) void deleteGuaranteed(zk, r.path).catch(() => {});
    return r;
  });
  creating.catch(() => {});

  let watching: { path: string; type: "data" | "children"; w: Watcher } | undefined;
  const unwatch = () => {
    if (watching) zk.removeWatches(watching.path, watching.type, watching.w).catch(() => {});
    watching = undefined;
  };
  const giveUp = async () => {
    abandoned = true;
    unwatch();
    if (own === undefined || !["connected", "suspended", "connecting"].includes(zk.state)) return;
    const gone = deleteGuaranteed(zk, own).catch(() => {});
    // Wait for the delete when connected (so "no orphan" holds when acquire returns); while
    // disconnected it goes on in the background.
    if (zk.state === "connected") await gone;
  };

  try {
    const created = await step(zk, creating, deadline, signal);
    if (created === TIMED_OUT) return (await giveUp(), null);
    const name = created.path.slice(base.length + 1);
    let headMode = false; // a semaphore's first waiter reads the children with a watch
    let skipped = "";
    for (;;) {
      const wake = new Wakeup();
      const listed = await step(
        zk,
        retryOnLoss(zk, () => zk.getChildren(base, headMode ? { watch: wake.trigger } : {})),
        deadline,
        signal,
      );
      if (listed === TIMED_OUT) return (await giveUp(), null);
      if (headMode) watching = { path: base, type: "children", w: wake.trigger };
      const sorted = sortBySequence(listed);
      const index = sorted.indexOf(name);
      if (index < 0) throw new NoNodeError(`contender ${created.path} vanished (deleted, or its session ended)`);
      const block = spec.blocker(sorted, index);

      if (block === null) {
        unwatch();
        // Tell the contender that may be watching us as a waiter (see Semaphore).
        if (spec.touchOnGrant) await retryOnLoss(zk, () => zk.setData(created.path, spec.data));
        return { path: created.path, token: created.stat.czxid };
      }
      if (block === "children") {
        if (!headMode) {
          headMode = true; // read again, this time with the watch
          continue;
        }
      } else {
        unwatch();
        headMode = false;
        const node = `${base}/${block.node}`;
        let touched: number;
        try {
          const r = await step(zk, retryOnLoss(zk, () => zk.getData(node, { watch: wake.trigger })), deadline, signal);
          if (r === TIMED_OUT) return (await giveUp(), null);
          touched = r.stat.version;
        } catch (e) {
          if (e instanceof NoNodeError) continue; // it went between our two reads
          throw e;
        }
        watching = { path: node, type: "data", w: wake.trigger };
        // A touched predecessor was granted after our read of the children: look again
        // (once per version, so that someone else's setData cannot make us spin).
        const key = `${block.node}@${touched}`;
        if (block.skipIfTouched && touched > 0 && skipped !== key) {
          skipped = key;
          unwatch();
          continue;
        }
      }
      if (!(await wake.wait(zk, deadline, signal))) return (await giveUp(), null);
      watching = undefined; // one-shot: it fired
    }
  } catch (e) {
    await giveUp();
    throw e;
  }
}

/** The lock surface shared by Mutex and the two halves of a ReadWriteLock. */
export interface Lock {
  /** Waits for the lock; the Lease carries the fencing token. Without `timeout` it never resolves null. */
  acquire(opts?: { signal?: AbortSignal }): Promise<Lease>;
  /** With `timeout`: null if the lock was not granted in time (this contender's node is deleted). */
  acquire(opts: AcquireOptions): Promise<Lease | null>;
  /** Whether this object currently holds the lock (a Lease not yet released nor lost). */
  readonly isAcquired: boolean;
}

export interface LockOptions {
  /**
   * When true, an acquire() on the same object while it holds the lock succeeds at once with
   * the same node and token, and the node goes with the last release. JavaScript has no
   * threads, so reentrancy is per object: code that shares the object shares the lock.
   * Default false: calls on one object queue behind each other like separate clients, which
   * also serialises concurrent async tasks of one process.
   */
  reentrant?: boolean;
  /** Holder name stored in the node's data (default: the session id), for operators. */
  owner?: string;
}

/** A lock over one kind of contender: Mutex, and the read and write halves of a ReadWriteLock. */
export class ContenderLock implements Lock {
  private readonly holds = new Set<Hold>();
  /** The reentrant hold, if any. */
  private current: Hold | undefined;
  /** A reentrant object's acquisition in progress: later calls wait for its outcome. */
  private acquiring: Promise<unknown> | undefined;

  constructor(
    protected readonly zk: EdgeKeeper,
    readonly path: string,
    private readonly prefix: string,
    private readonly blocker: ContenderSpec["blocker"],
    protected readonly options: LockOptions = {},
  ) {}

  get isAcquired(): boolean {
    return this.holds.size > 0;
  }

  acquire(opts?: { signal?: AbortSignal }): Promise<Lease>;
  acquire(opts: AcquireOptions): Promise<Lease | null>;
  async acquire(opts: AcquireOptions = {}): Promise<Lease | null> {
    if (!this.options.reentrant) return this.fresh(opts);
    const deadline = deadlineOf(opts.timeout);
    while (this.acquiring) {
      const r = await step(this.zk, this.acquiring.catch(() => {}), deadline, opts.signal, true);
      if (r === TIMED_OUT) return null;
    }
    const h = this.current;
    if (h && (h.state === "held" || h.state === "suspended")) {
      h.refs++;
      return new Lease(h);
    }
    const remaining = deadline === Infinity ? undefined : Math.max(0, deadline - Date.now());
    const attempt = this.fresh({ signal: opts.signal, timeout: remaining });
    this.acquiring = attempt;
    try {
      return await attempt;
    } finally {
      if (this.acquiring === attempt) this.acquiring = undefined;
    }
  }

  private async fresh(opts: AcquireOptions): Promise<Lease | null> {
    const spec: ContenderSpec = { prefix: this.prefix, data: ownerData(this.zk, this.options.owner), blocker: this.blocker };
    const got = await contend(this.zk, this.path, spec, opts);
    if (!got) return null;
    const hold = new Hold(this.zk, got.path, got.token, (h) => {
      this.holds.delete(h);
      if (this.current === h) this.current = undefined;
    });
    this.holds.add(hold);
    if (this.options.reentrant) this.current = hold;
    return new Lease(hold);
  }
}

/** Mutex and writer rule: blocked by the contender just before it, whatever its kind. */
export const predecessor = (sorted: string[], index: number): Block => (index === 0 ? null : { node: sorted[index - 1] });
