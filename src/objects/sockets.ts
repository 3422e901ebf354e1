import { Code, codeName } from "../core/errors.js";
import type { Connection, ConnectionDirectory } from "../protocol/session-server.js";
import type { Grant } from "../protocol/grant.js";
import { juteMessage } from "../protocol/jute/server.js";
import { closeEnvelope, messageEnvelope } from "../protocol/wire.js";

/** Grants nothing: what a socket without a readable attachment gets. */
const NO_GRANT: Grant = Object.freeze({ read: false, write: false, admin: false, super: false });

/** What each hibernatable socket carries across hibernation (well under the 16 KiB limit). */
export interface Attachment {
  ip: string;
  /** What the caller's token allows here, as the Worker established it at the upgrade. */
  grant: Grant;
  session?: string;
  /** Last time (ms) a frame arrived on it: liveness that survives hibernation without a storage write. */
  heard?: number;
  /** A shared socket (subprotocol edgekeeper.mux.v1): its channels' sessions, by channel number. */
  channels?: Record<string, string>;
  /** A ZooKeeper binary-protocol socket (route /zk, src/protocol/jute): one packet per binary message. */
  zk?: true;
}

/** How stale the `heard` time in an attachment may get, to avoid re-serializing on every frame. */
const HEARD_RESOLUTION_MS = 1000;

const wrappers = new WeakMap<WebSocket, Connection>();
const sockets = new WeakMap<Connection, WebSocket>();

const attachmentOf = (ws: WebSocket): Attachment => (ws.deserializeAttachment() as Attachment | null) ?? { ip: "unknown", grant: NO_GRANT };

/**
 * The protocol's Connection over a hibernatable WebSocket. Its state lives in the socket's
 * attachment (so it survives hibernation), mirrored in memory so the hot path never
 * deserializes. A shared socket's channels are Connections of their own (sharedChannel).
 */
export function socketConnection(ws: WebSocket): Connection {
  let c = wrappers.get(ws);
  if (!c) {
    let att = attachmentOf(ws);
    const save = (next: Attachment) => {
      att = next;
      ws.serializeAttachment(next);
    };
    const channels = new Map<number, Connection>();
    const carrier: Connection = {
      get session() {
        return att.session;
      },
      get ip() {
        return att.ip;
      },
      get grant() {
        return att.grant ?? NO_GRANT;
      },
      shared: att.channels !== undefined,
      bind(session: string) {
        save({ ...att, session });
      },
      heard(now: number) {
        if (now - (att.heard ?? 0) >= HEARD_RESOLUTION_MS) save({ ...att, heard: now });
      },
      send(text: string) {
        ws.send(text);
      },
      ...(att.zk
        ? {
            write(messages: unknown[]) {
              for (const m of messages) {
                const packet = juteMessage(m);
                if (packet) ws.send(packet);
              }
            },
          }
        : {}),
      close(code: number, reason: string) {
        save({ ip: att.ip, grant: att.grant, ...(att.channels ? { channels: {} } : {}), ...(att.zk ? { zk: true as const } : {}) });
        ws.close(code, reason);
      },
      channel(ch: number): Connection {
        let chan = channels.get(ch);
        if (!chan) channels.set(ch, (chan = sharedChannel(carrier, ch, () => att, save)));
        return chan;
      },
      channels(): Connection[] {
        return Object.keys(att.channels ?? {}).map((ch) => carrier.channel!(Number(ch)));
      },
    };
    c = carrier;
    wrappers.set(ws, c);
    sockets.set(c, ws);
  }
  return c;
}

/** One channel of a shared socket: its session is kept in the socket's attachment. */
function sharedChannel(carrier: Connection, ch: number, att: () => Attachment, save: (a: Attachment) => void): Connection {
  const unbind = () => {
    const { [String(ch)]: _gone, ...rest } = att().channels ?? {};
    save({ ...att(), channels: rest });
  };
  return {
    get session() {
      return att().channels?.[String(ch)];
    },
    get ip() {
      return carrier.ip;
    },
    get grant() {
      return carrier.grant;
    },
    carrier,
    ch,
    bind(session: string) {
      save({ ...att(), channels: { ...att().channels, [String(ch)]: session } });
    },
    heard: (now: number) => carrier.heard(now),
    send(text: string) {
      carrier.send(`[${messageEnvelope(ch, text)}]`);
    },
    close(code: number, reason: string) {
      unbind();
      carrier.send(`[${closeEnvelope(ch, code, reason)}]`);
    },
    unbind,
  };
}

/**
 * Which socket carries which session. Rebuilt from the sockets' attachments after the object
 * wakes from hibernation, so no watch or event is lost to an eviction.
 */
