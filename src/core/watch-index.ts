import type { Change, WatchKind } from "./store.js";
import type { Delivery, EventName, WatchEvent } from "./events.js";
import { ancestors, parentOf } from "./paths.js";

/** Whether a session may READ the node a change is about. */
export type ReadCheck = (session: string, change: Change) => boolean;

/**
 * Which sessions watch which paths, and ZooKeeper 3.8's trigger matrix over them.
 * Pure and in-memory: the registry persists it, replay runs it over the change log.
 *
 * Kinds: "data" (getData/exists watches; ZooKeeper keeps exist watches in the same table),
 * "child" (getChildren), "persistent" and "recursive" (addWatch). One-shot kinds are
 * removed when they fire.
 */
export class WatchIndex {
  private readonly byKind: Record<WatchKind, Map<string, Set<string>>> = {
    data: new Map(),
    child: new Map(),
    persistent: new Map(),
    recursive: new Map(),
  };
  private recursiveCount = 0;
  /**
   * Each session's watches as `kind \0 path`: a session's own watches (and their count) are
   * found without walking everyone's — a detach, close or resume drops them.
   */
  private readonly perSession = new Map<string, Set<string>>();

  private track(session: string, kind: WatchKind, path: string, held: boolean): void {
    let mine = this.perSession.get(session);
    if (held) {
      if (!mine) this.perSession.set(session, (mine = new Set()));
      mine.add(`${kind}\0${path}`);
    } else if (mine?.delete(`${kind}\0${path}`) && mine.size === 0) this.perSession.delete(session);
  }

  /** Watches a session holds, of every kind. */
  countOf(session: string): number {
    return this.perSession.get(session)?.size ?? 0;
  }

  add(session: string, path: string, kind: WatchKind): boolean {
    const map = this.byKind[kind];
    let set = map.get(path);
    if (!set) map.set(path, (set = new Set()));
    if (set.has(session)) return false;
    set.add(session);
    this.track(session, kind, path, true);
    if (kind === "recursive") this.recursiveCount++;
    return true;
  }

  has(session: string, path: string, kind: WatchKind): boolean {
    return this.byKind[kind].get(path)?.has(session) ?? false;
  }

  remove(session: string, path: string, kind: WatchKind): boolean {
    const map = this.byKind[kind];
    const set = map.get(path);
    if (!set?.delete(session)) return false;
    if (set.size === 0) map.delete(path);
    this.track(session, kind, path, false);
    if (kind === "recursive") this.recursiveCount--;
    return true;
  }

  /** Every (path, kind) a session watches. */
  ofSession(session: string): Array<{ path: string; kind: WatchKind }> {
    return [...(this.perSession.get(session) ?? [])].map((key) => {
      const cut = key.indexOf("\0");
      return { kind: key.slice(0, cut) as WatchKind, path: key.slice(cut + 1) };
    });
  }

  /** All watches as (session, path, kind). */
  *entries(): Generator<{ session: string; path: string; kind: WatchKind }> {
    for (const kind of Object.keys(this.byKind) as WatchKind[])
      for (const [path, set] of this.byKind[kind]) for (const session of set) yield { session, path, kind };
  }

  /** How many watches of each kind. */
  countByKind(): Record<WatchKind, number> {
    const out = { data: 0, child: 0, persistent: 0, recursive: 0 };
    for (const kind of Object.keys(this.byKind) as WatchKind[]) for (const set of this.byKind[kind].values()) out[kind] += set.size;
    return out;
  }

  size(): number {
    let n = 0;
    for (const map of Object.values(this.byKind)) for (const set of map.values()) n += set.size;
    return n;
  }

  /**
   * Applies one change to the watches: returns the deliveries it causes, in ZooKeeper's
   * order (the node's own event, then its parent's NodeChildrenChanged), one per
   * (session, type, path), and removes the one-shot watches that fired: a fired one-shot
   * watch takes every session's watch of that kind at that path, so `fired` gets one entry
   * per (path, kind).
   */
  trigger(change: Change, fired: Array<{ path: string; kind: "data" | "child" }> = [], canRead?: ReadCheck): Delivery[] {
    const out: Delivery[] = [];
    const { path, zxid } = change;
    // One event object per (type, path) of this change, shared by all its deliveries.
    const events = new Map<string, WatchEvent>();
    const emit = (sessions: Iterable<string>, event: EventName, at: string, seen: Set<string>) => {
      const key = event + at;
      let e = events.get(key);
      for (const session of sessions) {
        if (seen.has(session)) continue;
        seen.add(session);
        if (!e) events.set(key, (e = { event, path: at, zxid }));
        out.push({ session, event: e });
      }
    };
    const takeOneShot = (kind: "data" | "child", at: string): string[] => {
      const set = this.byKind[kind].get(at);
      if (!set) return [];
      this.byKind[kind].delete(at);
      for (const session of set) this.track(session, kind, at, false);
      fired.push({ path: at, kind });
      return [...set];
    };
    const recursiveWatchers = (at: string): string[] => {
      if (this.recursiveCount === 0) return [];
      const sessions: string[] = [];
      const own = this.byKind.recursive.get(at);
      if (own) sessions.push(...own);
      if (at !== "/") for (const a of ancestors(at)) {
        const s = this.byKind.recursive.get(a);
        if (s) sessions.push(...s);
      }
      // A recursive watch sees the whole subtree, including nodes its session may not read:
      // their events are withheld (ZooKeeper 3.8.4's fix for CVE-2024-23944).
      return canRead ? sessions.filter((s) => canRead(s, change)) : sessions;
    };
    const persistent = (at: string) => this.byKind.persistent.get(at) ?? [];

    let nodeEvent: EventName | null = null;
    let childrenChanged = false;
    switch (change.type) {
      case "create":
        nodeEvent = "NodeCreated";
        childrenChanged = true;
        break;
      case "delete":
        nodeEvent = "NodeDeleted";
        childrenChanged = true;
        break;
      case "setData":
        nodeEvent = "NodeDataChanged";
        break;
      default:
        return out;
    }

    const seen = new Set<string>();
    emit(takeOneShot("data", path), nodeEvent, path, seen);
    if (nodeEvent === "NodeDeleted") emit(takeOneShot("child", path), nodeEvent, path, seen);
    emit(persistent(path), nodeEvent, path, seen);
    emit(recursiveWatchers(path), nodeEvent, path, seen);

    if (childrenChanged && path !== "/") {
      const parent = parentOf(path);
      const seenParent = new Set<string>();
      emit(takeOneShot("child", parent), "NodeChildrenChanged", parent, seenParent);
      emit(persistent(parent), "NodeChildrenChanged", parent, seenParent);
    }
    return out;
  }
}
