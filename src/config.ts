import { DEFAULT_CONFIG, type NamespaceConfig } from "./core/namespace.js";
import type { Limits } from "./protocol/session-server.js";

/**
 * Configuration from wrangler vars (all optional; see the README). Values that do not parse
 * as positive integers fall back to the default rather than weakening a limit.
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
}

type Vars = Partial<Record<string, string | undefined>>;

function int(vars: Vars, name: string, fallback: number): number {
  const raw = vars[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

export function settingsFrom(vars: Vars): Settings {
  const d = DEFAULT_CONFIG;
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
    },
    limits: {
      maxFrameBytes: int(vars, "EDGEKEEPER_MAX_FRAME_BYTES", 4 * 1024 * 1024),
      maxBatch: int(vars, "EDGEKEEPER_MAX_BATCH", 1000),
      groupCommit: vars.EDGEKEEPER_GROUP_COMMIT !== "false",
    },
    http: {
      maxHeld: int(vars, "EDGEKEEPER_MAX_HTTP_HELD", 10_000),
      maxStreams: int(vars, "EDGEKEEPER_MAX_HTTP_STREAMS", 1_000),
    },
  };
}
