import { DurableObject } from "cloudflare:workers";
import { Namespace } from "../core/namespace.js";
import { settingsFrom } from "../config.js";
import { SessionServer } from "../protocol/session-server.js";
import { SqlStore } from "./sql-store.js";
import { refuseUpgrade, SocketDirectory, socketConnection } from "./sockets.js";
import { HttpApi } from "./http-api.js";
import type { ApiCall, ApiReply, ApiStreamCall, ApiStreamReply, ApiTarget } from "../protocol/api.js";

/**
 * One namespace: a Durable Object holding the tree in SQLite and its clients' hibernatable
 * WebSockets. Wiring only: the protocol lives in src/protocol, the semantics in src/core.
 * Handlers never await between reading and writing, so each frame is applied atomically in
 * arrival order, and the output gate holds every reply until its writes are durable.
 */
export class NamespaceObject extends DurableObject<Env> implements ApiTarget {
  readonly ns: Namespace;
  private readonly server: SessionServer;
  private readonly sockets: SocketDirectory;
  /** The HTTP API (src/objects/http-api.ts), reached over typed RPC from src/routes/http. */
  private readonly http: HttpApi;
  /** The alarm time last set by this instance (undefined: unknown since wake-up). */
  private armed: number | null | undefined;
  /** Open WebSockets this namespace accepts (EDGEKEEPER_MAX_CONNECTIONS). */
  private readonly maxConnections: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const settings = settingsFrom(env as unknown as Record<string, string>);
    this.ns = new Namespace(new SqlStore(ctx.storage), settings.namespace);
    this.sockets = new SocketDirectory(ctx);
    this.server = new SessionServer(this.ns, this.sockets, settings.limits);
    this.maxConnections = settings.limits.maxConnections;
    // Heartbeats are answered by the runtime without waking the object; liveness is read
    // back from getWebSocketAutoResponseTimestamp when a session's timer comes due.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    // After a restart no socket survives: sessions that had one get a fresh timeout to resume.
    this.ns.adopt(this.sockets.liveSessions(), Date.now());
    this.http = new HttpApi({
      ns: this.ns,
      limits: settings.http,
      deliver: (deliveries, expired) => this.server.deliver(deliveries, expired),
      arm: () => this.arm(),
      durable: () => this.ctx.storage.sync(),
    });
  }

  api(call: ApiCall): Promise<ApiReply> {
    return this.http.api(call);
  }

  apiStream(call: ApiStreamCall): Promise<ApiStreamReply> {
    return this.http.apiStream(call);
  }

  apiAbandon(waiter: string): Promise<void> {
    return this.http.abandon(waiter);
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
      return Response.json({ err: -8, code: "BADARGUMENTS", message: "expected a WebSocket upgrade" }, { status: 426 });
    const refused = refuseUpgrade(this.ctx, this.maxConnections);
    if (refused) return refused;
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ ip: request.headers.get("CF-Connecting-IP") ?? "127.0.0.1" });
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (this.server.accept(socketConnection(ws), message, Date.now())) setTimeout(() => this.drain(), 0);
    else this.arm();
  }

  /** Applies the frames queued for a group commit (see SessionServer.accept). */
  private drain(): void {
    this.server.drain(Date.now());
    this.arm();
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.gone(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {
      // Already closed.
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.gone(ws);
  }

  override async alarm(): Promise<void> {
    this.armed = undefined;
    this.server.drain(Date.now());
    const { deliveries, expired } = this.ns.runTimers(Date.now(), (id) => Math.max(this.sockets.heardFrom(id), this.http.heardFrom(id)));
    this.server.deliver(deliveries, expired);
    this.arm();
  }

  /** A socket closed: if it still carried its session, the session starts counting down. */
  private gone(ws: WebSocket): void {
    this.server.drain(Date.now()); // what it sent before closing comes first
    const session = socketConnection(ws).session;
    if (session !== undefined && this.sockets.isCurrent(session, ws)) {
      this.sockets.delete(session);
      this.ns.detach(session, Date.now());
    }
    this.arm();
  }

  /** Points the object's one alarm at the earliest timer. */
  private arm(): void {
    // Every event that may have committed ends here: held HTTP requests and watches see the commits.
    this.http.afterCommit();
    const due = this.ns.nextTimerDue() ?? null;
    if (due === this.armed) return;
    this.armed = due;
    if (due === null) void this.ctx.storage.deleteAlarm();
    else void this.ctx.storage.setAlarm(due);
  }
}
