import * as v from "valibot";
import { SUPER, type Id } from "../core/acl.js";

/**
 * What a caller may do in one namespace, as the edge Worker established it from a verified
 * bearer token (src/auth): the object trusts it because only the Worker can reach the object.
 * It travels to the object in a header on the WebSocket upgrade and inside every HTTP call.
 *
 * - `read`: every request that changes nothing (reads, watches, sync, whoAmI, ping);
 * - `write`: also create, delete, setData, setACL and multi;
 * - `admin`: also the namespace's admin routes (metrics, session and watch lists).
 * Rights decide which requests a connection may send at all; per-node ACLs then decide on
 * each node, with the identities below.
 */
export interface Grant {
  /** The token's subject: the connection's `token:<subject>` identity. */
  subject?: string;
  read: boolean;
  write: boolean;
  admin: boolean;
  /** The `super` identity, which passes every ACL (ZooKeeper's super user). */
  super: boolean;
  /** When the token expires (ms since the epoch): an open connection is closed then. */
  expiresAt?: number;
}

/** Local development without keys (EDGEKEEPER_AUTH=open): everything, no identity. */
export const OPEN_GRANT: Grant = Object.freeze({ read: true, write: true, admin: true, super: false });

/** The request header that carries a Grant from the Worker to the object (set by the Worker only). */
export const GRANT_HEADER = "Edgekeeper-Grant";

const GrantSchema = v.strictObject({
  subject: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))),
  read: v.boolean(),
  write: v.boolean(),
  admin: v.boolean(),
  super: v.boolean(),
  expiresAt: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
});

/** Reads the Worker's grant header; a missing or malformed one grants nothing. */
export function grantFromHeader(raw: string | null): Grant | undefined {
  if (raw === null) return undefined;
  try {
    const parsed = v.safeParse(GrantSchema, JSON.parse(raw));
    return parsed.success ? parsed.output : undefined;
  } catch {
    return undefined;
  }
}

/** The identities a caller has: its address (ip scheme), its token subject, super. */
export function identitiesOf(grant: Grant, ip: string): Id[] {
  const ids: Id[] = [{ scheme: "ip", id: ip }];
  if (grant.subject !== undefined) ids.push({ scheme: "token", id: grant.subject });
  if (grant.super) ids.push(SUPER);
  return ids;
}

/** Requests that change the tree: they need the `write` right. */
export const WRITE_OPS: ReadonlySet<string> = new Set(["create", "delete", "setData", "setACL", "multi"]);
