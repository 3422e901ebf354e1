/** ZooKeeper's Watcher.Event.EventType, by name and number. */
export const EventType = {
  None: -1,
  NodeCreated: 1,
  NodeDeleted: 2,
  NodeDataChanged: 3,
  NodeChildrenChanged: 4,
  DataWatchRemoved: 5,
  ChildWatchRemoved: 6,
  PersistentWatchRemoved: 7,
} as const;
export type EventName = "NodeCreated" | "NodeDeleted" | "NodeDataChanged" | "NodeChildrenChanged";

/** A watch notification: what happened to which path, in which transaction. */
export interface WatchEvent {
  event: EventName;
  path: string;
  zxid: number;
}

/** An event addressed to one session. */
export interface Delivery {
  session: string;
  event: WatchEvent;
}
