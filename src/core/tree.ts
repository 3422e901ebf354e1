import { checkAcl, fixupAcl, OPEN_ACL, Perms, READ_ACL, type ACL, type Id } from "./acl.js";
import { CreateMode, isEphemeral, isSequential, isTtl, validateTtl } from "./create-mode.js";
import { Code, ZkError } from "./errors.js";
import { checkChildren, checkPathLimits, type TreeLimits } from "./limits.js";
import { parentOf, validatePath } from "./paths.js";
import type { Quotas } from "./quota.js";
import type { CheckRequest, CreateRequest, DeleteRequest, SetAclRequest, SetDataRequest } from "./requests.js";
import { NO_OWNER, type Stat } from "./stat.js";
import type { Change, Store, ZNode } from "./store.js";

/** Limits and switches the tree enforces. */
export interface TreeConfig extends TreeLimits {
  maxDataBytes: number;
  ttlEnabled: boolean;
}

/**
 * One write transaction in progress: its zxid and time, who makes it, and the changes it
 * has made so far. Every write op appends to `changes`; the namespace commits them with
 * the zxid into the change log, in the same storage transaction.
 */
export interface Txn {
  store: Store;
  config: TreeConfig;
  zxid: number;
  time: number;
  session: string;
  identities: readonly Id[];
  changes: Change[];
  /** Nodes whose removal timers (TTL, container) need re-evaluation after this txn. */
  touched: Set<string>;
  /** Subtree quota accounting (src/core/quota.ts), when the namespace keeps it. */
  quotas?: Quotas;
}

/** Logs a change; `acl` is the node's at that moment, for filtering recursive watch events (not persisted). */
function record(tx: Txn, type: Change["type"], path: string, acl?: readonly ACL[]): void {
  tx.changes.push({ zxid: tx.zxid, idx: tx.changes.length, type, path, time: tx.time, session: tx.session, acl });
}

const hasRemovalTimer = (mode: CreateMode) => isTtl(mode) || mode === CreateMode.CONTAINER;

export function mustGet(store: Store, path: string): ZNode {
  const node = store.getNode(path);
  if (!node) throw new ZkError(Code.NONODE, `no node ${path}`);
  return node;
}

function checkVersion(expected: number, actual: number, path: string): void {
  if (expected !== -1 && expected !== actual)
    throw new ZkError(Code.BADVERSION, `version ${expected} does not match ${actual} at ${path}`);
}

function checkData(tx: Txn, data: Uint8Array): void {
  if (data.byteLength > tx.config.maxDataBytes)
    throw new ZkError(Code.BADARGUMENTS, `data of ${data.byteLength} bytes exceeds the ${tx.config.maxDataBytes}-byte limit (EDGEKEEPER_MAX_DATA_BYTES)`);
}

/** The longest path a request may name (the WebSocket and HTTP schemas refuse longer ones). */
export const MAX_PATH_CHARS = 4096;

/** ZooKeeper's `String.format("%010d", cversion)`, negative numbers included. */
export function sequenceSuffix(n: number): string {
  return n < 0 ? "-" + String(-n).padStart(9, "0") : String(n).padStart(10, "0");
}

/**
 * ZooKeeper stores cversion as the number of child creates and shows clients
 * `2 * creates - numChildren` (DataNode.copyStat), so a create and a delete each add one.
 * Sequential suffixes and container eligibility use the creates count.
 */
export const childCreates = (stat: Stat): number => (stat.cversion + stat.numChildren) / 2;

export function applyCreate(tx: Txn, req: CreateRequest): { path: string; stat: Stat } {
  const { store } = tx;
  const sequential = isSequential(req.mode);
  validatePath(req.path, sequential);
  validateTtl(req.mode, req.ttl, tx.config.ttlEnabled);
  const acl = fixupAcl(req.acl ?? OPEN_ACL, tx.identities);
  const parentPath = parentOf(sequential && req.path.endsWith("/") ? req.path + "x" : req.path);
  const parent = mustGet(store, parentPath);
  checkAcl(parent, Perms.CREATE, tx.identities, parentPath);
  const path = sequential ? req.path + sequenceSuffix(childCreates(parent.stat)) : req.path;
  // The suffix may take a path past what any request can carry: such a node could never be
  // read, changed or deleted again.
  if (path.length > MAX_PATH_CHARS) throw new ZkError(Code.BADARGUMENTS, `path of ${path.length} characters exceeds the ${MAX_PATH_CHARS}-character limit`);
  validatePath(path);
  checkPathLimits(path, tx.config);
  if (store.getNode(path)) throw new ZkError(Code.NODEEXISTS, `node ${path} already exists`);
  if (parent.stat.ephemeralOwner !== NO_OWNER)
    throw new ZkError(Code.NOCHILDRENFOREPHEMERALS, `ephemeral node ${parentPath} cannot have children`);
  checkData(tx, req.data);
  if (isEphemeral(req.mode) && tx.session === "")
    throw new ZkError(Code.BADARGUMENTS, "ephemeral nodes need a session");
  checkChildren(parentPath, parent.stat.numChildren, tx.config);

  const owner = isEphemeral(req.mode) ? tx.session : NO_OWNER;
  const stat: Stat = {
    czxid: tx.zxid,
    mzxid: tx.zxid,
    pzxid: tx.zxid,
    ctime: tx.time,
    mtime: tx.time,
    version: 0,
    cversion: 0,
    aversion: 0,
    ephemeralOwner: owner,
    dataLength: req.data.byteLength,
    numChildren: 0,
  };
  const node: ZNode = { path, data: req.data, acl, stat, mode: req.mode, ttl: isTtl(req.mode) ? req.ttl! : 0 };
  tx.quotas?.onCreate(tx, node);
  store.putNode(node);
  parent.stat.cversion = (parent.stat.cversion + 1) | 0;
  parent.stat.numChildren += 1;
  parent.stat.pzxid = tx.zxid;
  store.putNode(parent);
  record(tx, "create", path, acl);
  if (isTtl(req.mode)) tx.touched.add(path);
  return { path, stat };
}

