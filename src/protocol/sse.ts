import type { WatchEvent } from "../core/events.js";
import { eventMessage } from "./encode.js";

/**
 * Server-Sent Events for HTTP watches (docs/http.md). Watch events are unnamed (`message`)
 * events whose data is the WebSocket protocol's event message; control messages are named
 * (`ready`, `resync`, `leader`). A transaction's events are written together, and only the last
 * of them carries `id: <zxid>`, so a client that resumes with Last-Event-ID never skips the
 * rest of a transaction it saw only part of. A heartbeat is a comment plus a bare `id:` line
 * (not dispatched, but it moves EventSource's last event id), so a quiet watch resumes from a
 * recent zxid rather than one the change log may have dropped.
 */

const enc = new TextEncoder();

const field = (name: string, value: string) => `${name}: ${value}\n`;

/** One SSE message. */
export function sseMessage(opts: { event?: string; id?: number; data?: unknown; comment?: string }): string {
  let s = "";
  if (opts.comment !== undefined) s += `: ${opts.comment}\n`;
  if (opts.event !== undefined) s += field("event", opts.event);
  if (opts.data !== undefined) s += field("data", JSON.stringify(opts.data));
  if (opts.id !== undefined) s += field("id", String(opts.id));
  return s + "\n";
}

/** Watch events, in zxid order: `id` only on the last event of each transaction. */
export function sseEvents(events: readonly WatchEvent[]): string {
  let s = "";
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    const last = i + 1 === events.length || events[i + 1].zxid !== e.zxid;
    s += sseMessage({ data: eventMessage(e), id: last ? e.zxid : undefined });
  }
  return s;
}

export const sseBytes = (s: string): Uint8Array => enc.encode(s);

/** Parses an SSE text into messages, for tests and clients that read the stream by hand (a `retry:`-only block is not one). */
export function parseSse(text: string): Array<{ event: string; data?: string; id?: string }> {
  const out: Array<{ event: string; data?: string; id?: string }> = [];
  for (const block of text.split("\n\n")) {
    let event = "message";
    let data: string | undefined;
    let id: string | undefined;
    let named = false;
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const name = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (name === "event") (event = value), (named = true);
      else if (name === "data") data = data === undefined ? value : data + "\n" + value;
      else if (name === "id") id = value;
    }
    // Blocks with data are dispatched; id-only blocks (heartbeats) are kept too, to see the id move.
    if (data !== undefined || id !== undefined || named) out.push({ event, data, id });
  }
  return out;
}
