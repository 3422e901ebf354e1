/**
 * The sorted child names of recently listed parents, in memory, in front of SQLite. Recipes
 * list the same parent over and over — a lock's queue on every acquire and every wake-up —
 * and each SQL statement has a fixed cost that dwarfs a lookup here (docs/benchmarks.md).
 *
 * Exact because it is write-through: the store reports every child it adds or removes, and
 * clears the cache when a transaction rolls back. Bounded in parents and in children per
 * parent; a parent with more children is simply not cached.
 */
export class ChildrenCache {
  private readonly lists = new Map<string, string[]>();

  constructor(
    private readonly maxParents = 1024,
    private readonly maxChildren = 1024,
  ) {}

  /** The children of `parent` in SQLite's order, or undefined when not cached. Do not mutate. */
  get(parent: string): readonly string[] | undefined {
    const list = this.lists.get(parent);
    if (list) {
      // Most recently used last, so eviction takes the coldest.
      this.lists.delete(parent);
      this.lists.set(parent, list);
    }
    return list;
  }

  /** Remembers a complete listing of `parent` (as SQLite returned it). */
  fill(parent: string, names: string[]): void {
    if (names.length > this.maxChildren) return;
    this.lists.delete(parent);
    this.lists.set(parent, names.slice());
    if (this.lists.size > this.maxParents) this.lists.delete(this.lists.keys().next().value!);
  }

  added(parent: string, name: string): void {
    const list = this.lists.get(parent);
    if (!list) return;
    const i = lowerBound(list, name);
    if (list[i] === name) return;
    if (list.length >= this.maxChildren) this.lists.delete(parent);
    else list.splice(i, 0, name);
  }

  removed(parent: string, name: string): void {
    const list = this.lists.get(parent);
    if (!list) return;
    const i = lowerBound(list, name);
    if (list[i] === name) list.splice(i, 1);
  }

  clear(): void {
    this.lists.clear();
  }
}

/**
 * SQLite orders TEXT by its UTF-8 bytes, which is code-point order; JavaScript's `<` compares
 * UTF-16 units, which disagrees for astral characters against U+E000–U+FFFF. Compare by code point.
 */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/** The first index whose name is not before `name`. */
export function lowerBound(list: readonly string[], name: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareNames(list[mid], name) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
