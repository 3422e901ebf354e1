import type { EdgeKeeper } from "../client.js";
import { NoNodeError, NodeExistsError } from "../errors.js";
import { joinPath } from "../../core/paths.js";
import { ensurePath } from "./sequence.js";
import { deadlineOf, retryOnLoss, Wakeup } from "./waiting.js";

const READY = "ready";

const randomId = () =>
  typeof crypto !== "undefined" && "randomUUID" in crypto ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

/**
 * A double barrier (Curator's DistributedDoubleBarrier): `memberCount` participants enter
 * together and leave together. Each member is an ephemeral `<id>` child of the base path, so
 * a member that dies is counted out when its session ends; the member that completes the
 * quorum creates `ready`, which is the only node enterers watch (one wake-up for everyone,
 * not one per arrival). Leaving follows Curator: members sort their ids, the lowest waits
 * for the highest to go and every other member deletes itself and waits for the lowest, so
 * each departure wakes at most one or two waiters.
 *
 * As in Curator, `ready` is deleted by the last members to leave; a barrier reused before it
 * is gone lets enterers through at once.
 */
export class DoubleBarrier {
  /** This member's node name (unique per instance unless given). */
  readonly id: string;
  private readonly ourPath: string;
  private readonly readyPath: string;

  constructor(
    readonly zk: EdgeKeeper,
    readonly path: string,
    readonly memberCount: number,
    opts: { id?: string } = {},
  ) {
    if (!Number.isInteger(memberCount) || memberCount < 1) throw new RangeError("memberCount must be a positive integer");
    this.id = opts.id ?? randomId();
    if (this.id === READY || this.id.includes("/")) throw new RangeError(`invalid member id: ${this.id}`);
    this.ourPath = joinPath(path, this.id);
    this.readyPath = joinPath(path, READY);
  }

  /**
   * Joins and waits until `memberCount` members have joined. Resolves true once they have,
   * false on timeout (this member stays registered: call `leave()` to withdraw).
   */
  async enter(opts: { signal?: AbortSignal; timeout?: number } = {}): Promise<boolean> {
    const deadline = deadlineOf(opts.timeout);
    await ensurePath(this.zk, this.path);
    // Watch `ready` before joining, so the quorum cannot complete unseen in between.
    let wake = new Wakeup();
    const readyAlready = await retryOnLoss(this.zk, () => this.zk.exists(this.readyPath, { watch: wake.trigger }));
    try {
      await this.zk.create(this.ourPath, undefined, { mode: "ephemeral" });
    } catch (e) {
      // Our own create retried across a reconnect, or the same id entering twice.
      if (!(e instanceof NodeExistsError)) throw e;
    }
    if (readyAlready) return true;
    for (;;) {
      const members = (await this.members()).length;
      if (members >= this.memberCount) {
        try {
          await this.zk.create(this.readyPath);
        } catch (e) {
          if (!(e instanceof NodeExistsError)) throw e;
        }
        return true;
      }
      if (!(await wake.wait(this.zk, deadline, opts.signal))) return false;
      // Woken by `ready` changing: if it is there, the quorum formed (members may already be
      // leaving, so their count alone would not tell).
      wake = new Wakeup();
      if (await retryOnLoss(this.zk, () => this.zk.exists(this.readyPath, { watch: wake.trigger }))) return true;
    }
  }

  /**
   * Leaves and waits until every member has left. Resolves true once they have, false on
   * timeout. Throws if this member's node vanished (its session ended meanwhile).
   */
  async leave(opts: { signal?: AbortSignal; timeout?: number } = {}): Promise<boolean> {
    const deadline = deadlineOf(opts.timeout);
    let ourNodeShouldExist = true;
    let result = true;
    for (;;) {
      const children = await this.members();
      if (children.length === 0) break;
      const ourIndex = children.indexOf(this.id);
      if (ourIndex < 0 && ourNodeShouldExist) throw new NoNodeError(`double barrier member ${this.ourPath} is missing (session ended?)`);
      if (children.length === 1) {
        if (ourNodeShouldExist && children[0] !== this.id) throw new Error(`last member ${children[0]} is not ours (${this.id})`);
        if (ourNodeShouldExist) await this.deleteOurs();
        break;
      }
      const wake = new Wakeup();
      let stat;
      if (ourIndex === 0) {
        // The lowest member goes last: it waits for the highest, which waits for it.
        const highest = joinPath(this.path, children[children.length - 1]);
        stat = await retryOnLoss(this.zk, () => this.zk.exists(highest, { watch: wake.trigger }));
      } else {
        // Everyone else leaves now and waits for the lowest, whose departure ends the round.
        const lowest = joinPath(this.path, children[0]);
        stat = await retryOnLoss(this.zk, () => this.zk.exists(lowest, { watch: wake.trigger }));
        if (ourNodeShouldExist) await this.deleteOurs();
        ourNodeShouldExist = false;
      }
      if (stat && !(await wake.wait(this.zk, deadline, opts.signal))) {
        result = false;
        break;
      }
    }
    try {
      await retryOnLoss(this.zk, () => this.zk.delete(this.readyPath));
    } catch (e) {
      if (!(e instanceof NoNodeError)) throw e;
    }
    return result;
  }

  /** Member names (not `ready`), sorted. */
  private async members(): Promise<string[]> {
    try {
      const children = await retryOnLoss(this.zk, () => this.zk.getChildren(this.path));
      return children.filter((c) => c !== READY).sort();
    } catch (e) {
      if (e instanceof NoNodeError) return [];
      throw e;
    }
  }

  private async deleteOurs(): Promise<void> {
    try {
      await retryOnLoss(this.zk, () => this.zk.delete(this.ourPath));
    } catch (e) {
      if (!(e instanceof NoNodeError)) throw e;
    }
  }
}
