import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { configDefaults, defineConfig } from "vitest/config";

/** The Worker and its Durable Object in workerd, with these wrangler vars on top of wrangler.toml's. */
const worker = (bindings: Record<string, string>) => cloudflareTest({ wrangler: { configPath: "./wrangler.toml" }, miniflare: { bindings } });

// No tokens in most tests (test/integration/auth*.test.ts call the Worker with keys); the
// super digest is ZooKeeper's docs' example: addAuth("digest", "super:test").
const AUTH = { EDGEKEEPER_AUTH: "open", EDGEKEEPER_SUPER_DIGEST: "super:D/InIHSb7yEEbrWz8b9l71RjZJU=" };
// Short session bounds so tests can drive session expiry and TTLs in real time.
const SESSIONS = { EDGEKEEPER_SESSION_TIMEOUT_MIN_MS: "100", EDGEKEEPER_SESSION_TIMEOUT_MAX_MS: "60000" };
// Small HTTP bounds so tests can reach them (429 THROTTLEDOP).
const HTTP = { EDGEKEEPER_MAX_HTTP_HELD: "48", EDGEKEEPER_MAX_HTTP_STREAMS: "12" };

// Three projects: integration tests run inside workerd against the real Durable Object (and
// the limits tests do so with the limits of docs/limits.md set small enough to reach);
// end-to-end tests run in Node and start the real local server (`wrangler dev`).
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [worker({ ...AUTH, ...SESSIONS, ...HTTP })],
        test: {
          name: "workers",
          include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts", "test/client/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "test/integration/limits.test.ts"],
        },
      },
      {
        // Only limits.test.ts runs with these, so no other test meets them.
        plugins: [
          worker({
            ...AUTH,
            ...SESSIONS,
            ...HTTP,
            EDGEKEEPER_MAX_PATH_BYTES: "64",
            EDGEKEEPER_MAX_PATH_DEPTH: "4",
            EDGEKEEPER_MAX_CHILDREN: "5",
            EDGEKEEPER_MAX_WATCHES_PER_SESSION: "6",
            EDGEKEEPER_MAX_SESSIONS: "4",
            EDGEKEEPER_MAX_CONNECTIONS: "6",
            EDGEKEEPER_MAX_INFLIGHT: "3",
            EDGEKEEPER_MAX_REQUEST_RATE: "10",
            EDGEKEEPER_REQUEST_BURST: "30",
          }),
        ],
        test: {
          name: "limits",
          include: ["test/integration/limits.test.ts"],
        },
      },
      {
        test: {
          name: "e2e",
          environment: "node",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
