import type { WatchSet } from "./requests.js";
import type { Change, Store, WatchKind } from "./store.js";
import type { WatchEvent } from "./events.js";
import { WatchIndex, type ReadCheck } from "./watch-index.js";

export interface ReplayOutcome {
  /** Events the client missed, in zxid order. */
  events: WatchEvent[];
  /** Watches still to register (one-shot ones that did not fire, and all persistent ones). */
  register: Array<{ path: string; kind: WatchKind }>;
}

const KINDS: Array<[keyof WatchSet, WatchKind]> = [
  ["data", "data"],
  ["exist", "data"],
  ["child", "child"],
  ["persistent", "persistent"],
  ["persistentRecursive", "recursive"],
];

/** Flattens a client's watch set into (path, kind) pairs. */
export function watchList(set: WatchSet): Array<{ path: string; kind: WatchKind }> {
  const out: Array<{ path: string; kind: WatchKind }> = [];
  for (const [field, kind] of KINDS) for (const path of set[field] ?? []) out.push({ path, kind });
  return out;
}

/**
 * Exact replay: runs the trigger matrix over the retained change log after `lastZxid`, as if
 * the client's watches had been registered all along. This is how persistent and recursive
 * watches get every missed event (ZooKeeper replays nothing for them).
 */
export function replayFromLog(changes: readonly Change[], set: WatchSet, canRead?: ReadCheck): ReplayOutcome {
  const index = new WatchIndex();
  const me = "replay";
  for (const w of watchList(set)) index.add(me, w.path, w.kind);
  const events: WatchEvent[] = [];
  for (const c of changes) for (const d of index.trigger(c, [], canRead && ((_, change) => canRead(me, change)))) events.push(d.event);
  return { events, register: index.ofSession(me) };
}

/**
 * Replay when the log no longer reaches back to `lastZxid`: ZooKeeper's own setWatches rules,
 * decided from the current state. Persistent watches are registered; their missed events
 * are lost, which the caller reports to the client as a resync.
 */
export function replayFromState(store: Store, lastZxid: number, currentZxid: number, set: WatchSet): ReplayOutcome {
  const events: WatchEvent[] = [];
  const register: Array<{ path: string; kind: WatchKind }> = [];
  for (const path of set.data ?? []) {
    const n = store.getNode(path);
    if (!n) events.push({ event: "NodeDeleted", path, zxid: currentZxid });
    else if (n.stat.mzxid > lastZxid) events.push({ event: "NodeDataChanged", path, zxid: n.stat.mzxid });
    else register.push({ path, kind: "data" });
  }
  for (const path of set.exist ?? []) {
    const n = store.getNode(path);
    if (n) events.push({ event: "NodeCreated", path, zxid: n.stat.czxid });
    else register.push({ path, kind: "data" });
  }
  for (const path of set.child ?? []) {
    const n = store.getNode(path);
    if (!n) events.push({ event: "NodeDeleted", path, zxid: currentZxid });
    else if (n.stat.pzxid > lastZxid) events.push({ event: "NodeChildrenChanged", path, zxid: n.stat.pzxid });
    else register.push({ path, kind: "child" });
  }
  for (const path of set.persistent ?? []) register.push({ path, kind: "persistent" });
  for (const path of set.persistentRecursive ?? []) register.push({ path, kind: "recursive" });
  events.sort((a, b) => a.zxid - b.zxid);
  return { events, register };
}