export class SocketDirectory implements ConnectionDirectory {
  /** Session → its socket, and its channel when the socket is shared. */
  private bySession: Map<string, { ws: WebSocket; ch?: number }> | null = null;

  constructor(private readonly ctx: DurableObjectState) {}

  private get map(): Map<string, { ws: WebSocket; ch?: number }> {
    if (!this.bySession) {
      this.bySession = new Map();
      for (const ws of this.ctx.getWebSockets()) {
        if (ws.readyState !== WebSocket.OPEN) continue;
        const att = ws.deserializeAttachment() as Attachment | null;
        if (att?.session !== undefined) this.bySession.set(att.session, { ws });
        for (const [ch, session] of Object.entries(att?.channels ?? {})) this.bySession.set(session, { ws, ch: Number(ch) });
      }
    }
    return this.bySession;
  }

  of(session: string): Connection | undefined {
    const at = this.map.get(session);
    if (!at) return undefined;
    const conn = socketConnection(at.ws);
    return at.ch === undefined ? conn : conn.channel!(at.ch);
  }

  set(session: string, conn: Connection): void {
    const ws = sockets.get(conn.carrier ?? conn);
    if (ws) this.map.set(session, { ws, ch: conn.ch });
  }

  delete(session: string): void {
    this.map.delete(session);
  }

  /**
   * Whether `ws` (channel `ch` of it, for a shared socket) still carries `session`. A socket
   * that closes while the object hibernates is no longer listed by getWebSockets() when the
   * map is rebuilt on wake-up, so it counts as current when no other socket carries the session.
   */
  isCurrent(session: string, ws: WebSocket, ch?: number): boolean {
    const current = this.map.get(session);
    return current === undefined || (current.ws === ws && current.ch === ch);
  }

  /** The sessions a socket carries: its own, or its channels'. */
  sessionsOn(ws: WebSocket): Array<{ session: string; ch?: number }> {
    const att = attachmentOf(ws);
    const out: Array<{ session: string; ch?: number }> = att.session !== undefined ? [{ session: att.session }] : [];
    for (const [ch, session] of Object.entries(att.channels ?? {})) out.push({ session, ch: Number(ch) });
    return out;
  }

  /**
   * The last time this object heard from a session's socket (ms, or 0): a frame (recorded
   * in the attachment) or a heartbeat the runtime answered on our behalf.
   */
  heardFrom(session: string): number {
    const ws = this.map.get(session)?.ws;
    if (!ws) return 0;
    return Math.max(this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0, attachmentOf(ws).heard ?? 0);
  }

  /** When the earliest token of an open socket expires (ms), or undefined; computed again after `expired`. */
  private earliestExpiry: number | null | undefined;

  /** A socket was accepted with this grant. */
  accepted(grant: Grant): void {
    if (grant.expiresAt === undefined || this.earliestExpiry === undefined) return;
    if (this.earliestExpiry === null || grant.expiresAt < this.earliestExpiry) this.earliestExpiry = grant.expiresAt;
  }

  nextTokenExpiry(): number | undefined {
    if (this.earliestExpiry === undefined) {
      this.earliestExpiry = null;
      for (const ws of this.ctx.getWebSockets()) if (ws.readyState === WebSocket.OPEN) this.accepted(attachmentOf(ws).grant ?? NO_GRANT);
    }
    return this.earliestExpiry ?? undefined;
  }

  /** The open connections whose token has expired by `now`; the next expiry is computed again. */
  expired(now: number): Connection[] {
    if ((this.nextTokenExpiry() ?? Infinity) > now) return [];
    this.earliestExpiry = undefined;
    const out: Connection[] = [];
    for (const ws of this.ctx.getWebSockets()) {
      const at = attachmentOf(ws).grant?.expiresAt;
      if (at !== undefined && at <= now && ws.readyState === WebSocket.OPEN) out.push(socketConnection(ws));
    }
    return out;
  }

  /** Sessions that have an open socket right now. */
  liveSessions(): Set<string> {
    return new Set(this.map.keys());
  }
}

/**
 * The answer to a WebSocket upgrade when the namespace already has `max` open sockets
 * (EDGEKEEPER_MAX_CONNECTIONS): 429 with a THROTTLEDOP body, before any socket is accepted.
 */
export function refuseUpgrade(ctx: DurableObjectState, max: number): Response | undefined {
  const open = ctx.getWebSockets().length;
  if (open < max) return undefined;
  return Response.json(
    {
      err: Code.THROTTLEDOP,
      code: codeName(Code.THROTTLEDOP),
      message: `this namespace has ${open} open WebSocket connections, its limit (EDGEKEEPER_MAX_CONNECTIONS = ${max}); retry later`,
    },
    { status: 429, headers: { "Retry-After": "1" } },
  );
}
