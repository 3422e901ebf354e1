import { Code, ZkError } from "./errors.js";

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

const SCHEMES = new Set(["world", "auth", "digest", "ip", "token", "super"]);

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
      const ids = identities.filter((i) => i.scheme !== "ip" && i.scheme !== "world");
      if (ids.length === 0) throw new ZkError(Code.INVALIDACL, "auth scheme used but the session has no authenticated identity");
      for (const i of ids) out.push({ perms: a.perms, scheme: i.scheme, id: i.id });
      continue;
    }
    if (a.scheme === "digest" && !/^[^:]+:[A-Za-z0-9+/=]+$/.test(a.id))
      throw new ZkError(Code.INVALIDACL, "digest ids look like user:base64(sha1(user:password))");
    out.push({ perms: a.perms, scheme: a.scheme, id: a.id });
  }
  // ZooKeeper removes duplicates while preserving order.
  const seen = new Set<string>();
  return out.filter((a) => {
    const k = `${a.perms}|${a.scheme}|${a.id}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

/**
 * Whether `identities` hold `perm` on a node with `acl` (ZooKeeper's checkACL). `world:anyone`
 * grants to everybody; other entries match an identity of the same scheme and id. The
 * security issue adds ip ranges, super and token identities here.
 */
export function checkAcl(node: { acl: readonly ACL[] }, perm: number, identities: readonly Id[], path: string): void {
  for (const a of node.acl) {
    if ((a.perms & perm) === 0) continue;
    if (a.scheme === "world" && a.id === "anyone") return;
    for (const i of identities) if (i.scheme === a.scheme && i.id === a.id) return;
  }
  throw new ZkError(Code.NOAUTH, `not authorized: ${permName(perm)} on ${path}`);
}

const permName = (perm: number) =>
  Object.entries(Perms).find(([name, bit]) => bit === perm && name !== "ALL")?.[0] ?? String(perm);
