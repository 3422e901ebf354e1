import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ChildrenCache, compareNames, lowerBound } from "../../src/objects/children-cache.js";

/** Byte order of UTF-8, as SQLite compares TEXT. */
const utf8Order = (a: string, b: string) => {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
};

describe("children cache", () => {
  it("compares names as SQLite does (UTF-8 bytes), astral characters included", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" }), (a, b) => Math.sign(compareNames(a, b)) === Math.sign(utf8Order(a, b))));
    expect(compareNames("\u{1F600}", "\uFFFD")).toBeGreaterThan(0);
  });

  it("stays equal to a sorted set under random adds and removes", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.string({ maxLength: 3 })), { maxLength: 200 }), (ops) => {
        const cache = new ChildrenCache();
        cache.fill("/p", []);
        const model = new Set<string>();
        for (const [add, name] of ops) {
          if (add) (cache.added("/p", name), model.add(name));
          else (cache.removed("/p", name), model.delete(name));
        }
        expect(cache.get("/p")).toEqual([...model].sort(utf8Order));
      }),
    );
  });

  it("forgets a parent that grows past its bound, and the coldest parent past the parent bound", () => {
    const cache = new ChildrenCache(2, 3);
    cache.fill("/a", ["1", "2", "3"]);
    cache.added("/a", "4");
    expect(cache.get("/a")).toBeUndefined();
    cache.fill("/b", []);
    cache.fill("/c", []);
    cache.get("/b");
    cache.fill("/d", []);
    expect(cache.get("/c")).toBeUndefined();
    expect(cache.get("/b")).toEqual([]);
    expect(lowerBound(["a", "c"], "b")).toBe(1);
  });
});
