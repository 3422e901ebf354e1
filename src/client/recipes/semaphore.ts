import type { EdgeKeeper } from "../client.js";
import { contend, Hold, Lease, ownerData, type AcquireOptions, type Block } from "./lock-internals.js";

/**
 * A counting semaphore: at most `maxLeases` holders at once. Layout (docs/recipes.md):
 * `lease-<seq>` EPHEMERAL_SEQUENTIAL children of `path`; the `maxLeases` lowest hold.
 *
 * Why not Curator's InterProcessSemaphoreV2 (a lock serialising lease creation, with the lock
 * holder watching all leases)? Its rule is "at most N lease nodes" rather than "the N lowest",
 * which would not agree with other clients (the HTTP lock API) applying the documented rule.
 * Why not its V1 (waiter i watches node i-N)? Leases are released in any order: when a holder
 * other than node i-N leaves, the waiter that should enter is not woken.
 *
 * With "the N lowest hold", a contender's rank only ever drops, and only through deletions
 * below it. The design, one watch per waiter:
 * - the first waiter (rank N, the "head") watches the children list: any holder leaving lets
 *   it in (when N = 1 it just watches the one holder);
 * - every later waiter (rank > N) watches the waiter just before it, for deletion or change;
 * - every granted contender touches its node (setData, same data), which wakes the waiter
 *   behind it, if any: that one may now be the head (or a holder) and re-reads. Always, not
 *   only after waiting: another contender may have seen it waiting in an older read. If the
 *   touch came before the watch was set, the waiter sees the node's version above 0 and
 *   re-reads at once. (N = 1 needs no touch: the head watches the one holder.)
 * So a release wakes the head only, and each grant wakes at most one more waiter: no herd.
 * Grants follow sequence order, so tokens (czxids) increase from grant to grant.
 */
export class Semaphore {
  constructor(
    private readonly zk: EdgeKeeper,
    readonly path: string,
    readonly maxLeases: number,
    private readonly options: { owner?: string } = {},
  ) {
    if (!Number.isInteger(maxLeases) || maxLeases < 1) throw new RangeError("maxLeases must be a positive integer");
  }

  private readonly blocker = (sorted: string[], i: number): Block => {
    const n = this.maxLeases;
    if (i < n) return null;
    if (i === n) return n === 1 ? { node: sorted[0] } : "children";
    return { node: sorted[i - 1], skipIfTouched: true };
  };

  /** Waits for a lease; resolves null if `timeout` passes first (this contender is withdrawn). */
  acquire(opts?: { signal?: AbortSignal }): Promise<Lease>;
  acquire(opts: AcquireOptions): Promise<Lease | null>;
  async acquire(opts: AcquireOptions = {}): Promise<Lease | null> {
    const data = ownerData(this.zk, this.options.owner);
    const got = await contend(this.zk, this.path, { prefix: "lease-", data, blocker: this.blocker, touchOnGrant: this.maxLeases > 1 }, opts);
    return got && new Lease(new Hold(this.zk, got.path, got.token));
  }
}