export function applyDelete(tx: Txn, req: DeleteRequest): void {
  const { store } = tx;
  validatePath(req.path);
  if (SPECIAL_PATHS.has(req.path)) throw new ZkError(Code.BADARGUMENTS, `${req.path} cannot be deleted`);
  const parentPath = parentOf(req.path);
  checkAcl(mustGet(store, parentPath), Perms.DELETE, tx.identities, parentPath);
  const node = mustGet(store, req.path);
  checkVersion(req.version, node.stat.version, req.path);
  if (node.stat.numChildren > 0) throw new ZkError(Code.NOTEMPTY, `node ${req.path} has children`);
  removeNode(tx, node);
}

/** Deletes a childless node and updates its parent; shared by delete, expiry and timers. */
export function removeNode(tx: Txn, node: ZNode): void {
  const { store } = tx;
  const parentPath = parentOf(node.path);
  const parent = mustGet(store, parentPath);
  store.deleteNode(node.path);
  tx.quotas?.onDelete(tx, node);
  parent.stat.cversion = (parent.stat.cversion + 1) | 0;
  parent.stat.numChildren -= 1;
  if (tx.zxid > parent.stat.pzxid) parent.stat.pzxid = tx.zxid;
  store.putNode(parent);
  record(tx, "delete", node.path, node.acl);
  // Only TTL nodes and containers have removal timers to review: the parent (it may now be
  // childless) and the node itself (its timer goes with it).
  if (hasRemovalTimer(parent.mode)) tx.touched.add(parentPath);
  if (hasRemovalTimer(node.mode)) tx.touched.add(node.path);
}

export function applySetData(tx: Txn, req: SetDataRequest): { stat: Stat } {
  const { store } = tx;
  validatePath(req.path);
  const node = mustGet(store, req.path);
  checkAcl(node, Perms.WRITE, tx.identities, req.path);
  checkVersion(req.version, node.stat.version, req.path);
  checkData(tx, req.data);
  const before = node.data.byteLength;
  node.data = req.data;
  node.stat.version = (node.stat.version + 1) | 0;
  node.stat.mzxid = tx.zxid;
  node.stat.mtime = tx.time;
  node.stat.dataLength = req.data.byteLength;
  tx.quotas?.onSetData(tx, node, before);
  store.putNode(node);
  record(tx, "setData", req.path, node.acl);
  if (node.ttl > 0) tx.touched.add(req.path);
  return { stat: node.stat };
}

export function applySetAcl(tx: Txn, req: SetAclRequest): { stat: Stat } {
  const { store } = tx;
  validatePath(req.path);
  const acl = fixupAcl(req.acl, tx.identities);
  const node = mustGet(store, req.path);
  checkAcl(node, Perms.ADMIN, tx.identities, req.path);
  checkVersion(req.version, node.stat.aversion, req.path);
  node.acl = acl;
  node.stat.aversion = (node.stat.aversion + 1) | 0;
  store.putNode(node);
  record(tx, "setACL", req.path);
  return { stat: node.stat };
}

export function applyCheck(store: Store, req: CheckRequest, identities: readonly Id[]): void {
  validatePath(req.path);
  const node = mustGet(store, req.path);
  checkAcl(node, Perms.READ, identities, req.path);
  checkVersion(req.version, node.stat.version, req.path);
}

/** Nodes that exist from the start and can never be deleted (PrepRequestProcessor.isSpecialPath). */
export const SPECIAL_PATHS = new Set(["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"]);

/**
 * The nodes a fresh namespace starts with, exactly as ZooKeeper's DataTree shows them: all
 * zeros, except that children added at start-up count as never created (so `/` shows
 * cversion -1 and `/zookeeper` -2) and `/zookeeper/config` is read-only with aversion -1.
 */
export function initialNodes(): ZNode[] {
  const node = (path: string, numChildren: number, acl = OPEN_ACL, aversion = 0): ZNode => ({
    path,
    data: new Uint8Array(0),
    acl: [...acl],
    stat: {
      czxid: 0, mzxid: 0, pzxid: 0, ctime: 0, mtime: 0, version: 0, cversion: -numChildren, aversion,
      ephemeralOwner: NO_OWNER, dataLength: 0, numChildren,
    },
    mode: CreateMode.PERSISTENT,
    ttl: 0,
  });
  return [node("/", 1), node("/zookeeper", 2), node("/zookeeper/quota", 0), node("/zookeeper/config", 0, READ_ACL, -1)];
}
