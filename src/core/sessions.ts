import type { Store } from "./store.js";

/** Bounds for negotiated session timeouts (ZooKeeper: minSessionTimeout / maxSessionTimeout). */
export interface SessionConfig {
  sessionTimeoutMin: number;
  sessionTimeoutMax: number;
}

export function negotiateTimeout(requested: number, cfg: SessionConfig): number {
  return Math.min(cfg.sessionTimeoutMax, Math.max(cfg.sessionTimeoutMin, Math.floor(requested)));
}

const MASK56 = (1n << 56n) - 1n;

/**
 * Session ids are 64-bit, written as 16 hex digits. Like ZooKeeper's SessionTrackerImpl,
 * the top byte is a server id (1) and the rest starts from the clock and counts up, so ids
 * are unique per namespace and never collide with the container (0x80…) and TTL (0xff…)
 * markers that share the ephemeralOwner field.
 */
export function nextSessionId(store: Store, now: number): string {
  const stored = store.getMeta("next_session");
  const next = stored ? BigInt("0x" + stored) : (1n << 56n) | ((BigInt(now) << 16n) & MASK56);
  store.setMeta("next_session", (next + 1n).toString(16).padStart(16, "0"));
  return next.toString(16).padStart(16, "0");
}

/** 128 random bits, not derivable from the id: the proof of a session's ownership. */
export function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Compares secrets in time independent of where they differ. */
export function secretsEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
