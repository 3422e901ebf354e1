import { Code, type CodeNumber } from "../core/errors.js";
import { GRANT_HEADER, OPEN_GRANT, type Grant } from "../protocol/grant.js";
import { authConfigFrom, HOW_TO_CONFIGURE, openHostAllowed, type AuthConfig } from "./config.js";
import { grantFor, type Right } from "./claims.js";
import { TokenError, verifyToken } from "./verify.js";

/**
 * The edge Worker's gate: every namespace route passes here before any object is touched.
 * It finds the bearer token, verifies it (src/auth/verify.ts), checks that it names the
 * namespace with the right the route needs, and remembers the resulting Grant for the route
 * (grantOf), which hands it to the object.
 *
 * Where the token comes from: `Authorization: Bearer <jwt>`, or — for browsers, which cannot
 * set headers on a WebSocket — the WebSocket subprotocol list: `new WebSocket(url,
 * ["edgekeeper.v1", "bearer.<jwt>"])` (a JWT is made of subprotocol-safe characters). Not the
 * query string: URLs end up in logs, histories and Referer headers. Not a first frame: the
 * Worker could not refuse the upgrade before the object accepts a socket for it.
 */

const BEARER_PROTOCOL = "bearer.";

const grants = new WeakMap<Request, Grant>();

/** The Grant `authenticate` established for this request; none means a route skipped the gate (a bug): refuse. */
export function grantOf(request: Request): Grant {
  const g = grants.get(request);
  if (!g) throw new Error("edgekeeper: request reached a namespace route without authentication");
  return g;
}

let configCache: { env: Env; config: AuthConfig } | undefined;
export function authConfigOf(env: Env): AuthConfig {
  if (configCache?.env !== env) configCache = { env, config: authConfigFrom(env as unknown as Record<string, unknown>) };
  return configCache.config;
}

let warnedOpen = false;

/** A refusal: status, ZooKeeper code and message (also how a WebSocket client learns it, see refusal()). */
export class Refusal {
  constructor(
    readonly status: number,
    readonly err: CodeNumber,
    readonly message: string,
  ) {}
}

/** The whole service is refused when no key is configured, or open mode is used on a public host. */
export function serviceRefusal(request: Request, env: Env): Refusal | undefined {
  const cfg = authConfigOf(env);
  if (cfg.mode === "unconfigured") return new Refusal(503, Code.AUTHFAILED, HOW_TO_CONFIGURE);
  if (cfg.mode === "open") {
    if (!openHostAllowed(request.url))
      return new Refusal(503, Code.AUTHFAILED, "EDGEKEEPER_AUTH=open serves only local hosts (localhost, 127.0.0.1, *.test); configure a token key to serve this one. See docs/security.md.");
    if (!warnedOpen) {
      warnedOpen = true;
      console.warn("edgekeeper: authentication is OFF (EDGEKEEPER_AUTH=open): every local request may do anything. Never deploy this.");
    }
  }
  return undefined;
}

function tokenOf(request: Request): string | undefined {
  const auth = request.headers.get("Authorization");
  if (auth !== null) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : "";
  }
  for (const p of offeredProtocols(request)) if (p.startsWith(BEARER_PROTOCOL)) return p.slice(BEARER_PROTOCOL.length);
  return undefined;
}

export function offeredProtocols(request: Request): string[] {
  return (request.headers.get("Sec-WebSocket-Protocol") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/**
 * Authenticates a request to namespace `ns` for `right`: the Grant, remembered for grantOf,
 * or the Refusal to answer with (401: no or bad token; 403: a good token that does not give
 * this right on this namespace).
 */
export async function authenticate(request: Request, env: Env, ns: string, right: Right): Promise<Grant | Refusal> {
  const cfg = authConfigOf(env);
  let grant: Grant | undefined;
  if (cfg.mode === "open") grant = OPEN_GRANT;
  else if (cfg.mode === "tokens") {
    const token = tokenOf(request);
    if (token === undefined)
      return new Refusal(401, Code.AUTHFAILED, "a bearer token is required: send `Authorization: Bearer <jwt>` (WebSocket from a browser: the subprotocol `bearer.<jwt>` next to `edgekeeper.v1`)");
    if (token === "") return new Refusal(401, Code.AUTHFAILED, "the Authorization header must be `Bearer <jwt>`");
    try {
      grant = grantFor(await verifyToken(cfg, token), ns);
    } catch (e) {
      if (e instanceof TokenError) return new Refusal(401, Code.AUTHFAILED, e.message);
      throw e;
    }
    if (!grant) return new Refusal(403, Code.NOAUTH, `the token does not name namespace "${ns}"`);
    // jose tolerates 30 s of clock skew; a connection opened with a token inside that window
    // would be closed at once as expired, so such a token is refused here instead.
    if (grant.expiresAt !== undefined && grant.expiresAt <= Date.now()) return new Refusal(401, Code.AUTHFAILED, "the bearer token has expired");
  } else return new Refusal(503, Code.AUTHFAILED, HOW_TO_CONFIGURE);
  if (!grant[right]) return new Refusal(403, Code.NOAUTH, `the token does not grant ${right} on namespace "${ns}"`);
  grants.set(request, grant);
  return grant;
}

/** Serializes a Grant for the object (GRANT_HEADER). */
export const grantHeader = (grant: Grant): [string, string] => [GRANT_HEADER, JSON.stringify(grant)];
