import { codeName, type ZkError } from "../core/errors.js";
import { EventType, type WatchEvent } from "../core/events.js";
import { encodeBase64 } from "./base64.js";

/** Server messages as they go on the wire (docs/protocol.md §3–4). */

/** Turns a core result into JSON-ready fields: znode data becomes base64. */
function wireResult(result: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(result)) {
    if (val instanceof Uint8Array) out[k] = encodeBase64(val);
    else if (k === "results" && Array.isArray(val)) out[k] = val.map((r) => wireResult(r as Record<string, unknown>));
    else out[k] = val;
  }
  return out;
}

export function responseMessage(xid: number | null, zxid: number, result?: Record<string, unknown>, error?: ZkError) {
  if (error) return { xid, zxid, err: error.code, code: codeName(error.code), message: error.message, ...(result ? wireResult(result) : {}) };
  return { xid, zxid, err: 0, ...(result ? wireResult(result) : {}) };
}

/** A refused handshake (docs/protocol.md §2): the code, its name, why, and any extra fields. */
export function connectError(err: number, message: string, extra: Record<string, unknown> = {}) {
  return { type: "connect-error", err, code: codeName(err), message, ...extra };
}

export function eventMessage(e: WatchEvent) {
  return { type: "event", event: e.event, eventType: EventType[e.event], path: e.path, zxid: e.zxid };
}
