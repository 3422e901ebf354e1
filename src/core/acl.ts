import { Code, ZkError } from "./errors.js";
import { ipMatches, parseRange } from "./ip.js";

/** ZooKeeper's permission bits (ZooDefs.Perms). */
export const Perms = { READ: 1, WRITE: 2, CREATE: 4, DELETE: 8, ADMIN: 16, ALL: 31 } as const;

export interface Id {
  scheme: string;
  id: string;
}
export interface ACL extends Id {
  perms: number;
}

/** ZooDefs.Ids.OPEN_ACL_UNSAFE: what a node gets when the client names no ACL. */
export const OPEN_ACL: readonly ACL[] = Object.freeze([{ perms: Perms.ALL, scheme: "world", id: "anyone" }]);
/** ZooDefs.Ids.READ_ACL_UNSAFE, used for the reserved /zookeeper subtree. */
export const READ_ACL: readonly ACL[] = Object.freeze([{ perms: Perms.READ, scheme: "world", id: "anyone" }]);

/**
 * The schemes an ACL entry may name. `token` is edgekeeper's: the `sub` of a verified bearer
 * token. `super` is an identity, never an ACL entry (ZooKeeper has no provider for it).
 */
const SCHEMES = new Set(["world", "auth", "digest", "ip", "token"]);

/** Identities that `auth` ACL entries expand to: the authenticated ones (not ip, world or super). */
const AUTHENTICATED = new Set(["digest", "token"]);

/** The identity that passes every ACL check: ZooKeeper's super user. */
export const SUPER: Id = Object.freeze({ scheme: "super", id: "" });

/**
 * Validates an ACL list like PrepRequestProcessor.fixupACL: non-empty, known schemes,
 * permission bits within ALL. `auth` entries are expanded to the session's identities;
 * with none, the list is invalid (ZooKeeper's INVALIDACL).
 */
export function fixupAcl(acl: readonly ACL[], identities: readonly Id[]): ACL[] {
  if (acl.length === 0) throw new ZkError(Code.INVALIDACL, "ACL list must not be empty");
  const out: ACL[] = [];
  for (const a of acl) {
    if (!Number.isInteger(a.perms) || a.perms < 0 || a.perms > Perms.ALL)
      throw new ZkError(Code.INVALIDACL, `invalid perms ${a.perms}`);
    if (!SCHEMES.has(a.scheme)) throw new ZkError(Code.INVALIDACL, `unknown ACL scheme ${a.scheme}`);
    if (a.scheme === "world" && a.id !== "anyone") throw new ZkError(Code.INVALIDACL, `world scheme only has id "anyone"`);
    if (a.scheme === "auth") {
      const ids = identities.filter((i) => AUTHENTICATED.has(i.scheme));
      if (ids.length === 0) throw new ZkError(Code.INVALIDACL, "auth scheme used but the session has no authenticated identity");
      for (const i of ids) out.push({ perms: a.perms, scheme: i.scheme, id: i.id });
      continue;
    }
    if (a.scheme === "digest" && !/^[^:]+:[A-Za-z0-9+/=]+$/.test(a.id))
      throw new ZkError(Code.INVALIDACL, "digest ids look like user:base64(sha1(user:password))");
    if (a.scheme === "ip" && !parseRange(a.id))
      throw new ZkError(Code.INVALIDACL, `ip ids are an IPv4 or IPv6 address with an optional /bits: "${a.id.slice(0, 64)}" is not`);
    if (a.scheme === "token" && a.id === "") throw new ZkError(Code.INVALIDACL, "token ids name a token subject; empty is not one");
    out.push({ perms: a.perms, scheme: a.scheme, id: a.id });
  }
  // ZooKeeper removes duplicates while preserving order.
  const seen = new Set<string>();
  return out.filter((a) => {
    const k = `${a.perms}|${a.scheme}|${a.id}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

/** `ids`, plus the super identity when one of them is the configured super digest. */
export function withSuper(ids: Id[], superDigest: string | undefined): Id[] {
  if (!superDigest || ids.some((i) => i.scheme === "super") || !ids.some((i) => i.scheme === "digest" && i.id === superDigest)) return ids;
  return [...ids, SUPER];
}

/**
 * Whether `identities` hold `perm` on a node with `acl` (ZooKeeper's checkACL): the super
 * identity holds everything; `world:anyone` grants to everybody; an `ip` entry matches a
 * client address inside its range; other entries match an identity of the same scheme and id.
 */
export function canAccess(acl: readonly ACL[], perm: number, identities: readonly Id[]): boolean {
  for (const i of identities) if (i.scheme === "super") return true;
  for (const a of acl) {
    if ((a.perms & perm) === 0) continue;
    if (a.scheme === "world" && a.id === "anyone") return true;
    for (const i of identities) {
      if (i.scheme !== a.scheme) continue;
      if (a.scheme === "ip" ? ipMatches(i.id, a.id) : i.id === a.id) return true;
    }
  }
  return false;
}

/** canAccess, or NOAUTH naming the permission and the path. */
export function checkAcl(node: { acl: readonly ACL[] }, perm: number, identities: readonly Id[], path: string): void {
  if (!canAccess(node.acl, perm, identities)) throw new ZkError(Code.NOAUTH, `not authorized: ${permName(perm)} on ${path}`);
}

/**
 * getACL's answer for a caller without ADMIN: digest entries show `user:x` instead of the
 * password hash, so a reader cannot take the hash away and brute-force it offline
 * (ZooKeeper's fix for CVE-2019-0201).
 */
export function maskDigests(acl: readonly ACL[]): ACL[] {
  return acl.map((a) => (a.scheme === "digest" ? { ...a, id: a.id.replace(/:.*/, ":x") } : { ...a }));
}

const permName = (perm: number) =>
  Object.entries(Perms)
    .filter(([name, bit]) => (bit & perm) !== 0 && name !== "ALL")
    .map(([name]) => name)
    .join(" or ") || String(perm);
