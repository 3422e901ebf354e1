import * as v from "valibot";
import { badRequest } from "./context.js";

/**
 * valibot schemas of the HTTP API's JSON bodies (the node and multi bodies reuse the WebSocket
 * protocol's schemas in src/protocol/frames.ts). Strict: an unknown field is an error, never
 * ignored.
 */

const Int = v.pipe(v.number(), v.integer());
/** A recipe's base path (checked by the core's path rules too). */
const Path = v.pipe(v.string(), v.minLength(1), v.maxLength(4096));
/** One path segment, for `name` (→ /locks/<name>, /semaphores/<name>, /elections/<name>). */
const Name = v.pipe(v.string(), v.regex(/^[^/\u0000-\u001f]{1,255}$/, "name must be one path segment (no /)"));
/** Lease TTL for a grant when the caller names no lease (ms; clamped to the session timeout bounds). */
const Ttl = v.optional(v.pipe(Int, v.minValue(1), v.maxValue(2 ** 31 - 1)), 30_000);
/** Longest wait for a grant (ms); 0 = try once. */
export const MAX_WAIT_MS = 300_000;
const Wait = v.optional(v.pipe(Int, v.minValue(0), v.maxValue(MAX_WAIT_MS)), 30_000);
const Token = v.pipe(Int, v.minValue(1), v.maxValue(Number.MAX_SAFE_INTEGER));
const Where = { path: v.optional(Path), name: v.optional(Name) };

export const LockAcquire = v.strictObject({ ...Where, ttl: Ttl, wait: Wait, owner: v.optional(v.pipe(v.string(), v.maxLength(256))) });
export const SemaphoreAcquire = v.strictObject({
  ...Where,
  permits: v.pipe(Int, v.minValue(1), v.maxValue(10_000)),
  ttl: Ttl,
  wait: Wait,
  owner: v.optional(v.pipe(v.string(), v.maxLength(256))),
});
export const Campaign = v.strictObject({ ...Where, value: v.pipe(v.string(), v.maxLength(65_536)), ttl: Ttl, wait: Wait });
export const GrantRef = v.strictObject({ ...Where, token: Token });
export const Proclaim = v.strictObject({ ...Where, token: Token, value: v.pipe(v.string(), v.maxLength(65_536)) });

/** Parses with a schema; a mismatch is a 400 naming the field. */
export function parse<S extends v.GenericSchema>(schema: S, value: unknown, what: string): v.InferOutput<S> {
  const r = v.safeParse(schema, value);
  if (r.success) return r.output;
  const i = r.issues[0];
  const where = i.path?.map((p) => String(p.key)).join(".");
  throw badRequest(`${what}: ${where ? `${where}: ` : ""}${i.message}`);
}

/** The base path of a recipe: `path`, or `name` under its directory; exactly one of them. */
export function basePath(body: { path?: string; name?: string }, dir: "locks" | "semaphores" | "elections"): string {
  if ((body.path === undefined) === (body.name === undefined)) throw badRequest("give either path (the base path) or name, not both");
  return body.path ?? `/${dir}/${body.name}`;
}
