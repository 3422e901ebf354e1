import type { Change, Store, WatchKind } from "./store.js";
import type { Delivery } from "./events.js";
import { WatchIndex, type ReadCheck } from "./watch-index.js";

/**
 * The namespace's live watches: the in-memory index, mirrored to storage so that watches
 * survive hibernation and eviction. Loaded on first use after a wake-up; a read that sets no
 * watch never writes here.
 */
export class WatchRegistry {
  private index: WatchIndex | null = null;

  constructor(private readonly store: Store) {}

  private get live(): WatchIndex {
    if (!this.index) {
      const index = new WatchIndex();
      for (const w of this.store.listWatches()) index.add(w.session, w.path, w.kind);
      this.index = index;
    }
    return this.index;
  }

  add(session: string, path: string, kind: WatchKind): void {
    if (this.live.add(session, path, kind)) this.store.addWatch({ session, path, kind });
  }

  has(session: string, path: string, kind: WatchKind): boolean {
    return this.live.has(session, path, kind);
  }

  remove(session: string, path: string, kind: WatchKind): boolean {
    if (!this.live.remove(session, path, kind)) return false;
    this.store.removeWatch({ session, path, kind });
    return true;
  }

  /** Watches a session holds, of every kind. */
  countOf(session: string): number {
    return this.live.countOf(session);
  }

  dropSession(session: string): void {
    const mine = this.live.ofSession(session);
    if (mine.length === 0) return;
    for (const w of mine) this.live.remove(session, w.path, w.kind);
    this.store.removeSessionWatches(session);
  }

  count(): number {
    return this.live.size();
  }

  /** How many watches of each kind (admin views). */
  countByKind(): Record<WatchKind, number> {
    return this.live.countByKind();
  }

  /** Every watch as (session, path, kind) (admin views). */
  entries(): Array<{ session: string; path: string; kind: WatchKind }> {
    return [...this.live.entries()];
  }

  /** Events for a batch of committed changes, in order; fired one-shot watches are removed. */
  trigger(changes: readonly Change[], canRead?: ReadCheck): Delivery[] {
    const out: Delivery[] = [];
    const fired: Array<{ path: string; kind: "data" | "child" }> = [];
    const index = this.live;
    for (const c of changes) out.push(...index.trigger(c, fired, canRead));
    for (const w of fired) this.store.removeWatchesAt(w.path, w.kind);
    return out;
  }

  /** Forgets the in-memory copy (after a rolled-back transaction touched the store). */
  invalidate(): void {
    this.index = null;
  }
}
