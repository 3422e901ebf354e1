import type { HttpLimits } from "../config.js";
import { isEphemeral } from "../core/create-mode.js";
import { sortBySequence } from "../core/contenders.js";
import { Code, ZkError } from "../core/errors.js";
import type { Delivery } from "../core/events.js";
import { checkLease, createLease, describeLease, keepAlive, revokeLease } from "../core/leases.js";
import type { Namespace, Outcome } from "../core/namespace.js";
import type { Stat } from "../core/stat.js";
import type { ApiCall, ApiReply, ApiStreamCall, ApiStreamReply, Caller, NodeRequest } from "../protocol/api.js";
import { RateLimiter } from "../protocol/rate-limit.js";
import { errorReply, Grants } from "./grants.js";
import { HttpWatches, leaderJson } from "./http-watch.js";

/** What the HTTP API needs from its Durable Object. */
export interface ApiHost {
  readonly ns: Namespace;
  readonly limits: HttpLimits;
  /** Sends events (and session ends) to WebSocket sessions. */
  deliver(deliveries: readonly Delivery[], expired: readonly string[]): void;
  /** Feeds new commits to held requests and watches, and re-points the alarm. */
  committed(): void;
  /** Resolves once every write made so far is durable. */
  durable(): Promise<void>;
  /**
   * Throws THROTTLEDOP when the namespace already holds EDGEKEEPER_MAX_HTTP_HELD requests —
   * lock, semaphore and election waiters and long-polls together.
   */
  roomToHold(): void;
}

/** The object's side of the edge: what the Durable Object gives the API. */
export interface ObjectHooks {
  readonly ns: Namespace;
  readonly limits: HttpLimits;
  deliver(deliveries: readonly Delivery[], expired: readonly string[]): void;
  /** Feeds new commits to the API (afterCommit) and points the alarm at the earliest timer. */
  arm(): void;
  durable(): Promise<void>;
}

const sessionLess = (r: NodeRequest): boolean =>
  (r.op === "create" && isEphemeral(r.mode)) || (r.op === "multi" && r.ops.some((o) => o.op === "create" && isEphemeral(o.mode)));

/**
 * The HTTP API inside the namespace's Durable Object (docs/http.md): the routes in the edge
 * Worker validate requests into typed calls (src/protocol/api.ts) and send them here over RPC.
 * Node reads and writes, multi and leases are answered at once; lock, semaphore and election
 * grants and long-polls may be held (Grants, HttpWatches); streams carry Server-Sent Events.
 *
 * Like a WebSocket frame, every call is applied synchronously from start to finish, and its
 * reply leaves through the output gate once its writes are durable. After each call (and after
 * every WebSocket frame and alarm, see `afterCommit`) the new part of the change log is handed
 * to the held requests and watches.
 */
export class HttpApi {
  private readonly grants: Grants;
  private readonly watches: HttpWatches;
  /** The feed has handed out every change up to this zxid. */
  private seen: number;
  /** Request rate per lease, or per client address for calls without one (docs/limits.md). */
  private readonly rates: RateLimiter;

  constructor(private readonly hooks: ObjectHooks) {
    const host: ApiHost = {
      ns: hooks.ns,
      limits: hooks.limits,
      deliver: (d, e) => hooks.deliver(d, e),
      committed: () => this.settle(),
      durable: () => hooks.durable(),
      roomToHold: () => {
        const max = hooks.limits.maxHeld;
        if (this.counts().held >= max) throw new ZkError(Code.THROTTLEDOP, `too many held requests in this namespace (EDGEKEEPER_MAX_HTTP_HELD = ${max}); retry later`);
      },
    };
    this.grants = new Grants(host);
    this.watches = new HttpWatches(host);
    this.seen = hooks.ns.zxid;
    this.rates = new RateLimiter(hooks.limits.requestRate, hooks.limits.requestBurst);
  }

  /**
   * Charges a call to its lease's token bucket (or its address's, without a lease): THROTTLEDOP
   * when empty. Keepalives and revocations are free, as pings and closes are on a WebSocket.
   */
  private throttle(caller: Caller, op: string, now: number): void {
    if (op === "lease.keepalive" || op === "lease.revoke") return;
    const key = caller.lease ? caller.lease.id : `ip:${caller.identities[0]?.id ?? ""}`;
    const wait = this.rates.take(key, now);
    if (wait > 0) throw this.rates.refusal(wait, caller.lease ? "lease" : "client address without a lease");
  }

  private get ns(): Namespace {
    return this.hooks.ns;
  }

  /** Held requests (waiters, long-polls) and open streams (admin views). */
  counts(): { held: number; streams: number } {
    const w = this.watches.counts;
    return { held: this.grants.held + w.held, streams: w.streams };
  }

  /** Liveness the core does not see: a lease whose request is held here is alive now. */
  heardFrom(session: string): number {
    return this.grants.heardFrom(session);
  }

  api(call: ApiCall): Promise<ApiReply> {
    let reply: ApiReply | Promise<ApiReply>;
    try {
      const now = Date.now();
      this.throttle(call.caller, call.op, now);
      reply = this.dispatch(call, now);
    } catch (e) {
      reply = this.failure(e, call.op);
    }
    this.settle();
    return Promise.resolve(reply);
  }

  apiStream(call: ApiStreamCall): Promise<ApiStreamReply> {
    let reply: ApiStreamReply;
    try {
      this.throttle(call.caller, call.op, Date.now());
      reply = call.op === "watch" ? this.watches.watch(call) : this.watches.observe(call);
    } catch (e) {
      reply = this.failure(e, call.op) as ApiStreamReply;
    }
    this.settle();
    return Promise.resolve(reply);
  }

