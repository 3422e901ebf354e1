import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

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
                // No tokens in most tests; test/integration/auth*.test.ts call the Worker with keys.
                EDGEKEEPER_AUTH: "open",
                // addAuth("digest", "super:test") makes a session super (ZooKeeper's docs' example).
                EDGEKEEPER_SUPER_DIGEST: "super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
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
