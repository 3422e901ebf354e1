import { Code, ZkError } from "./errors.js";
import { parentOf } from "./paths.js";
import type { Store, ZNode } from "./store.js";

/**
 * Subtree quotas as ZooKeeper 3.8 keeps them (docs/limits.md), so zkCli's `setquota`,
 * `listquota` and `delquota` work unchanged over a wire-compatible layer:
 *
 * - A quota on P is the node `/zookeeper/quota<P>/zookeeper_limits`, whose data is ZooKeeper's
 *   StatsTrack text, e.g. `count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=10`: `count` and
 *   `bytes` are soft limits, `countHardLimit` and `byteHardLimit` hard ones, -1 = none.
 * - Its usage is `/zookeeper/quota<P>/zookeeper_stats`, `count=<nodes>,bytes=<data bytes>` of P
 *   and everything below it. The server keeps it exact: it is recounted when the stats node
 *   (or the limits node) is written, and every create, delete and setData below P adjusts it
 *   in the same transaction, without touching the stats node's version or firing watches
 *   (as ZooKeeper's DataTree.updateQuotaStat does).
 * - A create or setData that would take a subtree past a hard limit fails with QUOTAEXCEEDED
 *   and changes nothing (in a multi, the whole multi fails); past a soft limit it goes through
 *   and a warning is logged. When a hard limit is set the soft one of the same kind is not
 *   looked at (ZooKeeperServer.checkQuota).
 * - A quota is in force while both nodes exist. Quotas on `/` and on `/zookeeper` and below
 *   are ignored (ZooKeeper ignores `/` too).
 *
 * Where edgekeeper differs: every enclosing quota is charged and checked, not only the deepest
 * one (zkCli refuses nested quotas anyway, so this only matters to raw clients, whose nested
 * quotas then all stay exact); earlier ops of a multi count when later ones are checked; a
 * write that does not add nodes or bytes is never refused, so an over-quota subtree can always
 * be brought back under; a limits node whose data is not StatsTrack text is BADARGUMENTS.
 *
 * The set of quotas is held in memory, loaded once (one query) at the first write: a write
 * outside any quota costs two comparisons.
 */

export const QUOTA_ZOOKEEPER = "/zookeeper/quota";
export const LIMIT_NODE = "zookeeper_limits";
export const STAT_NODE = "zookeeper_stats";

/** ZooKeeper's StatsTrack: -1 = not set. */
export interface StatsTrack {
  count: number;
  bytes: number;
  countHardLimit: number;
  byteHardLimit: number;
}

const UNSET: StatsTrack = { count: -1, bytes: -1, countHardLimit: -1, byteHardLimit: -1 };

const KEYS = new Set<keyof StatsTrack>(["count", "bytes", "countHardLimit", "byteHardLimit"]);

/**
 * Parses StatsTrack text: `key=value` pairs separated by `,` or `;` (ZooKeeper writes a stray
 * `=` after `bytes` for old parsers: `bytes=5=`). An empty value is -1. Unknown keys are
 * ignored. Strict parsing throws on anything else; lenient parsing reads what it can.
 */
export function parseStatsTrack(text: string, strict = false): StatsTrack {
  const out = { ...UNSET };
  for (const pair of text.split(/[,;]+/)) {
    if (pair.trim() === "") continue;
    const [key, value = ""] = pair.split("=");
    const v = value.trim() === "" ? -1 : Number(value.trim());
    const k = key.trim();
    if (!Number.isSafeInteger(v) || v < -1 || k === "") {
      if (strict) throw new ZkError(Code.BADARGUMENTS, `${LIMIT_NODE}: "${pair.slice(0, 64)}" is not key=<integer ≥ -1>; expected e.g. count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=10`);
      continue;
    }
    if (KEYS.has(k as keyof StatsTrack)) out[k as keyof StatsTrack] = v;
  }
  return out;
}

/** The stats node's text, as ZooKeeper writes it: `count=<n>,bytes=<n>`. */
export function formatStats(count: number, bytes: number): string {
  return `count=${count},bytes=${bytes}`;
}

export const limitPath = (root: string): string => `${QUOTA_ZOOKEEPER}${root}/${LIMIT_NODE}`;
export const statPath = (root: string): string => `${QUOTA_ZOOKEEPER}${root}/${STAT_NODE}`;

/** Whether a quota on `root` counts: not `/`, not `/zookeeper` or below. */
const enforceable = (root: string): boolean => root !== "/" && root !== "" && root !== "/zookeeper" && !root.startsWith("/zookeeper/");

