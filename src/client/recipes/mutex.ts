import type { EdgeKeeper } from "../client.js";
import { ContenderLock, predecessor, type LockOptions } from "./lock-internals.js";

/**
 * A fair distributed mutex (Curator's InterProcessMutex), in the layout of docs/recipes.md:
 * each contender is a `lock-<seq>` EPHEMERAL_SEQUENTIAL child of `path`; the lowest holds.
 *
 * - Fair: grants go in arrival (sequence) order.
 * - Herd-free: a waiter watches only the node just before it, so a release wakes one waiter.
 * - Fencing: `lease.token` is the czxid of the holder's node; tokens strictly increase.
 * - A waiter that gives up (timeout, abort) deletes its node, even one whose create was still
 *   in flight, so nobody queues behind an orphan.
 * - Connection loss: creates are idempotent (request ids) and resent on reconnect; reads are
 *   retried; watches survive reconnects. While disconnected a lease is `suspended` (do not act
 *   on the resource), then `held` again or `lost` (session expired or presumed expired, client
 *   closed, node deleted). See LeaseState.
 *
 * ```ts
 * const lease = await new Mutex(zk, "/locks/report").acquire({ timeout: 5000 });
 * if (lease) try { await job(lease.token, lease.signal); } finally { await lease.release(); }
 * ```
 */
export class Mutex extends ContenderLock {
  constructor(zk: EdgeKeeper, path: string, options: LockOptions = {}) {
    super(zk, path, "lock-", predecessor, options);
  }
}
