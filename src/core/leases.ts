import type { Id } from "./acl.js";
import { Code, ZkError } from "./errors.js";
import type { Delivery } from "./events.js";
import type { Namespace } from "./namespace.js";
import { secretsEqual } from "./sessions.js";
import type { SessionRecord } from "./store.js";

/**
 * Leases: sessions created over HTTP (kind "lease"), for callers that cannot hold a socket.
 * A lease is a session like any other — it owns ephemeral nodes, and its expiry or revocation
 * deletes them in one transaction and fires their watches through the same close path — but it
 * is kept alive by explicit keepalives, each persisted (lastSeen) and re-arming its timer.
 *
 * A lease created by a lock acquire, semaphore acquire or election campaign for that one grant
 * has kind "lease:grant": releasing the grant revokes it.
 */

export const LEASE = "lease";
export const GRANT_LEASE = "lease:grant";

export const isLeaseKind = (kind: string): boolean => kind === LEASE || kind === GRANT_LEASE;

export interface LeaseInfo {
  leaseId: string;
  secret: string;
  /** Negotiated TTL (ms): the requested one clamped to the session timeout bounds. */
  ttl: number;
  /** When it expires unless kept alive (ms since the epoch). */
  expiresAt: number;
}

const infoOf = (s: SessionRecord): LeaseInfo => ({ leaseId: s.id, secret: s.secret, ttl: s.timeout, expiresAt: s.lastSeen + s.timeout });

/** Creates a lease: one transaction (createSession), then it lives detached from any socket. */
export function createLease(ns: Namespace, ttl: number, identities: Id[], now: number, kind: string = LEASE): LeaseInfo {
  // No socket carries it: stored detached, so its timer runs from now and a restart does not
  // treat it as connected.
  const { session } = ns.open({ timeout: ttl, lastZxid: 0, identities, kind, detached: true }, now);
  return infoOf(session);
}

/**
 * Checks a lease's credentials and liveness. Unknown id, wrong secret and expired-but-not-yet-
 * reaped all answer SESSIONEXPIRED (as a WebSocket resume does); an expired one is queued for
 * the alarm at once. `heard` is liveness the caller knows of outside the core (a request of
 * this lease held open by the server).
 */
export function checkLease(ns: Namespace, leaseId: string, secret: string, now: number, heard = 0): SessionRecord {
  const s = ns.getSession(leaseId);
  if (!s || !isLeaseKind(s.kind) || !secretsEqual(s.secret, secret))
    throw new ZkError(Code.SESSIONEXPIRED, `lease ${leaseId} has expired or never existed`);
  if (now - Math.max(ns.lastHeard(s.id), heard) > s.timeout) {
    ns.store.putTimer({ kind: "session", key: s.id, due: now });
    throw new ZkError(Code.SESSIONEXPIRED, `lease ${leaseId} has expired`);
  }
  return s;
}

/** Keeps a lease alive: persists lastSeen and re-arms its expiry timer. */
export function keepAlive(ns: Namespace, s: SessionRecord, now: number): LeaseInfo {
  s.lastSeen = Math.max(s.lastSeen, now);
  ns.store.transaction(() => {
    ns.store.putSession(s);
    ns.store.putTimer({ kind: "session", key: s.id, due: s.lastSeen + s.timeout });
  });
  ns.touch(s.id, now);
  return infoOf(s);
}

/** What a lease looks like to its holder: its TTL, time left and ephemeral nodes. */
export function describeLease(ns: Namespace, s: SessionRecord, now: number, heard = 0) {
  const last = Math.max(ns.lastHeard(s.id), heard);
  return {
    leaseId: s.id,
    ttl: s.timeout,
    remaining: Math.max(0, last + s.timeout - now),
    grant: s.kind === GRANT_LEASE,
    ephemerals: ns.store.ephemeralsOf(s.id),
  };
}

/** Revokes a lease: its ephemerals go in one transaction, firing their watches. */
export function revokeLease(ns: Namespace, s: SessionRecord, now: number): { zxid: number; deliveries: Delivery[] } {
  return ns.close(s.id, now);
}
