import type { Connection, ConnectionDirectory } from "../protocol/session-server.js";

/** What each hibernatable socket carries across hibernation (well under the 16 KiB limit). */
interface Attachment {
  ip: string;
  session?: string;
}

const wrappers = new WeakMap<WebSocket, Connection>();
const sockets = new WeakMap<Connection, WebSocket>();

/** The protocol's Connection over a hibernatable WebSocket; the session lives in its attachment. */
export function socketConnection(ws: WebSocket): Connection {
  let c = wrappers.get(ws);
  if (!c) {
    const att = (): Attachment => (ws.deserializeAttachment() as Attachment | null) ?? { ip: "unknown" };
    c = {
      get session() {
        return att().session;
      },
      get ip() {
        return att().ip;
      },
      bind(session: string) {
        ws.serializeAttachment({ ...att(), session });
      },
      send(text: string) {
        ws.send(text);
      },
      close(code: number, reason: string) {
        ws.serializeAttachment({ ip: att().ip });
        ws.close(code, reason);
      },
    };
    wrappers.set(ws, c);
    sockets.set(c, ws);
  }
  return c;
}

/**
 * Which socket carries which session. Rebuilt from the sockets' attachments after the object
 * wakes from hibernation, so no watch or event is lost to an eviction.
 */
export class SocketDirectory implements ConnectionDirectory {
  private bySession: Map<string, WebSocket> | null = null;

  constructor(private readonly ctx: DurableObjectState) {}

  private get map(): Map<string, WebSocket> {
    if (!this.bySession) {
      this.bySession = new Map();
      for (const ws of this.ctx.getWebSockets()) {
        const session = (ws.deserializeAttachment() as Attachment | null)?.session;
        if (session !== undefined && ws.readyState === WebSocket.OPEN) this.bySession.set(session, ws);
      }
    }
    return this.bySession;
  }

  of(session: string): Connection | undefined {
    const ws = this.map.get(session);
    return ws ? socketConnection(ws) : undefined;
  }

  set(session: string, conn: Connection): void {
    const ws = sockets.get(conn);
    if (ws) this.map.set(session, ws);
  }

  delete(session: string): void {
    this.map.delete(session);
  }

  /**
   * Whether `ws` still carries `session`. A socket that closes while the object hibernates is
   * no longer listed by getWebSockets() when the map is rebuilt on wake-up, so it counts as
   * current when no other socket carries the session.
   */
  isCurrent(session: string, ws: WebSocket): boolean {
    const current = this.map.get(session);
    return current === undefined || current === ws;
  }

  /** When the runtime last answered this session's heartbeat on our behalf (ms, or 0). */
  heardFrom(session: string): number {
    const ws = this.map.get(session);
    return ws ? (this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0) : 0;
  }
}