/** For a limits or stats node, the quota root it belongs to and which it is. */
function configOf(path: string): { root: string; kind: "limits" | "stats" } | undefined {
  if (!path.startsWith(QUOTA_ZOOKEEPER + "/")) return undefined;
  const i = path.lastIndexOf("/");
  const name = path.slice(i + 1);
  if (name !== LIMIT_NODE && name !== STAT_NODE) return undefined;
  const root = path.slice(QUOTA_ZOOKEEPER.length, i);
  if (!enforceable(root)) return undefined;
  return { root, kind: name === LIMIT_NODE ? "limits" : "stats" };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What quota accounting needs of the transaction in progress. */
export interface QuotaTxn {
  store: Store;
  time: number;
}

/** How long a soft-limit warning for one quota stays quiet after it was logged (ms). */
const WARN_EVERY_MS = 60_000;

export class Quotas {
  /** Limits by quota root; null = not loaded since wake-up or a rollback. */
  private roots: Map<string, StatsTrack> | null = null;
  /** The in-memory limits changed inside the transaction in progress. */
  private dirty = false;
  private readonly warned = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly warn: (message: string) => void = (m) => console.warn(m),
  ) {}

  private get live(): Map<string, StatsTrack> {
    if (!this.roots) {
      const roots = new Map<string, StatsTrack>();
      for (const path of this.store.pathsNamed(QUOTA_ZOOKEEPER, LIMIT_NODE)) {
        const cfg = configOf(path);
        const node = cfg && this.store.getNode(path);
        if (cfg && node) roots.set(cfg.root, parseStatsTrack(decoder.decode(node.data)));
      }
      this.roots = roots;
    }
    return this.roots;
  }

  /** Quota roots in force and their limits (for introspection and tests). */
  list(): Array<{ root: string; limits: StatsTrack }> {
    return [...this.live].map(([root, limits]) => ({ root, limits: { ...limits } }));
  }

  /** Forgets the in-memory limits (they are re-read from storage when next needed). */
  invalidate(): void {
    this.roots = null;
    this.dirty = false;
  }

  /** The transaction committed: what it did to the limits stands. */
  commit(): void {
    this.dirty = false;
  }

  /** The transaction rolled back: limits it changed in memory are re-read. */
  abort(): void {
    if (this.dirty) this.invalidate();
  }

  // ---------------------------------------------------------------- hooks, inside a write

  /** A node is about to be stored by a create (every other check passed). May refuse it (QUOTAEXCEEDED). */
  onCreate(tx: QuotaTxn, node: ZNode): void {
    const cfg = configOf(node.path);
    if (cfg) this.configWritten(tx, node, cfg);
    this.charge(tx, node.path, 1, node.data.byteLength);
  }

  /** A node's data is about to change from `before` bytes to its current data. May refuse it. */
  onSetData(tx: QuotaTxn, node: ZNode, before: number): void {
    const cfg = configOf(node.path);
    if (cfg) this.configWritten(tx, node, cfg);
    this.charge(tx, node.path, 0, node.data.byteLength - before);
  }

  /** A node was deleted (by a client, a session's end, a TTL or container sweep). Never refuses. */
  onDelete(tx: QuotaTxn, node: ZNode): void {
    const cfg = configOf(node.path);
    if (cfg?.kind === "limits" && this.live.delete(cfg.root)) this.dirty = true;
    this.charge(tx, node.path, -1, -node.data.byteLength);
  }

  /** A limits or stats node is being written: validate limits, keep the stats exact. */
  private configWritten(tx: QuotaTxn, node: ZNode, cfg: { root: string; kind: "limits" | "stats" }): void {
    if (cfg.kind === "stats") {
      // Whatever the writer sent, the stats node holds the subtree's real usage.
      node.data = this.usageText(tx.store, cfg.root);
      node.stat.dataLength = node.data.byteLength;
      return;
    }
    const limits = parseStatsTrack(decoder.decode(node.data), true);
    this.live.set(cfg.root, limits);
    this.dirty = true;
    // Stats written while no limits were in force were not kept up: recount them now.
    const stats = tx.store.getNode(statPath(cfg.root));
    if (stats) this.store_(tx, stats, this.usageText(tx.store, cfg.root));
  }

  private usageText(store: Store, root: string): Uint8Array {
    const { count, bytes } = store.subtreeUsage(root);
    return encoder.encode(formatStats(count, bytes));
  }

  private store_(tx: QuotaTxn, stats: ZNode, data: Uint8Array): void {
    stats.data = data;
    stats.stat.dataLength = data.byteLength;
    tx.store.putNode(stats);
  }

  /**
   * Adds `dCount` nodes and `dBytes` bytes to every quota enclosing `path`, after checking
   * that none of them goes past a hard limit (QUOTAEXCEEDED, nothing changed).
   */
  private charge(tx: QuotaTxn, path: string, dCount: number, dBytes: number): void {
    const roots = this.live;
    if (roots.size === 0 || (dCount === 0 && dBytes === 0)) return;
    const hits: Array<{ root: string; node: ZNode; count: number; bytes: number }> = [];
    for (let p = path; p !== "/"; p = parentOf(p)) {
      const limits = roots.get(p);
      if (!limits) continue;
      const node = tx.store.getNode(statPath(p));
      if (!node) continue; // no stats node: not in force (ZooKeeper logs and skips it too)
      const stats = parseStatsTrack(decoder.decode(node.data));
      const count = Math.max(0, stats.count) + dCount;
      const bytes = Math.max(0, stats.bytes) + dBytes;
      if (dCount > 0) this.check(p, "count", count, limits.count, limits.countHardLimit, tx.time);
      if (dBytes > 0) this.check(p, "bytes", bytes, limits.bytes, limits.byteHardLimit, tx.time);
      hits.push({ root: p, node, count, bytes });
    }
    for (const h of hits) this.store_(tx, h.node, encoder.encode(formatStats(h.count, h.bytes)));
  }

  /** ZooKeeperServer.checkQuota: a hard limit, when set, is the limit and refuses; a soft one only warns. */
  private check(root: string, what: "count" | "bytes", value: number, soft: number, hard: number, now: number): void {
    const isHard = hard > -1;
    const limit = isHard ? hard : soft;
    if (limit < 0 || value <= limit) return;
    const name = isHard ? (what === "count" ? "countHardLimit" : "byteHardLimit") : what;
    const message = `quota exceeded at ${root}: ${what === "count" ? "node count" : "data bytes"} would be ${value}, over its ${isHard ? "hard" : "soft"} limit ${name}=${limit} (${limitPath(root)})`;
    if (isHard) throw new ZkError(Code.QUOTAEXCEEDED, message);
    const key = root + "\0" + what;
    const last = this.warned.get(key);
    if (last !== undefined && now - last < WARN_EVERY_MS) return;
    this.warned.set(key, now);
    if (this.warned.size > 10_000) this.warned.clear();
    this.warn(`edgekeeper: ${message}; allowed (soft limit)`);
  }
}
