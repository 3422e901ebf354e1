import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { configDefaults, defineConfig } from "vitest/config";

// Two projects: integration tests run inside workerd against the real Durable Object;
// end-to-end tests run in Node and start the real local server (`wrangler dev`).
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // Short bounds so tests can drive session expiry and TTLs in real time.
              bindings: {
                EDGEKEEPER_SESSION_TIMEOUT_MIN_MS: "100",
                EDGEKEEPER_SESSION_TIMEOUT_MAX_MS: "60000",
                // Small HTTP bounds so tests can reach them (429 THROTTLEDOP).
                EDGEKEEPER_MAX_HTTP_HELD: "48",
                EDGEKEEPER_MAX_HTTP_STREAMS: "12",
              },
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts", "test/client/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "test/integration/limits.test.ts"],
        },
      },
      {
        // The limits of docs/limits.md set small enough to reach in a test; only limits.test.ts
        // runs here, so no other test meets them.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                EDGEKEEPER_SESSION_TIMEOUT_MIN_MS: "100",
                EDGEKEEPER_MAX_PATH_BYTES: "64",
                EDGEKEEPER_MAX_PATH_DEPTH: "4",
                EDGEKEEPER_MAX_CHILDREN: "5",
                EDGEKEEPER_MAX_WATCHES_PER_SESSION: "6",
                EDGEKEEPER_MAX_SESSIONS: "4",
                EDGEKEEPER_MAX_CONNECTIONS: "6",
                EDGEKEEPER_MAX_INFLIGHT: "3",
                EDGEKEEPER_MAX_REQUEST_RATE: "10",
                EDGEKEEPER_REQUEST_BURST: "30",
                EDGEKEEPER_MAX_HTTP_HELD: "48",
                EDGEKEEPER_MAX_HTTP_STREAMS: "12",
              },
            },
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
