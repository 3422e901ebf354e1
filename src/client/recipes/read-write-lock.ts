import type { EdgeKeeper } from "../client.js";
import { ContenderLock, predecessor, type Block, type Lock, type LockOptions } from "./lock-internals.js";

/** A reader is blocked only by the nearest `write-` contender below it (readers share). */
function nearestWriterBelow(sorted: string[], index: number): Block {
  for (let i = index - 1; i >= 0; i--) if (sorted[i].startsWith("write-")) return { node: sorted[i] };
  return null;
}

/**
 * A fair readers-writer lock (Curator's InterProcessReadWriteLock), per docs/recipes.md:
 * `read-<seq>` and `write-<seq>` contenders under one path, in one queue.
 *
 * - A writer holds when it is the lowest contender; it watches the one just before it.
 * - A reader holds when no writer is below it; it watches the nearest writer below. Readers
 *   queued behind the same writer all enter when it leaves (they share, so that is not a herd).
 * - Writers are not starved: a reader arriving after a waiting writer queues behind it.
 * - No upgrade or downgrade: a holder of one half that acquires the other queues like anyone.
 *
 * `readLock()` and `writeLock()` return the same objects on every call; `reentrant` applies
 * to each half separately.
 */
export class ReadWriteLock {
  private readonly reader: ContenderLock;
  private readonly writer: ContenderLock;

  constructor(zk: EdgeKeeper, readonly path: string, options: LockOptions = {}) {
    this.reader = new ContenderLock(zk, path, "read-", nearestWriterBelow, options);
    this.writer = new ContenderLock(zk, path, "write-", predecessor, options);
  }

  readLock(): Lock {
    return this.reader;
  }

  writeLock(): Lock {
    return this.writer;
  }
}
