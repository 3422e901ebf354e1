import { DurableObject } from "cloudflare:workers";
import { Namespace } from "../core/namespace.js";
import { settingsFrom } from "../config.js";
import { SessionServer } from "../protocol/session-server.js";
import { SqlStore } from "./sql-store.js";
import { refuseUpgrade, SocketDirectory, socketConnection, type Attachment } from "./sockets.js";
import { GRANT_HEADER, grantFromHeader } from "../protocol/grant.js";
import { SHARED_SUBPROTOCOL, ZK_SUBPROTOCOL } from "../protocol/wire.js";
import { HttpApi } from "./http-api.js";
import type { ApiCall, ApiReply, ApiStreamCall, ApiStreamReply, ApiTarget } from "../protocol/api.js";
import type { AdminCall, AdminReply, AdminTarget } from "../protocol/admin.js";
import { Admin } from "./admin.js";
import { Telemetry } from "./telemetry.js";
import { JuteServer, WIRE_HEADER } from "../protocol/jute/server.js";
import { Code, codeName } from "../core/errors.js";

/**
 * One namespace: a Durable Object holding the tree in SQLite and its clients' hibernatable
 * WebSockets. Wiring only: the protocol lives in src/protocol, the semantics in src/core.
 * Handlers never await between reading and writing, so each frame is applied atomically in
 * arrival order, and the output gate holds every reply until its writes are durable.
 */
