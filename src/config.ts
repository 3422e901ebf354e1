import { DEFAULT_CONFIG, type NamespaceConfig } from "./core/namespace.js";
import type { Limits } from "./protocol/session-server.js";

/**
 * Configuration from wrangler vars (all optional; see the README and docs/limits.md). Values
 * that do not parse as positive integers fall back to the default rather than weakening a limit.
 */
export interface Settings {
  namespace: NamespaceConfig;
  limits: Limits;
  http: HttpLimits;
}

/** Bounds for the HTTP API's held requests (lock acquires, long-polls) and SSE streams, per namespace. */
export interface HttpLimits {
  maxHeld: number;
  maxStreams: number;
  /** Requests per second per lease (or per client address without one), and the burst above it. */
  requestRate: number;
  requestBurst: number;
}

type Vars = Partial<Record<string, string | undefined>>;

function int(vars: Vars, name: string, fallback: number): number {
  const raw = vars[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

/** Default limits of the WebSocket side (docs/limits.md). */
export const DEFAULT_PROTOCOL_LIMITS = {
  maxFrameBytes: 4 * 1024 * 1024,
  maxBatch: 1000,
  maxConnections: 20_000,
  maxInFlight: 10_000,
  requestRate: 20_000,
} as const;

export function settingsFrom(vars: Vars): Settings {
  const d = DEFAULT_CONFIG;
  const p = DEFAULT_PROTOCOL_LIMITS;
  const requestRate = int(vars, "EDGEKEEPER_MAX_REQUEST_RATE", p.requestRate);
  // Without a burst of its own, a configured rate gets two seconds' worth.
  const requestBurst = int(vars, "EDGEKEEPER_REQUEST_BURST", 2 * requestRate);
  return {
    namespace: {
      maxDataBytes: int(vars, "EDGEKEEPER_MAX_DATA_BYTES", d.maxDataBytes),
      ttlEnabled: vars.EDGEKEEPER_TTL_ENABLED !== "false",
      sessionTimeoutMin: int(vars, "EDGEKEEPER_SESSION_TIMEOUT_MIN_MS", d.sessionTimeoutMin),
      sessionTimeoutMax: int(vars, "EDGEKEEPER_SESSION_TIMEOUT_MAX_MS", d.sessionTimeoutMax),
      changelogRetainTxns: int(vars, "EDGEKEEPER_CHANGELOG_RETAIN_TXNS", d.changelogRetainTxns),
      changelogMaxAgeMs: int(vars, "EDGEKEEPER_CHANGELOG_MAX_AGE_MS", d.changelogMaxAgeMs),
      maxChildrenPage: d.maxChildrenPage,
      superDigest: vars.EDGEKEEPER_SUPER_DIGEST?.trim() || undefined,
      maxPathBytes: int(vars, "EDGEKEEPER_MAX_PATH_BYTES", d.maxPathBytes),
      maxPathDepth: int(vars, "EDGEKEEPER_MAX_PATH_DEPTH", d.maxPathDepth),
      maxChildren: int(vars, "EDGEKEEPER_MAX_CHILDREN", d.maxChildren),
      maxSessions: int(vars, "EDGEKEEPER_MAX_SESSIONS", d.maxSessions),
      maxWatchesPerSession: int(vars, "EDGEKEEPER_MAX_WATCHES_PER_SESSION", d.maxWatchesPerSession),
    },
    limits: {
      maxFrameBytes: int(vars, "EDGEKEEPER_MAX_FRAME_BYTES", p.maxFrameBytes),
      maxBatch: int(vars, "EDGEKEEPER_MAX_BATCH", p.maxBatch),
      groupCommit: vars.EDGEKEEPER_GROUP_COMMIT !== "false",
      maxConnections: int(vars, "EDGEKEEPER_MAX_CONNECTIONS", p.maxConnections),
      maxInFlight: int(vars, "EDGEKEEPER_MAX_INFLIGHT", p.maxInFlight),
      requestRate,
      requestBurst,
    },
    http: {
      maxHeld: int(vars, "EDGEKEEPER_MAX_HTTP_HELD", 10_000),
      maxStreams: int(vars, "EDGEKEEPER_MAX_HTTP_STREAMS", 1_000),
      requestRate,
      requestBurst,
    },
  };
}
