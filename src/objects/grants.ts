import { checkAcl, Perms, type Id } from "../core/acl.js";
import { contendersOf, findContender, PREFIX, standingIn, type Rule } from "../core/contenders.js";
import { CreateMode } from "../core/create-mode.js";
import { Code, codeName, ZkError } from "../core/errors.js";
import { checkLease, createLease, GRANT_LEASE, keepAlive, revokeLease } from "../core/leases.js";
import type { Namespace, Outcome } from "../core/namespace.js";
import { ancestors, joinPath, nameOf, parentOf, validatePath } from "../core/paths.js";
import type { Request } from "../core/requests.js";
import { NO_OWNER } from "../core/stat.js";
import type { Change, SessionRecord } from "../core/store.js";
import type { ApiCall, ApiReply, Caller } from "../protocol/api.js";
import type { ApiHost } from "./http-api.js";

type AcquireCall = Extract<ApiCall, { op: "acquire" }>;
type GrantCall = Extract<ApiCall, { op: "release" | "refresh" }>;
type ProclaimCall = Extract<ApiCall, { op: "proclaim" }>;

/** A contender whose HTTP request the object holds until it is granted, gives up or goes. */
interface Waiter {
  id: string;
  rule: Rule;
  base: string;
  node: string;
  name: string;
  token: number;
  lease: SessionRecord;
  data: Uint8Array;
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve: (r: ApiReply) => void;
}

/** How long an abandon that arrived before its call is remembered (ms). */
const EARLY_ABANDON_MS = 60_000;

const ok = (zxid: number, result: Record<string, unknown>): ApiReply => ({ ok: true, zxid, result });
export const errorReply = (zxid: number, e: ZkError): ApiReply => ({ ok: false, zxid, err: e.code, code: codeName(e.code), message: e.message });

/** Throws the outcome's error, if any. */
function must(o: Outcome): Outcome {
  if (o.error) throw o.error;
  return o;
}

/**
 * Locks, semaphores and elections for HTTP callers, in the recipes' tree layout
 * (src/core/contenders.ts). An acquire creates its contender and, when it does not hold at
 * once, is held open by the object — nobody polls: after every commit the object hands the
 * changes here (onCommit), and the waiters of every base path that lost a child are looked at
 * again. A waiter that gives up (its `wait` passed, its client went away) deletes its node; one
 * whose node went (its lease expired, someone deleted it) is told so. While its request is held
 * a waiter's lease is kept alive by the object (heardFrom); once granted, the caller keeps it
 * alive with refresh.
 */
export class Grants {
  private readonly byId = new Map<string, Waiter>();
  private readonly byBase = new Map<string, Set<Waiter>>();
  /** Leases with a held request, and how many. */
  private readonly heldLeases = new Map<string, number>();
  /** Waiters abandoned before their call arrived (the route's abandon can overtake it). */
  private readonly early = new Map<string, number>();

  constructor(private readonly host: ApiHost) {}

  private get ns(): Namespace {
    return this.host.ns;
  }

  get active(): boolean {
    return this.byId.size > 0;
  }

  /** Requests held until granted (admin views). */
  get held(): number {
    return this.byId.size;
  }

  /** Liveness of a lease whose request is held here: it is alive now. */
  heardFrom(session: string): number {
    return this.heldLeases.has(session) ? Date.now() : 0;
  }

  lease(caller: Caller & { lease: { id: string; secret: string } }, now: number): SessionRecord {
    return checkLease(this.ns, caller.lease.id, caller.lease.secret, now, this.heardFrom(caller.lease.id));
  }

  // ---------------------------------------------------------------- acquire

