import type { EdgeKeeper, Stat } from "../client.js";
import type { Data } from "../data.js";
import { json } from "../data.js";
import { NoNodeError, NodeExistsError } from "../errors.js";
import { joinPath } from "../../core/paths.js";
import { sequenceOf } from "../../core/contenders.js";
import { ensurePath } from "./sequence.js";
import { deadlineOf, retryOnLoss, Wakeup } from "./waiting.js";

const ITEM = "item-";
const LOCK = "lock-";

/** One queued item, as handed to a consumer. */
export interface QueueItem {
  /** The node name, `item-<seq>`. */
  name: string;
  path: string;
  data: Uint8Array;
  stat: Stat;
}

export interface QueueOptions {
  /**
   * Take each item under an ephemeral `lock-<item>` sibling (Curator's lockPath): while a
   * consumer processes an item, other consumers skip it; if the consumer's session ends
   * before it deletes the item, the lock vanishes with it and the item is delivered again.
   */
  lockedConsume?: boolean;
}

export interface TakeOptions {
  signal?: AbortSignal;
  /** Give up after this many ms (resolve null). Default: wait for ever. 0: do not wait. */
  timeout?: number;
}

/**
 * A distributed FIFO queue (Curator's DistributedQueue / SimpleDistributedQueue). Producers
 * add persistent sequential `item-<seq>` children of the base path; consumers take the
 * lowest available one.
 *
 * Delivery is **at least once**. `take(handler)` reads an item, runs `handler`, and deletes
 * the item only after the handler succeeded:
 * - if the handler throws, or the consumer dies before the delete, the item stays and is
 *   delivered again (to this or another consumer);
 * - without `lockedConsume`, two consumers that reach the same item at the same time both
 *   process it (the second to delete finds it gone): use the lock, or make handlers
 *   idempotent, when that matters;
 * - with `lockedConsume`, an item is processed by one consumer at a time; it is redelivered
 *   only when its consumer failed (handler threw, or its session ended — the ephemeral lock
 *   goes with it). A consumer cut off for longer than its session timeout may still be
 *   running its handler when another consumer gets the item.
 *
 * Order is FIFO for a single consumer; several consumers each take the lowest item they
 * can, so completions may interleave.
 */
export class DistributedQueue {
  constructor(
    readonly zk: EdgeKeeper,
    readonly path: string,
    readonly opts: QueueOptions = {},
  ) {}

  /** Adds an item; returns its path. Safe to retry: sequential creates are idempotent per request. */
  async put(data: Data): Promise<string> {
    try {
      return await this.zk.create(joinPath(this.path, ITEM), data, { mode: "persistent_sequential" });
    } catch (e) {
      if (!(e instanceof NoNodeError)) throw e;
      await ensurePath(this.zk, this.path);
      return this.zk.create(joinPath(this.path, ITEM), data, { mode: "persistent_sequential" });
    }
  }

  /** Items currently queued (including ones being processed under a lock). */
  async size(): Promise<number> {
    return (await this.list()).items.length;
  }

  /**
   * Takes the lowest available item and runs `handler` on it; the item is deleted once the
   * handler resolves. Blocks (on a children watch, no polling) while the queue is empty.
   * Resolves with the item processed, or null on timeout. A handler error propagates and
   * leaves the item in the queue.
   */
  async take(handler: (item: QueueItem) => unknown, opts: TakeOptions = {}): Promise<QueueItem | null> {
    const deadline = deadlineOf(opts.timeout);
    for (;;) {
      opts.signal?.throwIfAborted();
      const wake = new Wakeup();
      // The children watch is armed by the same read that found nothing to take, so an item
      // put (or a lock released) after it wakes us: no gap, no polling.
      const { items, locks } = await this.list(wake.trigger);
      for (const name of items) {
        if (this.opts.lockedConsume && locks.has(LOCK + name)) continue;
        const done = this.opts.lockedConsume ? await this.consumeLocked(name, handler) : await this.consume(name, handler);
        if (done) return done;
      }
      if (!(await wake.wait(this.zk, deadline, opts.signal))) return null;
    }
  }

