import type { ACL, Id } from "./acl.js";
import type { CreateMode } from "./create-mode.js";

/** The operations the core applies, decoded from any protocol (JSON, HTTP, jute). */
export interface CreateRequest {
  op: "create";
  path: string;
  data: Uint8Array;
  acl?: ACL[];
  mode: CreateMode;
  ttl?: number;
  requestId?: string;
}
export interface DeleteRequest {
  op: "delete";
  path: string;
  version: number;
}
export interface SetDataRequest {
  op: "setData";
  path: string;
  data: Uint8Array;
  version: number;
}
export interface CheckRequest {
  op: "check";
  path: string;
  version: number;
}
export interface SetAclRequest {
  op: "setACL";
  path: string;
  acl: ACL[];
  version: number;
}
export interface ExistsRequest {
  op: "exists";
  path: string;
  watch?: boolean;
}
export interface GetDataRequest {
  op: "getData";
  path: string;
  watch?: boolean;
}
export interface GetChildrenRequest {
  op: "getChildren";
  path: string;
  watch?: boolean;
  limit?: number;
  cursor?: string;
}
export interface GetAclRequest {
  op: "getACL";
  path: string;
}
export type MultiOp = CreateRequest | DeleteRequest | SetDataRequest | CheckRequest;
export type MultiReadOp = GetDataRequest | GetChildrenRequest | ExistsRequest;

/** Watcher types for removeWatches/checkWatches (ZooKeeper's WatcherType numbers). */
export const WatcherType = { children: 1, data: 2, any: 3, persistent: 4, persistentRecursive: 5 } as const;
export type WatcherType = (typeof WatcherType)[keyof typeof WatcherType];

/** Watches a client re-registers on resume, by kind. */
export interface WatchSet {
  data?: string[];
  exist?: string[];
  child?: string[];
  persistent?: string[];
  persistentRecursive?: string[];
}

export type Request =
  | CreateRequest
  | DeleteRequest
  | SetDataRequest
  | CheckRequest
  | SetAclRequest
  | ExistsRequest
  | GetDataRequest
  | GetChildrenRequest
  | GetAclRequest
  | { op: "multi"; ops: MultiOp[] }
  | { op: "multiRead"; ops: MultiReadOp[] }
  | { op: "sync"; path: string }
  | { op: "getEphemerals"; path: string }
  | { op: "getAllChildrenNumber"; path: string }
  | { op: "whoAmI" }
  /** Credentials already verified by the protocol layer (digest), as the identities they prove. */
  | { op: "addAuth"; identities: Id[] }
  | { op: "addWatch"; path: string; mode: "persistent" | "persistentRecursive" }
  | { op: "removeWatches" | "checkWatches"; path: string; type: WatcherType }
  | { op: "setWatches"; lastZxid: number; watches: WatchSet }
  | { op: "ping" }
  | { op: "close" };

export type OpName = Request["op"];
