import { sha1 } from "@noble/hashes/legacy.js";
import type { Id } from "../core/acl.js";
import { Code, ZkError } from "../core/errors.js";
import { encodeBase64 } from "./base64.js";

/**
 * ZooKeeper's digest scheme: `addAuth("digest", "user:password")` proves the identity
 * `digest:user:base64(sha1("user:password"))`, which is also how digest ACL entries are written
 * (zkCli's `setAcl /p digest:alice:<hash>:cdrwa`). SHA-1 is ZooKeeper's choice, kept for
 * compatibility: a digest ACL is only as strong as its password; prefer token identities.
 * Computed synchronously, so an addAuth stays in order with the requests of its frame.
 */
export function digestId(credentials: string): string {
  const colon = credentials.indexOf(":");
  const user = credentials.slice(0, colon);
  return `${user}:${encodeBase64(sha1(new TextEncoder().encode(credentials)))}`;
}

/** The identities an addAuth proves; AUTHFAILED for a scheme or credentials we do not accept. */
export function authIdentities(scheme: string, auth: string): Id[] {
  if (scheme !== "digest")
    throw new ZkError(Code.AUTHFAILED, `auth scheme "${scheme.slice(0, 64)}" is not accepted here: use "digest" (bearer tokens go in the connection's Authorization or subprotocol)`);
  if (auth.indexOf(":") <= 0) throw new ZkError(Code.AUTHFAILED, "digest credentials are user:password");
  return [{ scheme: "digest", id: digestId(auth) }];
}