  /** `take` without waiting: null if no item is available now. */
  poll(handler: (item: QueueItem) => unknown): Promise<QueueItem | null> {
    return this.take(handler, { timeout: 0 });
  }

  private async list(watch?: () => void): Promise<{ items: string[]; locks: Set<string> }> {
    let children: string[];
    try {
      children = await retryOnLoss(this.zk, () => this.zk.getChildren(this.path, { watch }));
    } catch (e) {
      if (!(e instanceof NoNodeError)) throw e;
      // No queue yet: create it, so the next read can carry the watch.
      await ensurePath(this.zk, this.path);
      children = await retryOnLoss(this.zk, () => this.zk.getChildren(this.path, { watch }));
    }
    const items = children.filter((c) => c.startsWith(ITEM) && sequenceOf(c) >= 0).sort((a, b) => sequenceOf(a) - sequenceOf(b));
    return { items, locks: new Set(children.filter((c) => c.startsWith(LOCK))) };
  }

  private async read(name: string): Promise<QueueItem | null> {
    const path = joinPath(this.path, name);
    try {
      const { data, stat } = await retryOnLoss(this.zk, () => this.zk.getData(path));
      return { name, path, data, stat };
    } catch (e) {
      if (e instanceof NoNodeError) return null; // another consumer finished it
      throw e;
    }
  }

  /** Unlocked: read, process, delete. Returns null if the item was already gone. */
  private async consume(name: string, handler: (item: QueueItem) => unknown): Promise<QueueItem | null> {
    const item = await this.read(name);
    if (!item) return null;
    await handler(item);
    try {
      await retryOnLoss(this.zk, () => this.zk.delete(item.path));
    } catch (e) {
      // Gone: a concurrent consumer processed it too (the at-least-once case) or our own
      // delete went through before a lost connection. Either way it is done.
      if (!(e instanceof NoNodeError)) throw e;
    }
    return item;
  }

  /** Locked: lock, re-check, process, delete item and lock together. Null if someone else has it. */
  private async consumeLocked(name: string, handler: (item: QueueItem) => unknown): Promise<QueueItem | null> {
    const lockPath = joinPath(this.path, LOCK + name);
    try {
      await this.zk.create(lockPath, json({ owner: this.zk.sessionId, kind: "ws" }), { mode: "ephemeral" });
    } catch (e) {
      if (e instanceof NodeExistsError) return null; // another consumer holds it
      throw e;
    }
    let finished = false;
    try {
      // The item may have been finished between our listing and our lock.
      const item = await this.read(name);
      if (!item) return null;
      await handler(item);
      await this.finishLocked(item.path, lockPath);
      finished = true;
      return item;
    } finally {
      // Not processed (gone, or the handler failed): hand the item back. If this fails the
      // session is over, and the lock went with it anyway.
      if (!finished) await this.releaseLock(lockPath).catch(() => {});
    }
  }

  /** Deletes a processed item and its lock in one transaction: nobody sees it unlocked after processing. */
  private async finishLocked(itemPath: string, lockPath: string): Promise<void> {
    try {
      // Not idempotent in general, but here a repeat either applies (the first attempt did
      // not) or fails with NoNode (it did).
      await retryOnLoss(this.zk, () => this.zk.transaction().delete(itemPath).delete(lockPath).commit());
    } catch (e) {
      if (!(e instanceof NoNodeError)) throw e;
      // Already applied, or one of the two was removed by hand: finish what remains.
      for (const path of [itemPath, lockPath]) {
        try {
          await retryOnLoss(this.zk, () => this.zk.delete(path));
        } catch (err) {
          if (!(err instanceof NoNodeError)) throw err;
        }
      }
    }
  }

  private async releaseLock(lockPath: string): Promise<void> {
    try {
      await retryOnLoss(this.zk, () => this.zk.delete(lockPath));
    } catch (e) {
      if (!(e instanceof NoNodeError)) throw e;
    }
  }
}