export class NamespaceObject extends DurableObject<Env> implements ApiTarget, AdminTarget {
  readonly ns: Namespace;
  private readonly store: SqlStore;
  private readonly server: SessionServer;
  /** ZooKeeper's binary protocol on the /zk route's sockets (src/protocol/jute). */
  private readonly jute: JuteServer;
  private readonly sockets: SocketDirectory;
  /** The HTTP API (src/objects/http-api.ts), reached over typed RPC from src/routes/http. */
  private readonly http: HttpApi;
  /** The alarm time last set by this instance (undefined: unknown since wake-up). */
  private armed: number | null | undefined;
  /** Counts and latencies for the admin views (src/objects/admin.ts), in memory. */
  private readonly telemetry = new Telemetry(() => this.ctx.storage.sync());
  private readonly adminViews: Admin;
  /** Open WebSockets this namespace accepts (EDGEKEEPER_MAX_CONNECTIONS). */
  private readonly maxConnections: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const settings = settingsFrom(env as unknown as Record<string, string>);
    this.store = new SqlStore(ctx.storage);
    this.ns = new Namespace(this.store, settings.namespace);
    this.sockets = new SocketDirectory(ctx);
    this.server = new SessionServer(this.ns, this.sockets, settings.limits);
    this.server.onRequest = (op, err) => this.telemetry.wsRequest(op, err);
    this.jute = new JuteServer(this.ns, this.sockets, this.server, settings.limits);
    this.jute.onRequest = (op, err) => this.telemetry.wsRequest(op, err);
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
    this.adminViews = new Admin({
      ns: this.ns,
      store: this.store,
      sql: ctx.storage.sql,
      sockets: this.sockets,
      server: this.server,
      http: this.http,
      telemetry: this.telemetry,
      webSockets: () => ctx.getWebSockets(),
    });
  }

  api(call: ApiCall): Promise<ApiReply> {
    const at = Date.now();
    const writes = this.store.writes;
    const reply = this.http.api(call);
    this.telemetry.httpCall(call, at, this.store.writes !== writes, reply);
    return reply;
  }

  apiStream(call: ApiStreamCall): Promise<ApiStreamReply> {
    const reply = this.http.apiStream(call);
    this.telemetry.httpCall(call, Date.now(), false, reply);
    return reply;
  }

  /** Admin views (docs/admin.md): read-only, they never write to storage nor move the alarm. */
  admin(call: AdminCall): Promise<AdminReply> {
    return Promise.resolve(this.adminViews.admin(call));
  }

  apiAbandon(waiter: string): Promise<void> {
    return this.http.abandon(waiter);
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
      return Response.json({ err: Code.BADARGUMENTS, code: codeName(Code.BADARGUMENTS), message: "expected a WebSocket upgrade" }, { status: 426 });
    // Only the edge Worker reaches this object, and it always names the caller's grant.
    const grant = grantFromHeader(request.headers.get(GRANT_HEADER));
    if (!grant) return Response.json({ err: Code.NOAUTH, code: codeName(Code.NOAUTH), message: "no grant: connect through the edgekeeper Worker" }, { status: 403 });
    const refused = refuseUpgrade(this.ctx, this.maxConnections);
    if (refused) return refused;
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    const protocol = request.headers.get("Sec-WebSocket-Protocol");
    // A shared socket carries the sessions of many channels (src/client/shared-socket.ts).
    const zk = request.headers.get(WIRE_HEADER) === ZK_SUBPROTOCOL;
    const attachment: Attachment = {
      ip: request.headers.get("CF-Connecting-IP") ?? "127.0.0.1",
      grant,
      ...(zk ? { zk: true as const } : protocol === SHARED_SUBPROTOCOL ? { channels: {} } : {}),
    };
    server.serializeAttachment(attachment);
    this.sockets.accepted(grant);
    this.arm();
    return new Response(null, { status: 101, webSocket: client, headers: protocol ? { "Sec-WebSocket-Protocol": protocol } : {} });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const at = Date.now();
    const writes = this.store.writes;
    const conn = socketConnection(ws);
    if (conn.write) {
      // A ZooKeeper packet: frames queued for a group commit arrived first, so they go first.
      this.server.drain(at);
      this.jute.onPacket(conn, message, at);
      this.arm();
    } else if (this.server.accept(conn, message, at)) setTimeout(() => this.drain(), 0);
    else this.arm();
    this.telemetry.frame(at, this.server.queued > 0, this.store.writes !== writes);
  }

  /** Applies the frames queued for a group commit (see SessionServer.accept). */
  private drain(): void {
    const writes = this.store.writes;
    this.server.drain(Date.now());
    this.arm();
    this.telemetry.drained(this.store.writes !== writes);
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
    const writes = this.store.writes;
    this.server.drain(Date.now());
    const { deliveries, expired } = this.ns.runTimers(Date.now(), (id) => Math.max(this.sockets.heardFrom(id), this.http.heardFrom(id)));
    this.server.deliver(deliveries, expired);
    for (const conn of this.sockets.expired(Date.now())) this.server.tokenExpired(conn, Date.now());
    this.arm();
    this.telemetry.drained(this.store.writes !== writes);
  }

  /** A socket closed: if it still carried its session, the session starts counting down. */
  private gone(ws: WebSocket): void {
    const writes = this.store.writes;
    this.server.drain(Date.now()); // what it sent before closing comes first
    this.telemetry.drained(this.store.writes !== writes);
    for (const { session, ch } of this.sockets.sessionsOn(ws))
      if (this.sockets.isCurrent(session, ws, ch)) {
        this.sockets.delete(session);
        this.ns.detach(session, Date.now());
      }
    this.arm();
  }

  /** Points the object's one alarm at the earliest timer. */
  private arm(): void {
    // Every event that may have committed ends here: held HTTP requests and watches see the commits.
    this.http.afterCommit();
    // The earliest of the core's timers and the tokens of open sockets (closed when they expire).
    const earliest = Math.min(this.ns.nextTimerDue() ?? Infinity, this.sockets.nextTokenExpiry() ?? Infinity);
    const due = earliest === Infinity ? null : earliest;
    if (due === this.armed) return;
    this.armed = due;
    if (due === null) void this.ctx.storage.deleteAlarm();
    else void this.ctx.storage.setAlarm(due);
  }
}
