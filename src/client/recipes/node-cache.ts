import type { DataResult, EdgeKeeper, WatchEvent } from "../client.js";
import { NoNodeError } from "../errors.js";
import { retryOnLoss } from "./waiting.js";
import type { ChildData } from "./tree-cache.js";

export type NodeCacheListener = (node: ChildData | undefined) => void;

/**
 * One node's data and Stat kept current (Curator's NodeCache), whether or not the node
 * exists: `getCurrentData()` is undefined while it does not.
 *
 * It uses a persistent watch, registered before the first read, so no change between two
 * reads can slip by (a one-shot watch must be re-armed after each event, and a change in
 * that window is only seen as a data jump). Every create or data change is followed by a
 * read; replies are checked against the events seen while they were in flight, exactly as in
 * TreeCache: a reply for an incarnation already seen deleted is dropped, a reply older than
 * the cached Stat is dropped, and NoNode clears the cache only if no create came since the
 * read was sent. Missed events are replayed by the server after a reconnect; when it could
 * not replay (`onResync`), the node is simply read again.
 *
 * Listeners fire when the node appears, disappears or gets new data (a new mzxid).
 */
export class NodeCache {
  private current: ChildData | undefined;
  private reads = 0;
  private deletedAt = 0;
  private creations = 0;
  private readonly listeners = new Set<NodeCacheListener>();
  private started: Promise<void> | undefined;
  private closed = false;
  private offResync: (() => void) | undefined;
  private readonly watcher = (e: WatchEvent) => this.onEvent(e);

  constructor(
    readonly zk: EdgeKeeper,
    readonly path: string,
    private readonly opts: { trackChildStats?: boolean } = {},
  ) {}

  /** Registers the watch and reads the node; resolves once the first read is applied. */
  start(): Promise<void> {
    this.started ??= (async () => {
      await retryOnLoss(this.zk, () => this.zk.addWatch(this.path, this.watcher));
      this.offResync = this.zk.onResync(() => this.refresh());
      await this.fetch();
    })();
    return this.started;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.offResync?.();
    if (this.started && (this.zk.state === "connected" || this.zk.state === "suspended"))
      await this.zk.removeWatches(this.path, "persistent", this.watcher).catch(() => {});
  }

  /** The node as last seen, or undefined if it does not exist. */
  getCurrentData(): ChildData | undefined {
    return this.current;
  }

  /** Called with the node (or undefined once deleted) on each change; returns an unsubscribe function. */
  onChange(listener: NodeCacheListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private onEvent(e: WatchEvent): void {
    if (this.closed) return;
    switch (e.type) {
      case "NodeCreated":
        if (this.reads > 0) this.creations++;
        return this.refresh();
      case "NodeDataChanged":
        return this.refresh();
      case "NodeChildrenChanged":
        // Only numChildren/cversion/pzxid changed; re-read only if those are wanted.
        if (this.opts.trackChildStats) this.refresh();
        return;
      case "NodeDeleted":
        if (this.reads > 0) this.deletedAt = Math.max(this.deletedAt, e.zxid);
        if (this.current && this.current.stat.czxid <= e.zxid) this.set(undefined);
        return;
    }
  }

  private refresh(): void {
    this.fetch().catch((e) => {
      if (!this.closed && !["expired", "closed", "authFailed"].includes(this.zk.state)) console.error("edgekeeper: NodeCache", this.path, e);
    });
  }

  private async fetch(): Promise<void> {
    if (this.reads++ === 0) {
      this.deletedAt = 0;
      this.creations = 0;
    }
    const creationsBefore = this.creations;
    let reply: DataResult | null = null;
    try {
      reply = await retryOnLoss(this.zk, () => this.zk.getData(this.path));
    } catch (e) {
      if (!(e instanceof NoNodeError)) throw e;
    } finally {
      this.reads--;
    }
    if (this.closed) return;
    if (reply === null) {
      if (this.creations === creationsBefore) this.set(undefined);
      return;
    }
    const { stat } = reply;
    if (stat.czxid < this.deletedAt) return;
    const old = this.current?.stat;
    if (old && (stat.czxid < old.czxid || (stat.czxid === old.czxid && (stat.mzxid < old.mzxid || stat.pzxid < old.pzxid)))) return;
    this.set({ path: this.path, data: reply.data, stat });
  }

  private set(node: ChildData | undefined): void {
    const old = this.current;
    this.current = node;
    const changed = !old || !node || old.stat.czxid !== node.stat.czxid || old.stat.mzxid !== node.stat.mzxid;
    if (changed && (old || node)) for (const l of this.listeners) {
      try {
        l(node);
      } catch (err) {
        console.error("edgekeeper: NodeCache listener threw", err);
      }
    }
  }
}
