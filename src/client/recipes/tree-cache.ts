import type { DataResult, EdgeKeeper, Stat, WatchEvent } from "../client.js";
import { NoNodeError } from "../errors.js";
import { joinPath, nameOf, parentOf } from "../../core/paths.js";
import { retryOnLoss } from "./waiting.js";

/** A cached node. */
export interface ChildData {
  path: string;
  data: Uint8Array;
  stat: Stat;
}

export type TreeCacheEvent = { type: "added" | "updated" | "removed"; path: string; node: ChildData };
export type TreeCacheListener = (event: TreeCacheEvent) => void;

export interface TreeCacheOptions {
  /**
   * Also keep each node's child-related Stat fields (numChildren, cversion, pzxid) exact, by
   * re-reading a parent when a child is created or deleted. Off by default: data and
   * version/mzxid are always exact, and this costs one extra read per create or delete.
   */
  trackChildStats?: boolean;
}

/**
 * Bookkeeping for a path while reads of it are in flight (dropped when none is): what
 * happened to it meanwhile decides whether a reply is still news.
 */
interface InFlight {
  reads: number;
  /** zxid of the latest NodeDeleted seen since the first read was sent. */
  deletedAt: number;
  /** NodeCreated events seen since the first read was sent. */
  creations: number;
}

/**
 * A local mirror of a whole subtree (Curator's TreeCache / CuratorCache): path → {data, stat}.
 *
 * How it stays exact:
 * - One recursive persistent watch on the root, registered BEFORE the first read, reports
 *   every create, data change and delete below it; creates and data changes are followed by
 *   a getData, deletes are applied at once. So anything that happens after the watch exists
 *   is seen, and anything that existed before is found by the initial walk.
 * - The server sends events and replies on one ordered stream, but the client runs watch
 *   callbacks synchronously and reply continuations a few microtasks later, so a reply can
 *   be handled after events newer than it. Replies are therefore checked: one for an
 *   incarnation of the node that an event already reported deleted (czxid below the delete's
 *   zxid) is dropped; one older than what is cached (czxid, then mzxid/pzxid) is dropped; a
 *   NoNode reply removes the node only if no create was seen since the read was sent.
 *   Every event's own read is sent after the event, so the last reply for a path is always
 *   at least as new as its last event: the mirror converges to the server's tree.
 * - Across reconnects the server replays exactly the events the watch missed, and reads cut
 *   off by the disconnection are sent again, so nothing is lost.
 * - If the server could not replay (its change log was compacted: `onResync`), the cache
 *   re-walks the whole subtree and then removes every cached path that neither the walk nor
 *   an event confirmed.
 *
 * Events fire for changes after the cache saw them: `added` (also for every node of the
 * initial walk), `updated` (data changed: a new mzxid), `removed`. When the session ends the
 * cache stops following (the watch is gone with it) and keeps its last contents.
 */
export class TreeCache {
  private readonly nodes = new Map<string, ChildData>();
  private readonly kids = new Map<string, Set<string>>();
  private readonly inflight = new Map<string, InFlight>();
  private readonly listeners = new Set<TreeCacheListener>();
  private readonly errorListeners = new Set<(e: unknown) => void>();
  /** Paths confirmed during the current (re)build; undefined when none is running. */
  private confirmed: Set<string> | undefined;
  private generation = 0;
  private started: Promise<void> | undefined;
  private closed = false;
  private offResync: (() => void) | undefined;
  private readonly watcher = (e: WatchEvent) => this.onEvent(e);

  constructor(
    readonly zk: EdgeKeeper,
    readonly root: string,
    private readonly opts: TreeCacheOptions = {},
  ) {}

  /** Registers the watch and loads the subtree; resolves once the mirror is complete. */
  start(): Promise<void> {
    this.started ??= (async () => {
      await retryOnLoss(this.zk, () => this.zk.addWatch(this.root, this.watcher, { recursive: true }));
      this.offResync = this.zk.onResync(() => {
        if (!this.closed) this.rebuild().catch((e) => this.report(e));
      });
      await this.rebuild();
    })();
    return this.started;
  }

