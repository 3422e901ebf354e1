import { describe, expect, it } from "vitest";
import { settingsFrom } from "../../src/config.js";
import { checkPathLimits, pathDepth, utf8Length } from "../../src/core/limits.js";
import { InFlight } from "../../src/protocol/in-flight.js";
import { RateLimiter } from "../../src/protocol/rate-limit.js";

/** The limits' configuration (docs/limits.md) and the small mechanisms behind them. */

describe("configuration", () => {
  it("defaults, as documented in docs/limits.md and the README", () => {
    const s = settingsFrom({});
    expect({
      maxPathBytes: s.namespace.maxPathBytes,
      maxPathDepth: s.namespace.maxPathDepth,
      maxChildren: s.namespace.maxChildren,
      maxSessions: s.namespace.maxSessions,
      maxWatchesPerSession: s.namespace.maxWatchesPerSession,
      maxDataBytes: s.namespace.maxDataBytes,
    }).toEqual({ maxPathBytes: 4096, maxPathDepth: 128, maxChildren: 100_000, maxSessions: 50_000, maxWatchesPerSession: 100_000, maxDataBytes: 1024 * 1024 });
    expect(s.limits).toEqual({
      maxFrameBytes: 4 * 1024 * 1024,
      maxBatch: 1000,
      groupCommit: true,
      maxConnections: 20_000,
      maxInFlight: 10_000,
      requestRate: 20_000,
      requestBurst: 40_000,
    });
    expect(s.http).toMatchObject({ requestRate: 20_000, requestBurst: 40_000 });
  });

  it("every limit is read from its var; values that are not positive integers fall back to the default", () => {
    const s = settingsFrom({
      EDGEKEEPER_MAX_PATH_BYTES: "100",
      EDGEKEEPER_MAX_PATH_DEPTH: "7",
      EDGEKEEPER_MAX_CHILDREN: "0",
      EDGEKEEPER_MAX_SESSIONS: "-3",
      EDGEKEEPER_MAX_WATCHES_PER_SESSION: "12.5",
      EDGEKEEPER_MAX_CONNECTIONS: "50",
      EDGEKEEPER_MAX_INFLIGHT: "lots",
      EDGEKEEPER_MAX_REQUEST_RATE: "100",
    });
    expect(s.namespace).toMatchObject({ maxPathBytes: 100, maxPathDepth: 7, maxChildren: 100_000, maxSessions: 50_000, maxWatchesPerSession: 100_000 });
    expect(s.limits).toMatchObject({ maxConnections: 50, maxInFlight: 10_000, requestRate: 100, requestBurst: 200 });
    expect(settingsFrom({ EDGEKEEPER_MAX_REQUEST_RATE: "100", EDGEKEEPER_REQUEST_BURST: "5" }).http).toMatchObject({ requestRate: 100, requestBurst: 5 });
  });
});

describe("paths", () => {
  it("UTF-8 length and depth", () => {
    expect(utf8Length("/abc")).toBe(4);
    expect(utf8Length("/é")).toBe(3);
    expect(utf8Length("/€")).toBe(4);
    expect(utf8Length("/😀")).toBe(5);
    expect(utf8Length("/\ud800x")).toBe(5); // a lone surrogate: 3 bytes, as TextEncoder writes U+FFFD
    for (const s of ["/abc", "/é€😀", "/a/b/c"]) expect(utf8Length(s)).toBe(new TextEncoder().encode(s).byteLength);
    expect([pathDepth("/"), pathDepth("/a"), pathDepth("/a/b/c")]).toEqual([0, 1, 3]);
  });

  it("checks bytes and depth against the limits", () => {
    const limits = { maxPathBytes: 8, maxPathDepth: 2 };
    expect(() => checkPathLimits("/abcdefg", limits)).not.toThrow();
    expect(() => checkPathLimits("/abcdefgh", limits)).toThrow(/9 bytes exceeds the path length limit of 8 bytes/);
    expect(() => checkPathLimits("/a/b", limits)).not.toThrow();
    expect(() => checkPathLimits("/a/b/c", limits)).toThrow(/depth 3 exceeds the path depth limit of 2/);
  });
});

describe("RateLimiter", () => {
  it("allows a burst, then one request per 1/rate seconds, and says how long to wait", () => {
    const r = new RateLimiter(10, 3);
    expect([r.take("s", 0), r.take("s", 0), r.take("s", 0)]).toEqual([0, 0, 0]);
    expect(r.take("s", 0)).toBe(100);
    expect(r.take("s", 50)).toBe(50);
    expect(r.take("s", 100)).toBe(0);
    expect(r.take("other", 100)).toBe(0);
    // Refills up to the burst, never beyond.
    expect([r.take("s", 10_000), r.take("s", 10_000), r.take("s", 10_000), r.take("s", 10_000)]).toEqual([0, 0, 0, 100]);
    expect(r.refusal(100).message).toContain("retry in 100 ms");
  });

  it("keeps a bounded number of buckets", () => {
    const r = new RateLimiter(1, 2, 10);
    for (let i = 0; i < 100; i++) r.take(`k${i}`, i * 10_000);
    expect((r as unknown as { buckets: Map<string, unknown> }).buckets.size).toBeLessThanOrEqual(10);
  });
});

describe("InFlight", () => {
  it("admits up to the limit per connection, until a drain clears it", () => {
    const f = new InFlight<object>(3);
    const a = {};
    const b = {};
    expect([f.admit(a, 2), f.admit(a, 2), f.admit(a, 1), f.admit(b, 3)]).toEqual([2, 1, 0, 3]);
    f.clear();
    expect(f.admit(a, 5)).toBe(3);
  });
});
