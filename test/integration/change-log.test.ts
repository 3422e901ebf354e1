import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { runInDurableObject } from "cloudflare:test";
import { freshNamespace, RawClient, stubFor } from "../helpers/raw-client.js";
import { SqlStore } from "../../src/objects/sql-store.js";

/** The change log's storage: its layout, the move from the older layout, the age trim. */

describe("change log storage", () => {
  it("moves the rows of the older layout's tables (changelog, timers, watches, requests) into this one's once, and drops them", async () => {
    const ns = freshNamespace("log");
    (await RawClient.connect(ns)).close();
    await runInDurableObject(stubFor(ns), (_o: unknown, state: DurableObjectState) => {
      const sql = state.storage.sql;
      sql.exec(`CREATE TABLE changelog (zxid INTEGER NOT NULL, idx INTEGER NOT NULL, type TEXT NOT NULL, path TEXT NOT NULL, time INTEGER NOT NULL, session TEXT NOT NULL, PRIMARY KEY (zxid, idx))`);
      sql.exec(`CREATE INDEX changelog_by_time ON changelog (time)`);
      for (let z = 1000; z < 1005; z++) sql.exec(`INSERT INTO changelog VALUES (?, 0, 'create', ?, ?, '')`, z, `/old${z}`, z);
      // The other tables of that layout, one row each.
      sql.exec(`CREATE TABLE timers (kind TEXT NOT NULL, key TEXT NOT NULL, due INTEGER NOT NULL, PRIMARY KEY (kind, key))`);
      sql.exec(`INSERT INTO timers VALUES ('ttl', '/t', 99)`);
      sql.exec(`CREATE TABLE watches (session TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (session, path, kind))`);
      sql.exec(`INSERT INTO watches VALUES ('s1', '/w', 'data')`);
      sql.exec(`CREATE TABLE requests (session TEXT NOT NULL, request_id TEXT NOT NULL, result TEXT NOT NULL, time INTEGER NOT NULL, PRIMARY KEY (session, request_id))`);
      sql.exec(`INSERT INTO requests VALUES ('s1', 'r1', '{"path":"/w"}', 5)`);
      const store = new SqlStore(state.storage);
      expect(sql.exec(`SELECT name FROM sqlite_master WHERE name IN ('changelog', 'changelog_by_time', 'timers', 'watches', 'requests')`).toArray()).toEqual([]);
      expect(store.dueTimers(100, 10)).toContainEqual({ kind: "ttl", key: "/t", due: 99 });
      expect(store.listWatches()).toContainEqual({ session: "s1", path: "/w", kind: "data" });
      expect(store.getRequestResult("s1", "r1")).toBe('{"path":"/w"}');
      expect(store.changesAfter(999).filter((c) => c.zxid >= 1000).map((c) => c.path)).toEqual(["/old1000", "/old1001", "/old1002", "/old1003", "/old1004"]);
      // A second construction finds nothing to move.
      new SqlStore(state.storage);
      expect(store.lastChangeZxid()).toBe(1004);
    });
  });

  it("the age trim deletes exactly the rows older than the cut, whatever the gaps between zxids", async () => {
    const ns = freshNamespace("log");
    (await RawClient.connect(ns)).close();
    await runInDurableObject(stubFor(ns), (_o: unknown, state: DurableObjectState) => {
      const store = new SqlStore(state.storage);
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: 200 }), (steps, cutAt) => {
          state.storage.sql.exec(`DELETE FROM change_log`);
          let zxid = 10_000;
          let time = 0;
          const rows: Array<{ zxid: number; time: number }> = [];
          for (const [dz, dt] of steps) {
            zxid += dz;
            time += dt;
            rows.push({ zxid, time });
            store.appendChanges([{ zxid, idx: 0, type: "setData", path: "/x", time, session: "" }]);
          }
          store.trimChanges(0, cutAt);
          const left = store.changesAfter(0).map((c) => c.zxid);
          expect(left).toEqual(rows.filter((r) => r.time >= cutAt).map((r) => r.zxid));
        }),
        { numRuns: 150 },
      );
    });
  });
});