  /** Stops following the tree (the contents stay readable). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.offResync?.();
    if (this.started && (this.zk.state === "connected" || this.zk.state === "suspended"))
      await this.zk.removeWatches(this.root, "persistentRecursive", this.watcher).catch(() => {});
  }

  /** Listens for added/updated/removed; returns a function that removes the listener. */
  listen(listener: TreeCacheListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Errors met while following the tree (other than lost connections and vanished nodes). */
  onError(listener: (e: unknown) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** The cached node at `path`, if any. */
  getCurrentData(path: string): ChildData | undefined {
    return this.nodes.get(path);
  }

  /** Names of the cached children of `path`, sorted; undefined if `path` is not cached. */
  getChildren(path: string): string[] | undefined {
    if (!this.nodes.has(path)) return undefined;
    return [...(this.kids.get(path) ?? [])].sort();
  }

  /** Every cached node, by path. */
  getCurrentTree(): Map<string, ChildData> {
    return new Map(this.nodes);
  }

  get size(): number {
    return this.nodes.size;
  }

  // ---------------------------------------------------------------- events

  private onEvent(e: WatchEvent): void {
    if (this.closed) return;
    const { path } = e;
    switch (e.type) {
      case "NodeCreated": {
        const f = this.inflight.get(path);
        if (f) f.creations++;
        this.confirmed?.add(path);
        this.refresh(path);
        if (this.opts.trackChildStats && path !== this.root) this.refresh(parentOf(path));
        return;
      }
      case "NodeDataChanged":
        this.confirmed?.add(path);
        this.refresh(path);
        return;
      case "NodeDeleted": {
        const f = this.inflight.get(path);
        if (f) f.deletedAt = Math.max(f.deletedAt, e.zxid);
        const old = this.nodes.get(path);
        if (old && old.stat.czxid <= e.zxid) this.remove(path);
        if (this.opts.trackChildStats && path !== this.root) this.refresh(parentOf(path));
        return;
      }
    }
  }

  private refresh(path: string): void {
    this.fetch(path).catch((e) => this.report(e));
  }

  // ---------------------------------------------------------------- reads

  /** Reads a node and applies the reply unless events seen meanwhile made it stale. */
  private async fetch(path: string): Promise<void> {
    let f = this.inflight.get(path);
    if (!f) this.inflight.set(path, (f = { reads: 0, deletedAt: 0, creations: 0 }));
    f.reads++;
    const creationsBefore = f.creations;
    let reply: DataResult | null;
    try {
      reply = await retryOnLoss(this.zk, () => this.zk.getData(path));
    } catch (e) {
      if (!(e instanceof NoNodeError)) {
        this.done(path, f);
        throw e;
      }
      reply = null;
    }
    this.done(path, f);
    if (this.closed) return;
    if (reply === null) {
      // Gone when read. A create seen since then has a read of its own, newer than this one.
      if (f.creations === creationsBefore) this.remove(path);
      return;
    }
    if (reply.stat.czxid < f.deletedAt) return; // an incarnation we already saw deleted
    this.put(path, reply);
  }

  private done(path: string, f: InFlight): void {
    if (--f.reads === 0) this.inflight.delete(path);
  }

  private put(path: string, { data, stat }: DataResult): void {
    this.confirmed?.add(path);
    const old = this.nodes.get(path);
    if (old) {
      const o = old.stat;
      if (stat.czxid < o.czxid) return;
      if (stat.czxid === o.czxid && (stat.mzxid < o.mzxid || stat.pzxid < o.pzxid || stat.aversion < o.aversion)) return;
      if (sameStat(o, stat)) return;
    }
    const node: ChildData = { path, data, stat };
    this.nodes.set(path, node);
    if (!old) {
      if (path !== this.root) {
        const parent = parentOf(path);
        let set = this.kids.get(parent);
        if (!set) this.kids.set(parent, (set = new Set()));
        set.add(nameOf(path));
      }
      this.emit({ type: "added", path, node });
    } else if (old.stat.mzxid !== stat.mzxid || old.stat.czxid !== stat.czxid) {
      this.emit({ type: "updated", path, node });
    }
  }

  private remove(path: string): void {
    const old = this.nodes.get(path);
    if (!old) return;
    this.nodes.delete(path);
    if (path !== this.root) {
      const parent = parentOf(path);
      const set = this.kids.get(parent);
      set?.delete(nameOf(path));
      if (set?.size === 0) this.kids.delete(parent);
    }
    this.emit({ type: "removed", path, node: old });
  }

  // ---------------------------------------------------------------- (re)builds

  /**
   * Walks the subtree, reading every node. Events keep flowing meanwhile and are applied as
   * usual; at the end, cached paths neither read nor touched by an event are gone from the
   * server (deleted while replay was impossible) and are removed. A newer rebuild (another
   * resync) supersedes an older one's final sweep.
   */
  private async rebuild(): Promise<void> {
    const generation = ++this.generation;
    const confirmed = (this.confirmed = new Set());
    await this.load(this.root);
    if (generation !== this.generation || this.closed) return;
    for (const path of [...this.nodes.keys()]) if (!confirmed.has(path)) this.remove(path);
    this.confirmed = undefined;
  }

  private async load(path: string): Promise<void> {
    const [, children] = await Promise.all([this.fetch(path), this.list(path)]);
    await Promise.all(children.map((c) => this.load(joinPath(path, c))));
  }

  private async list(path: string): Promise<string[]> {
    try {
      return await retryOnLoss(this.zk, () => this.zk.getChildren(path));
    } catch (e) {
      if (e instanceof NoNodeError) return []; // deleted meanwhile: its NodeDeleted comes as an event
      throw e;
    }
  }

  private emit(event: TreeCacheEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        console.error("edgekeeper: TreeCache listener threw", err);
      }
    }
  }

  private report(e: unknown): void {
    // Once the session is over the client reports it through onState; the failed reads that
    // follow are not news.
    if (this.closed || ["expired", "closed", "authFailed"].includes(this.zk.state)) return;
    if (this.errorListeners.size === 0) console.error("edgekeeper: TreeCache", this.root, e);
    for (const l of this.errorListeners) l(e);
  }
}

function sameStat(a: Stat, b: Stat): boolean {
  return (
    a.czxid === b.czxid &&
    a.mzxid === b.mzxid &&
    a.pzxid === b.pzxid &&
    a.version === b.version &&
    a.cversion === b.cversion &&
    a.aversion === b.aversion &&
    a.numChildren === b.numChildren &&
    a.dataLength === b.dataLength
  );
}