  abandon(waiter: string): Promise<void> {
    try {
      if (!this.watches.abandon(waiter)) this.grants.abandon(waiter);
    } catch (e) {
      this.failure(e, "abandon");
    }
    this.settle();
    return Promise.resolve();
  }

  /**
   * The commit feed: hands the changes committed since the last call to the held requests and
   * watches. Called after every API call, WebSocket frame and alarm. A grant may write (a
   * semaphore's touch), so it runs until nothing new was committed. Reads nothing when no HTTP
   * request is held and no stream is open.
   */
  afterCommit(): void {
    try {
      for (let round = 0; round < 100 && this.ns.zxid > this.seen; round++) {
        const from = this.seen;
        const upTo = this.ns.zxid;
        this.seen = upTo;
        if (!this.grants.active && !this.watches.active) continue;
        // The log was trimmed past what the feed had seen (a tiny retention): nothing is missed
        // silently — streams get a resync, waiters all look again.
        const floor = this.ns.oldestReplayableZxid;
        const lost = from < floor;
        const changes = lost ? [] : this.ns.changesAfter(from).filter((c) => c.zxid <= upTo);
        this.watches.onCommit(changes, upTo, lost ? { fromZxid: from, oldestZxid: floor, zxid: upTo } : undefined);
        this.grants.onCommit(changes, lost);
      }
    } catch (e) {
      console.error("edgekeeper: commit feed failed", e);
    }
  }

  /** After a call: the object feeds the commits (afterCommit) and re-points its alarm. */
  private settle(): void {
    this.hooks.arm();
  }

  /** A failure that is not a ZooKeeper error (a storage fault, a bug) changed nothing: SYSTEMERROR. */
  private failure(e: unknown, op: string): ApiReply {
    if (e instanceof ZkError) return errorReply(this.ns.zxid, e);
    console.error("edgekeeper: HTTP call failed", op, e);
    this.ns.recover();
    this.seen = this.ns.zxid;
    return errorReply(this.ns.zxid, new ZkError(Code.SYSTEMERROR, `internal error while applying ${op}`));
  }

  private dispatch(call: ApiCall, now: number): ApiReply | Promise<ApiReply> {
    switch (call.op) {
      case "execute":
        return this.execute(call.caller, call.request, now);
      case "lease.create": {
        const info = createLease(this.ns, call.ttl, call.caller.identities, now);
        return ok(this.ns.zxid, { ...info, lease: `${info.leaseId}.${info.secret}` });
      }
      case "lease.keepalive": {
        const info = keepAlive(this.ns, this.grants.lease(call.caller, now), now);
        return ok(this.ns.zxid, { leaseId: info.leaseId, ttl: info.ttl, expiresAt: info.expiresAt });
      }
      case "lease.get": {
        const s = this.grants.lease(call.caller, now);
        return ok(this.ns.zxid, describeLease(this.ns, s, now, this.heardFrom(s.id)));
      }
      case "lease.revoke": {
        const s = this.grants.lease(call.caller, now);
        const ephemerals = this.ns.store.ephemeralsOf(s.id);
        const { zxid, deliveries } = revokeLease(this.ns, s, now);
        this.hooks.deliver(deliveries, []);
        return ok(zxid, { leaseId: s.id, revoked: true, deleted: ephemerals });
      }
      case "acquire":
        return this.grants.acquire(call, now);
      case "release":
        return this.grants.release(call, now);
      case "refresh":
        return this.grants.refresh(call, now);
      case "proclaim":
        return this.grants.proclaim(call, now);
      case "leader":
        return this.leader(call.caller.identities, call.path, now);
      case "poll":
        return this.watches.poll(call);
    }
  }

  private execute(caller: ApiCall["caller"], request: NodeRequest, now: number): ApiReply {
    let outcome: Outcome;
    if (caller.lease) {
      const s = checkLease(this.ns, caller.lease.id, caller.lease.secret, now, this.heardFrom(caller.lease.id));
      outcome = this.ns.execute(s.id, request, now);
    } else {
      if (sessionLess(request)) throw new ZkError(Code.BADARGUMENTS, "ephemeral nodes need a lease: create one (POST /leases) and send it as Edgekeeper-Lease");
      outcome = this.ns.executeWithoutSession(caller.identities, request, now);
    }
    this.hooks.deliver(outcome.deliveries, []);
    if (!outcome.error) return ok(outcome.zxid, outcome.result ?? {});
    const results = (outcome.result as { results?: unknown[] } | undefined)?.results;
    return { ...errorReply(outcome.zxid, outcome.error), ...(results ? { results } : {}) } as ApiReply;
  }

  /** The election's current leader: its lowest candidate. Reads through the core (ACLs apply). */
  private leader(identities: ApiCall["caller"]["identities"], path: string, now: number): ApiReply {
    const list = this.ns.executeWithoutSession(identities, { op: "getChildren", path }, now);
    if (list.error) throw list.error;
    const names = (list.result as { children: string[] }).children;
    for (const name of sortBySequence(names)) {
      const node = `${path === "/" ? "" : path}/${name}`;
      const read = this.ns.executeWithoutSession(identities, { op: "getData", path: node }, now);
      if (read.error?.code === Code.NONODE) continue;
      if (read.error) throw read.error;
      const { data, stat } = read.result as { data: Uint8Array; stat: Stat };
      return ok(this.ns.zxid, { path, leader: leaderJson(node, data, stat) });
    }
    throw new ZkError(Code.NONODE, `${path} has no leader (no candidate)`);
  }
}

const ok = (zxid: number, result: Record<string, unknown>): ApiReply => ({ ok: true, zxid, result });
