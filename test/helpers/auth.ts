import { env } from "cloudflare:workers";
import { SignJWT, type JWTPayload } from "jose";
import worker from "../../src/index.js";

/**
 * Auth test helpers: the real Worker's fetch handler called with an env that has token keys
 * (the test project's own env runs open), and tokens signed here with jose.
 */

export const SECRET = "test-secret-of-at-least-thirty-two-bytes!!";

/** The Worker with `vars` over the test env (EDGEKEEPER_AUTH removed unless given). */
export function keyedWorker(vars: Record<string, string | undefined>) {
  const keyed = { ...(env as unknown as Record<string, unknown>), EDGEKEEPER_AUTH: undefined, ...vars } as unknown as Env;
  const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
  return {
    env: keyed,
    fetch: async (input: string, init: RequestInit = {}): Promise<Response> => worker.fetch(new Request(input.startsWith("http") ? input : `http://edgekeeper.test${input}`, init), keyed, ctx),
  };
}

export interface SignOptions {
  key?: CryptoKey | Uint8Array;
  alg?: string;
  kid?: string;
  /** Leave out `exp` (such tokens are refused). */
  noExp?: boolean;
}

/** Signs a token (HS256 with SECRET by default); `exp` defaults to one hour from now, in seconds as JWTs count. */
export async function token(claims: JWTPayload, o: SignOptions = {}): Promise<string> {
  const { exp, ...rest } = claims;
  const alg = o.alg ?? "HS256";
  const jwt = new SignJWT(rest).setProtectedHeader(o.kid ? { alg, kid: o.kid } : { alg }).setIssuedAt();
  if (!o.noExp) jwt.setExpirationTime(exp ?? Math.floor(Date.now() / 1000) + 3600);
  return jwt.sign(o.key ?? new TextEncoder().encode(SECRET));
}

export const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
