import type { EdgeKeeper } from "../client.js";
import { NoNodeError, NodeExistsError } from "../errors.js";
import { parentOf } from "../../core/paths.js";
import { ensurePath } from "./sequence.js";
import { deadlineOf, retryOnLoss, Wakeup } from "./waiting.js";

/**
 * A barrier (Curator's DistributedBarrier): while the node at `path` exists, everyone who
 * calls `waitOnBarrier` blocks; removing the node releases them all at once. The node is an
 * ordinary persistent node (docs/recipes.md), so it outlives the session that set it: a
 * barrier set by a process that then dies stays up until someone removes it.
 */
export class Barrier {
  constructor(
    readonly zk: EdgeKeeper,
    readonly path: string,
  ) {}

  /** Raises the barrier (creating missing ancestors); raising a raised barrier is a no-op. */
  async setBarrier(): Promise<void> {
    try {
      await this.zk.create(this.path);
    } catch (e) {
      if (e instanceof NoNodeError) {
        await ensurePath(this.zk, parentOf(this.path));
        return this.setBarrier();
      }
      if (!(e instanceof NodeExistsError)) throw e;
    }
  }

  /** Lowers the barrier, releasing every waiter; lowering a lowered barrier is a no-op. */
  async removeBarrier(): Promise<void> {
    try {
      // A repeated delete is harmless: NoNode just means it is already down.
      await retryOnLoss(this.zk, () => this.zk.delete(this.path));
    } catch (e) {
      if (!(e instanceof NoNodeError)) throw e;
    }
  }

  /**
   * Waits until the barrier is down. Resolves true when it is (at once if it was never up),
   * false if `timeout` ms pass first; rejects if `signal` aborts or the session ends.
   */
  async waitOnBarrier(opts: { signal?: AbortSignal; timeout?: number } = {}): Promise<boolean> {
    const deadline = deadlineOf(opts.timeout);
    for (;;) {
      opts.signal?.throwIfAborted();
      const wake = new Wakeup();
      // The watch fires on any change to the node; we re-check rather than trust the event
      // type, so a data change or a quick remove-and-set does not release us wrongly.
      const stat = await retryOnLoss(this.zk, () => this.zk.exists(this.path, { watch: wake.trigger, signal: opts.signal }));
      if (!stat) return true;
      if (!(await wake.wait(this.zk, deadline, opts.signal))) return false;
    }
  }
}
