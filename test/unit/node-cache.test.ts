import { describe, expect, it } from "vitest";
import type { ZNode } from "../../src/core/store.js";
import { NodeCache } from "../../src/objects/node-cache.js";

const node = (path: string, version = 0, bytes = 1): ZNode => ({
  path,
  data: new Uint8Array(bytes),
  acl: [],
  mode: 0,
  ttl: 0,
  stat: { czxid: 1, mzxid: 1, pzxid: 1, ctime: 0, mtime: 0, version, cversion: 0, aversion: 0, ephemeralOwner: "0000000000000000", dataLength: bytes, numChildren: 0 },
});

describe("NodeCache", () => {
  it("hands out copies: mutating what get returns does not change the cache", () => {
    const c = new NodeCache();
    c.set(node("/a"));
    const got = c.get("/a")!;
    got.stat.version = 99;
    expect(c.get("/a")!.stat.version).toBe(0);
  });

  it("undoes sets and deletes made inside a transaction that throws", () => {
    const c = new NodeCache();
    c.set(node("/a", 1));
    c.set(node("/b", 1));
    expect(() =>
      c.transaction(() => {
        c.set(node("/a", 2));
        c.delete("/b");
        c.set(node("/c", 1));
        c.set(node("/a", 3));
        throw new Error("rollback");
      }),
    ).toThrow("rollback");
    expect(c.get("/a")!.stat.version).toBe(1);
    expect(c.get("/b")!.stat.version).toBe(1);
    expect(c.has("/c")).toBe(false);
  });

  it("keeps what a committed transaction did, and an inner failure undoes only the inner part", () => {
    const c = new NodeCache();
    c.transaction(() => {
      c.set(node("/a", 1));
      expect(() => c.transaction(() => (c.set(node("/a", 2)), c.set(node("/x")), fail()))).toThrow();
      expect(c.get("/a")!.stat.version).toBe(1);
      expect(c.has("/x")).toBe(false);
    });
    expect(c.get("/a")!.stat.version).toBe(1);
  });

  it("stays within its entry and byte bounds, dropping the oldest", () => {
    const c = new NodeCache(10, 1000);
    for (let i = 0; i < 25; i++) c.set(node(`/n${i}`));
    expect(c.has("/n24")).toBe(true);
    expect(c.has("/n0")).toBe(false);
    const big = new NodeCache(100, 1000);
    for (let i = 0; i < 5; i++) big.set(node(`/b${i}`, 0, 400));
    expect(big.has("/b4")).toBe(true);
    expect(["/b0", "/b1", "/b2"].filter((p) => big.has(p)).length).toBeLessThan(3);
  });
});

function fail(): never {
  throw new Error("inner");
}
