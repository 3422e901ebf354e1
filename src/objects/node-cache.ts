import type { ZNode } from "../core/store.js";

/**
 * The hot znodes of a namespace, in memory, in front of SQLite. Every SQL statement in a
 * Durable Object has a fixed cost that dwarfs a Map lookup, and reads of the same nodes
 * dominate coordination workloads (docs/benchmarks.md).
 *
 * It stays exact because it is write-through (every write goes to SQL and here in the same
 * call) and transactional: changes made inside a transaction are undone if it rolls back.
 * Entries are copies (stat included), so callers may mutate what they get. It is bounded by
 * entries and by data bytes, evicting the oldest; a miss just reads SQL.
 */
export class NodeCache {
  private readonly nodes = new Map<string, ZNode>();
  private bytes = 0;
  /** Previous entries of paths changed inside open transactions, for rollback. */
  private readonly undo: Array<[string, ZNode | undefined]> = [];
  private depth = 0;
  /** Lookups since the cache was made (admin views). */
  private hits = 0;
  private misses = 0;

  /**
   * Bounds: a Durable Object's isolate has 128 MB in production, shared with sockets,
   * watches and sessions, so the cache keeps to about a third of it, counting each entry's
   * data plus an estimate of its own overhead.
   */
  constructor(
    private readonly maxEntries = 50_000,
    private readonly maxBytes = 40 * 1024 * 1024,
  ) {}

  get(path: string): ZNode | undefined {
    const n = this.nodes.get(path);
    if (n) this.hits++;
    else this.misses++;
    return n && copy(n);
  }

  /** Size, bounds and lookups since the cache was made. */
  stats(): { entries: number; bytes: number; max_entries: number; max_bytes: number; hits: number; misses: number } {
    return { entries: this.nodes.size, bytes: this.bytes, max_entries: this.maxEntries, max_bytes: this.maxBytes, hits: this.hits, misses: this.misses };
  }

  /** The cached entry itself (not a copy, not counted as a lookup): for comparing before a write. Do not mutate. */
  peek(path: string): ZNode | undefined {
    return this.nodes.get(path);
  }

  has(path: string): boolean {
    return this.nodes.has(path);
  }

  set(node: ZNode): void {
    this.remember(node.path);
    this.drop(node.path);
    this.nodes.set(node.path, copy(node));
    this.bytes += weight(node);
    if (this.nodes.size > this.maxEntries || this.bytes > this.maxBytes) this.evict();
  }

  delete(path: string): void {
    this.remember(path);
    this.drop(path);
  }

  /** Runs `fn` as a transaction of the cache: if it throws, the cache is as before. */
  transaction<T>(fn: () => T): T {
    const mark = this.undo.length;
    this.depth++;
    try {
      return fn();
    } catch (e) {
      for (let i = this.undo.length - 1; i >= mark; i--) {
        const [path, prev] = this.undo[i];
        this.drop(path);
        if (prev) {
          this.nodes.set(path, prev);
          this.bytes += weight(prev);
        }
      }
      throw e;
    } finally {
      this.undo.length = Math.min(this.undo.length, mark);
      if (--this.depth === 0) this.undo.length = 0;
    }
  }

  private remember(path: string): void {
    if (this.depth > 0) this.undo.push([path, this.nodes.get(path)]);
  }

  private drop(path: string): void {
    const old = this.nodes.get(path);
    if (!old) return;
    this.bytes -= weight(old);
    this.nodes.delete(path);
  }

  /** Drops the oldest tenth (Map order is insertion order). Safe at any time: a miss reads SQL. */
  private evict(): void {
    let n = Math.max(1, Math.floor(this.nodes.size / 10));
    for (const path of this.nodes.keys()) {
      if (n-- <= 0 && this.nodes.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.drop(path);
    }
  }
}

const copy = (n: ZNode): ZNode => ({ ...n, stat: { ...n.stat } });

/** Memory an entry holds: its data, its path (UTF-16) and ~300 bytes of objects around them. */
const weight = (n: ZNode): number => n.data.byteLength + 2 * n.path.length + 300;