  acquire(call: AcquireCall, now: number): ApiReply | Promise<ApiReply> {
    validatePath(call.path);
    if (this.early.has(call.waiter)) {
      this.early.delete(call.waiter);
      throw new ZkError(Code.OPERATIONTIMEOUT, "the request was abandoned by its client");
    }
    this.host.roomToHold();
    const lease = call.caller.lease ? this.lease({ ...call.caller, lease: call.caller.lease }, now) : undefined;
    this.preflight(call.path, lease?.identities ?? call.caller.identities);
    const session = lease ?? this.ns.getSession(createLease(this.ns, call.ttl, call.caller.identities, now, GRANT_LEASE).leaseId)!;
    const data = call.data ?? new TextEncoder().encode(JSON.stringify({ owner: call.owner ?? session.id, kind: "http" }));
    try {
      // The base path and its ancestors, as persistent nodes, in one transaction.
      const missing = [call.path, ...ancestors(call.path)].filter((p) => p !== "/" && !this.ns.store.getNode(p)).reverse();
      if (missing.length > 0)
        this.run(session, { op: "multi", ops: missing.map((path) => ({ op: "create", path, data: new Uint8Array(0), mode: CreateMode.PERSISTENT })) }, now);
      const created = this.run(
        session,
        { op: "create", path: joinPath(call.path, PREFIX[call.rule.recipe]), data, mode: CreateMode.EPHEMERAL_SEQUENTIAL, requestId: call.requestId },
        now,
      ).result as { path: string; stat: { czxid: number } };
      const w: Waiter = {
        id: call.waiter,
        rule: call.rule,
        base: call.path,
        node: created.path,
        name: nameOf(created.path),
        token: created.stat.czxid,
        lease: session,
        data,
        timer: undefined,
        resolve: () => {},
      };
      const standing = standingIn(contendersOf(this.ns.store, w.base), w.name, w.rule);
      if (standing.state === "holds") return this.grant(w, Date.now());
      if (standing.state === "gone") throw new ZkError(Code.NONODE, `contender ${w.node} is gone (released, or its lease ended)`);
      if (call.wait <= 0) return this.withdraw(w, notGranted(w, 0));
      return new Promise<ApiReply>((resolve) => {
        w.resolve = resolve;
        w.timer = setTimeout(() => {
          if (this.byId.get(w.id) !== w) return;
          resolve(this.withdraw(w, notGranted(w, call.wait)));
          this.host.committed();
        }, call.wait);
        this.hold(w);
      });
    } catch (e) {
      // Nothing of a lease made for this call may outlive it.
      if (!lease && this.ns.getSession(session.id)) this.host.deliver(revokeLease(this.ns, session, now).deliveries, []);
      throw e;
    }
  }

  /**
   * What would make the contender's create fail, checked before a lease is made for it: the
   * nearest existing node on the way to the base path must accept children from the caller.
   */
  private preflight(base: string, identities: readonly Id[]): void {
    for (const p of [base, ...ancestors(base)]) {
      const node = this.ns.store.getNode(p);
      if (!node) continue;
      if (node.stat.ephemeralOwner !== NO_OWNER) throw new ZkError(Code.NOCHILDRENFOREPHEMERALS, `ephemeral node ${p} cannot have children`);
      checkAcl(node, Perms.CREATE, identities, p);
      return;
    }
  }

  private hold(w: Waiter): void {
    this.byId.set(w.id, w);
    let set = this.byBase.get(w.base);
    if (!set) this.byBase.set(w.base, (set = new Set()));
    set.add(w);
    this.heldLeases.set(w.lease.id, (this.heldLeases.get(w.lease.id) ?? 0) + 1);
  }

  private unhold(w: Waiter): void {
    if (w.timer) clearTimeout(w.timer);
    if (this.byId.get(w.id) !== w) return;
    this.byId.delete(w.id);
    const set = this.byBase.get(w.base);
    set?.delete(w);
    if (set?.size === 0) this.byBase.delete(w.base);
    const n = (this.heldLeases.get(w.lease.id) ?? 1) - 1;
    if (n > 0) this.heldLeases.set(w.lease.id, n);
    else this.heldLeases.delete(w.lease.id);
  }

  /** The contender holds: touch it if the recipe says so, start its lease's TTL now, answer. */
  private grant(w: Waiter, now: number): ApiReply {
    this.unhold(w);
    w.lease = this.ns.getSession(w.lease.id) ?? w.lease;
    // A semaphore's granted contender touches its node, waking the WebSocket waiter that may
    // watch it (docs/recipes.md, "Waiting rules"); N = 1 needs no touch.
    if (w.rule.recipe === "semaphore" && w.rule.permits > 1) this.run(w.lease, { op: "setData", path: w.node, data: w.data, version: -1 }, now);
    const info = keepAlive(this.ns, w.lease, now);
    return ok(this.ns.zxid, {
      path: w.base,
      node: w.node,
      token: w.token,
      leaseId: w.lease.id,
      lease: `${w.lease.id}.${w.lease.secret}`,
      ttl: info.ttl,
      expiresAt: info.expiresAt,
    });
  }

  /** Takes a contender out (its node, or the lease made for it), and answers with `reply`. */
  private withdraw(w: Waiter, reply: ApiReply): ApiReply {
    this.unhold(w);
    const now = Date.now();
    const live = this.ns.getSession(w.lease.id);
    if (live?.kind === GRANT_LEASE) {
      this.host.deliver(revokeLease(this.ns, live, now).deliveries, []);
    } else if (live) {
      const o = this.ns.execute(w.lease.id, { op: "delete", path: w.node, version: -1 }, now);
      this.host.deliver(o.deliveries, []);
    }
    return reply.ok ? reply : { ...reply, zxid: this.ns.zxid };
  }

