/**
 * The edgekeeper client: ZooKeeper's API over WebSocket, for browsers, Workers and Node ≥ 22.
 * No Node-only imports anywhere on this path.
 */
export { connect, EdgeKeeper, namespaceUrl } from "./client.js";
export { SocketShare } from "./shared-socket.js";
export type { ConnectOptions, CreateOptions, CreateModeName, CallOptions, DataResult, ChildrenResult, Stat, ACL, Id } from "./client.js";
export type { State, SocketLike, SocketFactory, TokenSource } from "./connection.js";
export type { WatchEvent, Watcher, EventName } from "./watchers.js";
export { Transaction, type MultiResult, type WireOp } from "./transaction.js";
export { json, fromJson, utf8, toBytes, type Data } from "./data.js";
export * from "./errors.js";
export { Perms } from "../core/acl.js";
export * from "./recipes/index.js";
