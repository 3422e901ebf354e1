/**
 * How the edge Worker authenticates, from wrangler vars and secrets (docs/security.md):
 *
 * - `EDGEKEEPER_JWT_SECRET` (secret): HS256 tokens signed with this shared secret;
 * - `EDGEKEEPER_JWT_PUBLIC_KEY` (var or secret): ES256 or RS256 tokens, the key as PEM (SPKI)
 *   or as one JWK in JSON;
 * - `EDGEKEEPER_JWKS` (inline JWKS JSON) or `EDGEKEEPER_JWKS_URL` (fetched and cached by
 *   jose): ES256/RS256 tokens whose `kid` picks the key — how key rotation works;
 * - `EDGEKEEPER_JWT_ISSUER`, `EDGEKEEPER_JWT_AUDIENCE`: checked when set;
 * - `EDGEKEEPER_AUTH=open`: no tokens at all, for local development only (see openHostAllowed).
 *
 * Any key configured means tokens are required. No key and no `open` means the service is
 * not configured, and every request is refused with a message saying how to configure it:
 * a deployment that forgot its key fails closed.
 */
export type AuthConfig =
  | { mode: "open" }
  | { mode: "unconfigured" }
  | {
      mode: "tokens";
      secret?: string;
      publicKey?: string;
      jwks?: string;
      jwksUrl?: string;
      issuer?: string;
      audience?: string;
    };

type Vars = Partial<Record<string, unknown>>;

const str = (vars: Vars, name: string): string | undefined => {
  const v = vars[name];
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
};

export function authConfigFrom(vars: Vars): AuthConfig {
  const keys = {
    secret: str(vars, "EDGEKEEPER_JWT_SECRET"),
    publicKey: str(vars, "EDGEKEEPER_JWT_PUBLIC_KEY"),
    jwks: str(vars, "EDGEKEEPER_JWKS"),
    jwksUrl: str(vars, "EDGEKEEPER_JWKS_URL"),
  };
  if (Object.values(keys).some((k) => k !== undefined))
    return { mode: "tokens", ...keys, issuer: str(vars, "EDGEKEEPER_JWT_ISSUER"), audience: str(vars, "EDGEKEEPER_JWT_AUDIENCE") };
  return str(vars, "EDGEKEEPER_AUTH") === "open" ? { mode: "open" } : { mode: "unconfigured" };
}

/** What an unconfigured service answers to everything. */
export const HOW_TO_CONFIGURE =
  "edgekeeper has no token key configured, so it refuses every request. Set one: " +
  "`wrangler secret put EDGEKEEPER_JWT_SECRET` (HS256), or EDGEKEEPER_JWT_PUBLIC_KEY / EDGEKEEPER_JWKS / EDGEKEEPER_JWKS_URL (ES256, RS256); " +
  "for local development only, EDGEKEEPER_AUTH=open (what `npm start` does). See docs/security.md.";

/**
 * Open mode serves only hosts that cannot be a public deployment: loopback addresses,
 * `localhost`, and the reserved `.localhost` and `.test` names (RFC 6761). A Worker deployed
 * with EDGEKEEPER_AUTH=open by mistake is reached through its public hostname and so still
 * refuses everything.
 */
export function openHostAllowed(url: string): boolean {
  const host = new URL(url).hostname.toLowerCase();
  return (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    host.endsWith(".test") ||
    host === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  );
}
