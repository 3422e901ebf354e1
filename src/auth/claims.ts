import type { JWTPayload } from "jose";
import type { Grant } from "../protocol/grant.js";

/**
 * What a verified token grants in one namespace. The claims (docs/security.md):
 *
 *   sub      the identity: ACL entries `token:<sub>` and `auth` match it
 *   ns       either { "<pattern>": ["read" | "write" | "admin", ...], ... }
 *            or ["<pattern>", ...] together with a top-level `rights` list;
 *            a pattern is a namespace name, or a prefix ending in `*` ("*" is every namespace)
 *   super    true: the super identity, which passes every ACL (operators)
 *   exp      required: every token expires
 *
 * `write` implies `read`; `admin` implies neither (an operator token names all it needs).
 * The most specific pattern wins: an exact name over a prefix, a longer prefix over a shorter.
 */
export type Right = "read" | "write" | "admin";
const RIGHTS: ReadonlySet<string> = new Set(["read", "write", "admin"]);

function matches(pattern: string, ns: string): number {
  if (pattern === ns) return Infinity;
  if (pattern.endsWith("*") && ns.startsWith(pattern.slice(0, -1))) return pattern.length - 1;
  return -1;
}

/** The rights a claim set names for namespace `ns` (none when it does not name it). */
export function rightsFor(claims: JWTPayload, ns: string): Set<Right> | undefined {
  const table: Array<[string, unknown]> = Array.isArray(claims.ns)
    ? claims.ns.map((p) => [String(p), claims.rights])
    : typeof claims.ns === "object" && claims.ns !== null
      ? Object.entries(claims.ns)
      : [];
  let best = -1;
  let rights: unknown;
  for (const [pattern, r] of table) {
    const score = matches(pattern, ns);
    if (score > best) (best = score), (rights = r);
  }
  if (best < 0 || !Array.isArray(rights)) return undefined;
  return new Set(rights.filter((r): r is Right => typeof r === "string" && RIGHTS.has(r)));
}

/** The Grant for namespace `ns`, or undefined when the token does not name it at all. */
export function grantFor(claims: JWTPayload, ns: string): Grant | undefined {
  const rights = rightsFor(claims, ns);
  if (!rights) return undefined;
  const write = rights.has("write");
  return {
    subject: typeof claims.sub === "string" && claims.sub !== "" ? claims.sub.slice(0, 256) : undefined,
    read: write || rights.has("read"),
    write,
    admin: rights.has("admin"),
    super: claims.super === true,
    expiresAt: typeof claims.exp === "number" ? claims.exp * 1000 : undefined,
  };
}
