import type { ACL } from "../../core/acl.js";
import { EventType, type WatchEvent } from "../../core/events.js";
import type { Stat } from "../../core/stat.js";
import { JuteError, type JuteReader, JuteWriter } from "./io.js";

/**
 * ZooKeeper 3.8's client records (zookeeper-jute's zookeeper.jute) and operation codes
 * (ZooDefs.OpCode), written from the wire format; docs/zookeeper-compat.md.
 */
export const OpCode = {
  notification: 0,
  create: 1,
  delete: 2,
  exists: 3,
  getData: 4,
  setData: 5,
  getACL: 6,
  setACL: 7,
  getChildren: 8,
  sync: 9,
  ping: 11,
  getChildren2: 12,
  check: 13,
  multi: 14,
  create2: 15,
  reconfig: 16,
  checkWatches: 17,
  removeWatches: 18,
  createContainer: 19,
  deleteContainer: 20,
  createTTL: 21,
  multiRead: 22,
  auth: 100,
  setWatches: 101,
  sasl: 102,
  getEphemerals: 103,
  getAllChildrenNumber: 104,
  setWatches2: 105,
  addWatch: 106,
  whoAmI: 107,
  createSession: -10,
  closeSession: -11,
  error: -1,
} as const;

/** Special xids (ClientCnxn): notifications, pings, auth packets, setWatches. */
export const Xid = { notification: -1, ping: -2, auth: -4, setWatches: -8 } as const;

/** Watcher.Event.KeeperState.SyncConnected: the state every notification of a live session carries. */
export const SYNC_CONNECTED = 3;

/** A session id: our 16 hex digits as ZooKeeper's signed 64-bit long, and back. */
export const sessionIdToLong = (hex: string): bigint => BigInt.asIntN(64, BigInt("0x" + hex));
export const sessionIdFromLong = (v: bigint): string => BigInt.asUintN(64, v).toString(16).padStart(16, "0");

/** The session password: our 128-bit secret (32 hex digits) as its 16 bytes, and back. */
export function secretToBytes(secret: string): Uint8Array {
  const out = new Uint8Array(secret.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(secret.slice(2 * i, 2 * i + 2), 16);
  return out;
}
export const secretFromBytes = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

export interface ConnectRequest {
  protocolVersion: number;
  lastZxidSeen: number;
  timeOut: number;
  sessionId: bigint;
  passwd: Uint8Array;
  /** Whether the client sent the trailing readOnly flag (clients since 3.4 do); the response then carries one too. */
  hasReadOnly: boolean;
  readOnly: boolean;
}

export function readConnectRequest(r: JuteReader): ConnectRequest {
  const protocolVersion = r.int();
  const lastZxidSeen = r.safeLong("lastZxidSeen");
  const timeOut = r.int();
  const sessionId = r.long();
  const passwd = r.buffer() ?? new Uint8Array(0);
  const hasReadOnly = r.remaining > 0;
  const readOnly = hasReadOnly ? r.bool() : false;
  return { protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, hasReadOnly, readOnly };
}

export function connectResponse(timeOut: number, sessionId: bigint, passwd: Uint8Array, withReadOnly: boolean): Uint8Array {
  const w = new JuteWriter().int(0).int(timeOut).long(sessionId).buffer(passwd);
  if (withReadOnly) w.bool(false);
  return w.bytes();
}

/** ReplyHeader: xid, zxid, err — the start of every packet the server sends after the handshake. */
export const replyHeader = (xid: number, zxid: number, err: number): JuteWriter => new JuteWriter().int(xid).long(zxid).int(err);

export function writeStat(w: JuteWriter, s: Stat): void {
  w.long(s.czxid).long(s.mzxid).long(s.ctime).long(s.mtime);
  w.int(s.version).int(s.cversion).int(s.aversion);
  w.long(sessionIdToLong(s.ephemeralOwner));
  w.int(s.dataLength).int(s.numChildren).long(s.pzxid);
}

export function readAcl(r: JuteReader): ACL {
  const perms = r.int();
  const scheme = r.string("ACL scheme");
  const id = r.string("ACL id");
  return { perms, scheme, id };
}
export const writeAcl = (w: JuteWriter, a: ACL): void => void w.int(a.perms).ustring(a.scheme).ustring(a.id);

/** A watch notification: ReplyHeader(-1, zxid, 0) then WatcherEvent(type, SyncConnected, path). */
export function notification(e: WatchEvent): Uint8Array {
  return replyHeader(Xid.notification, e.zxid, 0).int(EventType[e.event]).int(SYNC_CONNECTED).ustring(e.path).bytes();
}

/** MultiHeader: the op type (or -1), done, err. */
export const writeMultiHeader = (w: JuteWriter, type: number, done: boolean, err: number): void => void w.int(type).bool(done).int(err);
