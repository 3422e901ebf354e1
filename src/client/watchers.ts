import type { WatchSet } from "../core/requests.js";
import { ancestors } from "../core/paths.js";

export type EventName = "NodeCreated" | "NodeDeleted" | "NodeDataChanged" | "NodeChildrenChanged";

/** A watch notification as the client delivers it. */
export interface WatchEvent {
  type: EventName;
  path: string;
  /** The zxid of the transaction that caused it. */
  zxid: number;
}
export type Watcher = (event: WatchEvent) => void;

export type LocalWatchKind = "data" | "exist" | "child" | "persistent" | "persistentRecursive";

/**
 * The client's own record of who watches what, used to dispatch events to callbacks and to
 * re-register watches on resume. Follows ZooKeeper's client rules (ZKWatchManager): one-shot
 * watchers are removed when they fire; each callback runs at most once per event.
 */
export class WatcherRegistry {
  private readonly kinds: Record<LocalWatchKind, Map<string, Set<Watcher>>> = {
    data: new Map(),
    exist: new Map(),
    child: new Map(),
    persistent: new Map(),
    persistentRecursive: new Map(),
  };

  add(kind: LocalWatchKind, path: string, w: Watcher): void {
    const m = this.kinds[kind];
    let set = m.get(path);
    if (!set) m.set(path, (set = new Set()));
    set.add(w);
  }

  /** Removes one watcher (or all of a kind at a path); returns whether any were there. */
  remove(kind: LocalWatchKind, path: string, w?: Watcher): boolean {
    const m = this.kinds[kind];
    const set = m.get(path);
    if (!set) return false;
    const had = w ? set.delete(w) : set.size > 0;
    if (!w) set.clear();
    if (set.size === 0) m.delete(path);
    return had;
  }

  has(kind: LocalWatchKind, path: string): boolean {
    return (this.kinds[kind].get(path)?.size ?? 0) > 0;
  }

  /** Dispatches an event; returns the callbacks to run (one-shot ones already removed). */
  materialize(e: WatchEvent): Watcher[] {
    const out = new Set<Watcher>();
    const take = (kind: LocalWatchKind) => {
      const set = this.kinds[kind].get(e.path);
      if (!set) return;
      this.kinds[kind].delete(e.path);
      for (const w of set) out.add(w);
    };
    switch (e.type) {
      case "NodeCreated":
      case "NodeDataChanged":
        take("data");
        take("exist");
        break;
      case "NodeChildrenChanged":
        take("child");
        break;
      case "NodeDeleted":
        take("data");
        take("exist");
        take("child");
        break;
    }
    for (const w of this.kinds.persistent.get(e.path) ?? []) out.add(w);
    if (e.type !== "NodeChildrenChanged") {
      const rec = this.kinds.persistentRecursive;
      for (const w of rec.get(e.path) ?? []) out.add(w);
      if (rec.size > 0 && e.path !== "/") for (const a of ancestors(e.path)) for (const w of rec.get(a) ?? []) out.add(w);
    }
    return [...out];
  }

  /** What to re-register on the server after a reconnect. */
  watchSet(): WatchSet {
    const paths = (kind: LocalWatchKind) => [...this.kinds[kind].keys()];
    return {
      data: paths("data"),
      exist: paths("exist"),
      child: paths("child"),
      persistent: paths("persistent"),
      persistentRecursive: paths("persistentRecursive"),
    };
  }

  isEmpty(): boolean {
    return Object.values(this.kinds).every((m) => m.size === 0);
  }
}
