import type { Connection } from "./session-server.js";
import { closeEnvelope, messageEnvelope } from "./wire.js";

/**
 * Messages collected per connection while a frame is handled, sent together at its end. The
 * channels of a shared socket are collected per channel and leave as one message of envelopes
 * on their socket.
 */
export class Outbox {
  private readonly queues = new Map<Connection, unknown[]>();
  private readonly closes = new Map<Connection, [number, string]>();

  push(conn: Connection, message: unknown): void {
    let q = this.queues.get(conn);
    if (!q) this.queues.set(conn, (q = []));
    q.push(message);
  }

  closeAfter(conn: Connection, code: number, reason: string): void {
    this.closes.set(conn, [code, reason]);
  }

  flush(): void {
    // One text per message object: an event shared by many sessions is serialized once.
    const texts = new Map<unknown, string>();
    const single = (m: unknown) => {
      let t = texts.get(m);
      if (t === undefined) texts.set(m, (t = JSON.stringify(m)));
      return t;
    };
    const envelopes = new Map<Connection, string[]>();
    const envelope = (chan: Connection, text: string) => {
      let list = envelopes.get(chan.carrier!);
      if (!list) envelopes.set(chan.carrier!, (list = []));
      list.push(text);
    };
    for (const [conn, q] of this.queues) {
      if (conn.write) {
        try {
          conn.write(q);
        } catch {
          // As below.
        }
        continue;
      }
      const text = q.length === 1 ? single(q[0]) : JSON.stringify(q);
      if (conn.carrier) envelope(conn, messageEnvelope(conn.ch!, text));
      else
        try {
          conn.send(text);
        } catch {
          // The socket is already gone; its session will resume and replay.
        }
    }
    for (const [conn, [code, reason]] of this.closes) {
      if (!conn.carrier) continue;
      conn.unbind?.();
      envelope(conn, closeEnvelope(conn.ch!, code, reason));
    }
    for (const [carrier, list] of envelopes)
      try {
        carrier.send(`[${list.join(",")}]`);
      } catch {
        // As above.
      }
    for (const [conn, [code, reason]] of this.closes) {
      if (conn.carrier) continue;
      try {
        conn.close(code, reason);
      } catch {
        // Already closed.
      }
    }
    this.queues.clear();
    this.closes.clear();
  }
}