  /** The route's client went away: withdraw its waiter (or remember, if the call has not arrived yet). */
  abandon(id: string): boolean {
    const w = this.byId.get(id);
    if (!w) {
      const now = Date.now();
      for (const [k, t] of this.early) if (now - t > EARLY_ABANDON_MS) this.early.delete(k);
      this.early.set(id, now);
      return false;
    }
    w.resolve(this.withdraw(w, errorReply(this.ns.zxid, new ZkError(Code.OPERATIONTIMEOUT, "abandoned by its client"))));
    return true;
  }

  /** After a commit: the waiters of every base path that lost a child look again. */
  onCommit(changes: readonly Change[], everything: boolean): void {
    if (this.byBase.size === 0) return;
    const bases = new Set<string>();
    if (everything) for (const b of this.byBase.keys()) bases.add(b);
    else for (const c of changes) if (c.type === "delete" && c.path !== "/" && this.byBase.has(parentOf(c.path))) bases.add(parentOf(c.path));
    const now = Date.now();
    for (const base of bases) {
      const sorted = contendersOf(this.ns.store, base);
      for (const w of [...(this.byBase.get(base) ?? [])]) {
        const standing = standingIn(sorted, w.name, w.rule);
        if (standing.state === "holds") w.resolve(this.grant(w, now));
        else if (standing.state === "gone") {
          this.unhold(w);
          const live = this.ns.getSession(w.lease.id);
          const expired = !live;
          // Someone else deleted the node: a lease made for this grant has nothing left to own.
          if (live && live.kind === GRANT_LEASE) this.host.deliver(revokeLease(this.ns, live, now).deliveries, []);
          w.resolve(
            errorReply(
              this.ns.zxid,
              expired
                ? new ZkError(Code.SESSIONEXPIRED, `lease ${w.lease.id} ended while waiting; its contender ${w.node} went with it`)
                : new ZkError(Code.NONODE, `contender ${w.node} was deleted while waiting`),
            ),
          );
        }
      }
    }
  }

  // ---------------------------------------------------------------- release, refresh, proclaim

  /** The granted contender a lease holds under a base path with a fencing token. */
  private holding(call: { path: string; token: number }, lease: SessionRecord) {
    validatePath(call.path);
    const node = findContender(this.ns.store, call.path, lease.id, call.token);
    if (!node) throw new ZkError(Code.NONODE, `lease ${lease.id} holds no grant with token ${call.token} under ${call.path} (released, or lost with its lease)`);
    return node;
  }

  release(call: GrantCall, now: number): ApiReply {
    const lease = this.lease(call.caller, now);
    const node = this.holding(call, lease);
    // A lease made for this grant goes with it (one transaction: the node and the lease).
    const o = lease.kind === GRANT_LEASE ? revokeLease(this.ns, lease, now) : must(this.ns.execute(lease.id, { op: "delete", path: node.path, version: -1 }, now));
    this.host.deliver(o.deliveries, []);
    return ok(o.zxid, { path: call.path, node: node.path, token: call.token, released: true });
  }

  /** Keeps a grant's lease alive (a holder's rank only ever drops, so it still holds). */
  refresh(call: GrantCall, now: number): ApiReply {
    const lease = this.lease(call.caller, now);
    const node = this.holding(call, lease);
    const info = keepAlive(this.ns, lease, now);
    return ok(this.ns.zxid, { path: call.path, node: node.path, token: call.token, leaseId: lease.id, ttl: info.ttl, expiresAt: info.expiresAt });
  }

  proclaim(call: ProclaimCall, now: number): ApiReply {
    const lease = this.lease(call.caller, now);
    const node = this.holding(call, lease);
    const sorted = contendersOf(this.ns.store, call.path);
    if (sorted[0] !== nameOf(node.path))
      throw new ZkError(Code.NOAUTH, `${node.path} is not the leader of ${call.path}: only the leader may proclaim`);
    const o = this.run(lease, { op: "setData", path: node.path, data: call.data, version: -1 }, now);
    return ok(o.zxid, { path: call.path, node: node.path, token: call.token, stat: (o.result as { stat: unknown }).stat });
  }

  /** Runs a request as a lease; throws its error; delivers its events to WebSocket sessions. */
  private run(session: SessionRecord, req: Request, now: number): Outcome {
    const o = must(this.ns.execute(session.id, req, now));
    this.host.deliver(o.deliveries, []);
    return o;
  }
}

function notGranted(w: Waiter, wait: number): ApiReply {
  const what = w.rule.recipe === "election" ? "not elected" : w.rule.recipe === "semaphore" ? "no permit granted" : "lock not granted";
  const when = wait === 0 ? "at once (wait: 0 tries once)" : `within ${wait} ms`;
  return errorReply(0, new ZkError(Code.OPERATIONTIMEOUT, `${what} ${when} on ${w.base}; the contender was withdrawn`));
}
