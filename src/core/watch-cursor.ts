import type { WatchEvent } from "./events.js";
import { validatePath } from "./paths.js";
import { replayFromLog } from "./replay.js";
import type { Change } from "./store.js";
import { WatchIndex } from "./watch-index.js";

/**
 * A watch for callers without a session (HTTP: Server-Sent Events and long-poll): one
 * persistent or persistent-recursive watch on a path, read from a zxid on. The missed part is
 * replayed from the change log with the same trigger matrix as a WebSocket session's resume
 * (replayFromLog), and live changes run through the same WatchIndex, so the events are exactly
 * those a WebSocket client with `addWatch(path, mode)` receives.
 */
export class WatchCursor {
  private readonly index = new WatchIndex();
  /** Every change up to this zxid has been looked at. */
  zxid: number;

  /** `canRead`: whether the caller may READ a change's node (recursive events are filtered by it). */
  constructor(
    readonly path: string,
    readonly recursive: boolean,
    fromZxid: number,
    private readonly canRead?: (change: Change) => boolean,
  ) {
    validatePath(path);
    this.index.add("http", path, recursive ? "recursive" : "persistent");
    this.zxid = fromZxid;
  }

  /** The events of the changes after the cursor (in zxid order), moving it to `upTo`. */
  advance(changes: readonly Change[], upTo: number): WatchEvent[] {
    const events: WatchEvent[] = [];
    for (const c of changes) {
      if (c.zxid <= this.zxid) continue;
      for (const d of this.index.trigger(c, [], this.canRead && ((_, change) => this.canRead!(change)))) events.push(d.event);
    }
    this.zxid = Math.max(this.zxid, upTo);
    return events;
  }

  /** The replay from the log for a new cursor: the same as a WebSocket resume would deliver. */
  replay(changes: readonly Change[]): WatchEvent[] {
    const set = this.recursive ? { persistentRecursive: [this.path] } : { persistent: [this.path] };
    return replayFromLog(changes, set, this.canRead && ((_, change) => this.canRead!(change))).events;
  }
}
