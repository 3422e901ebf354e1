import type { EdgeKeeper } from "../client.js";
import { utf8 } from "../data.js";
import { BadVersionError, ConnectionLossError, NoNodeError, NodeExistsError } from "../errors.js";
import { parentOf } from "../../core/paths.js";
import { ensurePath } from "./sequence.js";
import { retryOnLoss } from "./waiting.js";

/** A counter value with the node version it was read at (-1: the node does not exist yet). */
export interface VersionedValue {
  value: number;
  version: number;
}

/**
 * A shared integer counter (Curator's DistributedAtomicLong / SharedCount): the value is the
 * node's data as decimal text, so any client — the CLI, an HTTP caller — can read it, and
 * updates are compare-and-set on the node's version, retried until they land. Under
 * concurrent `add`s from many clients every one is applied exactly once.
 *
 * One ambiguity is inherent: if the connection drops while an update is in flight, its
 * outcome is unknown. The counter re-reads after reconnecting; if the version has not moved
 * the update did not happen and is retried, otherwise it throws ConnectionLossError
 * (`outcomeUnknown`) rather than risk counting twice.
 *
 * Values are safe integers (|v| ≤ 2^53 - 1); a missing node reads as `initial` (default 0).
 */
export class DistributedCounter {
  private readonly initial: number;

  constructor(
    readonly zk: EdgeKeeper,
    readonly path: string,
    opts: { initial?: number } = {},
  ) {
    this.initial = checked(opts.initial ?? 0);
  }

  /** The current value. */
  async get(): Promise<number> {
    return (await this.getVersioned()).value;
  }

  /** The current value and the version to pass to `trySet`. */
  async getVersioned(): Promise<VersionedValue> {
    try {
      const { data, stat } = await retryOnLoss(this.zk, () => this.zk.getData(this.path));
      return { value: parse(data, this.path, this.initial), version: stat.version };
    } catch (e) {
      if (e instanceof NoNodeError) return { value: this.initial, version: -1 };
      throw e;
    }
  }

  /** Adds 1; returns the new value. */
  increment(): Promise<number> {
    return this.add(1);
  }

  /** Subtracts 1; returns the new value. */
  decrement(): Promise<number> {
    return this.add(-1);
  }

  /** Adds `delta` atomically; returns the new value. */
  async add(delta: number): Promise<number> {
    checked(delta);
    for (;;) {
      const current = await this.getVersioned();
      const next = checked(current.value + delta);
      try {
        if (await this.trySet(next, current.version)) return next;
      } catch (e) {
        if (!(e instanceof ConnectionLossError)) throw e;
        await this.zk.waitConnected();
        // Did our write land? If the version is where we read it, certainly not: retry.
        if ((await this.getVersioned()).version !== current.version) throw e;
      }
    }
  }

  /**
   * Sets the value if the node is still at `expectedVersion` (from `getVersioned`; -1 means
   * "does not exist yet"). Resolves false if someone changed it first.
   */
  async trySet(value: number, expectedVersion: number): Promise<boolean> {
    const text = String(checked(value));
    if (expectedVersion === -1) {
      try {
        await this.create(text);
        return true;
      } catch (e) {
        if (e instanceof NodeExistsError) return false;
        throw e;
      }
    }
    try {
      await this.zk.setData(this.path, text, { version: expectedVersion });
      return true;
    } catch (e) {
      if (e instanceof BadVersionError || e instanceof NoNodeError) return false;
      throw e;
    }
  }

  /** Creates the counter node (and its ancestors); creates are idempotent across reconnects. */
  private async create(text: string): Promise<void> {
    try {
      await this.zk.create(this.path, text);
    } catch (e) {
      if (!(e instanceof NoNodeError)) throw e;
      await ensurePath(this.zk, parentOf(this.path));
      await this.zk.create(this.path, text);
    }
  }
}

function checked(n: number): number {
  if (!Number.isSafeInteger(n)) throw new RangeError(`counter values must be safe integers, got ${n}`);
  return n;
}

/** Decimal text; an empty node (made by a generic create) counts as `initial`. */
function parse(data: Uint8Array, path: string, initial: number): number {
  const text = utf8(data).trim();
  if (text === "") return initial;
  if (!/^-?\d+$/.test(text)) throw new TypeError(`${path} does not hold a decimal integer: ${JSON.stringify(text.slice(0, 40))}`);
  return checked(Number(text));
}
