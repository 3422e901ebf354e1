import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, errors, importJWK, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWK } from "jose";
import type { AuthConfig } from "./config.js";

type TokenConfig = Extract<AuthConfig, { mode: "tokens" }>;

/** A token that does not verify, with what the caller is told (never the key or the token). */
export class TokenError extends Error {}

type Verifier = (token: string) => Promise<JWTPayload>;

/** Algorithms per key kind; HS256 only with the shared secret, so a public key can never be used as an HMAC secret. */
const ASYMMETRIC = ["ES256", "RS256"];

async function publicKeyOf(text: string): Promise<CryptoKey | Uint8Array> {
  if (text.startsWith("{")) {
    const jwk = JSON.parse(text) as JWK;
    return importJWK(jwk, jwk.alg ?? (jwk.kty === "EC" ? "ES256" : "RS256"));
  }
  try {
    return await importSPKI(text, "ES256");
  } catch {
    return importSPKI(text, "RS256");
  }
}

/**
 * Builds the verifier for a configuration: every configured key is tried (a secret for HS256,
 * a public key or key set for ES256/RS256), picked by the token's `alg`. Expiry is required and
 * checked with 30 s of clock tolerance; issuer and audience when configured.
 */
function makeVerifier(cfg: TokenConfig): Verifier {
  const keys: Array<{ algorithms: string[]; key: Promise<CryptoKey | Uint8Array> | JWTVerifyGetKey }> = [];
  if (cfg.secret) keys.push({ algorithms: ["HS256"], key: Promise.resolve(new TextEncoder().encode(cfg.secret)) });
  if (cfg.publicKey) {
    const key = publicKeyOf(cfg.publicKey);
    key.catch((e) => console.error("edgekeeper: EDGEKEEPER_JWT_PUBLIC_KEY is not a usable ES256/RS256 key (PEM SPKI or JWK)", e));
    keys.push({ algorithms: ASYMMETRIC, key });
  }
  if (cfg.jwks) {
    try {
      keys.push({ algorithms: ASYMMETRIC, key: createLocalJWKSet(JSON.parse(cfg.jwks)) });
    } catch (e) {
      console.error("edgekeeper: EDGEKEEPER_JWKS is not a JSON Web Key Set", e);
    }
  }
  if (cfg.jwksUrl) keys.push({ algorithms: ASYMMETRIC, key: createRemoteJWKSet(new URL(cfg.jwksUrl)) });
  const options = { issuer: cfg.issuer, audience: cfg.audience, requiredClaims: ["exp"], clockTolerance: 30 };
  return async (token) => {
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new TokenError("the bearer token is not a JWT");
    }
    const candidates = keys.filter((k) => k.algorithms.includes(alg as string));
    if (candidates.length === 0) throw new TokenError(`tokens signed with ${String(alg).slice(0, 16)} are not accepted here`);
    let last: unknown;
    for (const k of candidates) {
      try {
        const key = typeof k.key === "function" ? k.key : await k.key;
        const { payload } = await jwtVerify(token, key as Parameters<typeof jwtVerify>[1], { ...options, algorithms: k.algorithms });
        return payload;
      } catch (e) {
        last = e;
      }
    }
    throw new TokenError(describe(last));
  };
}

function describe(e: unknown): string {
  if (e instanceof errors.JWTExpired) return "the bearer token has expired";
  if (e instanceof errors.JWTClaimValidationFailed) return `the bearer token's ${e.claim} claim is not acceptable (${e.reason})`;
  if (e instanceof errors.JWSSignatureVerificationFailed) return "the bearer token's signature does not verify";
  if (e instanceof errors.JWKSNoMatchingKey) return "no key of the key set matches the bearer token (kid)";
  if (e instanceof errors.JOSEError) return `the bearer token is not valid (${e.code})`;
  return "the bearer token could not be verified";
}

/** One verifier per configuration object, so keys are imported and key sets cached once per isolate. */
const verifiers = new WeakMap<TokenConfig, Verifier>();

export async function verifyToken(cfg: TokenConfig, token: string): Promise<JWTPayload> {
  let v = verifiers.get(cfg);
  if (!v) verifiers.set(cfg, (v = makeVerifier(cfg)));
  return v(token);
}
