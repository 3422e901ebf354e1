import { describe, expect, it } from "vitest";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import type { NamespaceObject } from "../../src/objects/namespace-object.js";
import { RawClient, b64, disconnect, freshNamespace, ok, stubFor, useClients } from "../helpers/raw-client.js";
import { api, ORIGIN, send, worker } from "../helpers/http.js";
import { parsePrometheus, sampleValue } from "../helpers/prometheus.js";

/**
 * The admin routes (docs/admin.md): mntr, metrics (Prometheus), sessions (cons), watches (wchc),
 * watches_by_path (wchp), ruok — through the Worker, against the real Durable Object.
 */

const client = useClients("ad");
const admin = (ns: string, command: string, query = "") => send("GET", `/v1/namespaces/${ns}/admin/${command}${query}`);
const mntr = async (ns: string) => {
  const r = await admin(ns, "mntr");
  expect(r.status, r.text).toBe(200);
  return r.body;
};

/**
 * A known sequence: two WebSocket sessions (one then disconnected), a lease, writes and reads
 * over both transports, watches of three kinds, a failed create, a batch, an undecodable request.
 */
async function scenario() {
  const ns = freshNamespace("ad");
  const c = await client(ns);
  ok(await c.request("create", { path: "/a", data: b64("hello") }));
  ok(await c.request("create", { path: "/a/b", data: b64("xy") }));
  expect((await c.request("create", { path: "/a" })).code).toBe("NODEEXISTS");
  ok(await c.request("create", { path: "/e", data: b64("eph"), mode: "ephemeral" }));
  ok(await c.request("getData", { path: "/a", watch: true }));
  ok(await c.request("getChildren", { path: "/a", watch: true }));
  ok(await c.request("addWatch", { path: "/a", mode: "persistentRecursive" }));
  const [exists, missing] = await c.batch([{ op: "exists", path: "/a/b" }, { op: "getData", path: "/nope" }]);
  ok(exists);
  expect(missing.code).toBe("NONODE");
  expect((await c.sendRaw(JSON.stringify({ xid: 99, op: "frobnicate" }))).code).toBe("UNIMPLEMENTED");
  const d = await client(ns);
  await disconnect(d);
  const a = api(ns);
  expect((await a.create("/h", "http!")).status).toBe(201);
  expect((await a.read("/h")).status).toBe(200);
  expect((await a.read("/missing")).status).toBe(404);
  const lease = await a.lease(30_000);
  return { ns, c, d, lease };
}

/** Paths of a fresh namespace (ZooKeeper's /zookeeper subtree) and the scenario's. */
const PATHS = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config", "/a", "/a/b", "/e", "/h"];

describe("admin: mntr", () => {
  it("reflects a known sequence exactly: tree, sessions, watches, requests by op, latency samples, log window", async () => {
    const { ns, c } = await scenario();
    const m = await mntr(ns);
    const zxid = await c.currentZxid();
    expect(m).toMatchObject({
      namespace: ns,
      server_state: "standalone",
      zxid,
      znode_count: PATHS.length,
      ephemerals_count: 1,
      data_bytes: 5 + 2 + 3 + 5,
      approximate_data_size: PATHS.join("").length + 15,
      num_alive_connections: 1,
      connections_without_session: 0,
      global_sessions: 3,
      sessions: { connected: 1, disconnected: 1, leases: 1 },
      watch_count: 3,
      watches: { data: 1, child: 1, persistent: 0, recursive: 1 },
      http_held_requests: 0,
      http_streams: 0,
      outstanding_requests: 0,
      ws_frames: 11,
      changelog: { oldest_replayable_zxid: 0, first_zxid: 1, last_zxid: zxid },
    });
    expect(m.requests).toEqual({
      ws: {
        addWatch: { count: 1, errors: 0 },
        connect: { count: 2, errors: 0 },
        create: { count: 4, errors: 1 },
        exists: { count: 1, errors: 0 },
        getChildren: { count: 1, errors: 0 },
        getData: { count: 2, errors: 1 },
        invalid: { count: 1, errors: 1 },
      },
      http: {
        create: { count: 1, errors: 0 },
        getData: { count: 2, errors: 1 },
        "lease.create": { count: 1, errors: 0 },
      },
    });
    // One sample per frame or timed call. Wrote (arrival → durable commit): 2 handshakes, 3
    // creates, 3 watch-setting reads (a watch is stored), the HTTP create and the lease. Did not
    // (arrival → reply): the failed create, the batch, the undecodable frame, two HTTP reads.
    expect(m.latency.write.count).toBe(10);
    expect(m.latency.read.count).toBe(5);
    for (const kind of ["write", "read"]) {
      const l = m.latency[kind];
      expect(l.min).toBeLessThanOrEqual(l.p50);
      expect(l.p50).toBeLessThanOrEqual(l.p90);
      expect(l.p90).toBeLessThanOrEqual(l.p99);
      expect(l.p99).toBeLessThanOrEqual(l.max);
      expect(l.avg).toBeCloseTo(l.sum / l.count);
    }
    expect(m.max_latency).toBe(Math.max(m.latency.write.max, m.latency.read.max));
    expect(m.changelog.rows).toBeGreaterThanOrEqual(zxid);
    expect(m.node_cache.entries).toBeGreaterThan(0);
    expect(m.node_cache.hits).toBeGreaterThan(0);
    expect(m.uptime).toBeGreaterThanOrEqual(0);
    expect(m.started_at).toBeLessThanOrEqual(Date.now());
  });

  it("counts every frame of a group commit once: frames from two connections at once", async () => {
    const ns = freshNamespace("ad");
    const [x, y] = [await client(ns), await client(ns)];
    const before = await mntr(ns);
    const sent = await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => x.request("create", { path: `/x${i}` })),
      ...Array.from({ length: 20 }, (_, i) => y.request("create", { path: `/y${i}` })),
    ]);
    for (const r of sent) ok(r);
    const after = await mntr(ns);
    expect(after.ws_frames - before.ws_frames).toBe(40);
    expect(after.requests.ws.create.count).toBe(40);
    expect(after.latency.write.count - before.latency.write.count).toBe(40);
    expect(after.latency.read.count).toBe(before.latency.read.count);
    expect(after.znode_count - before.znode_count).toBe(40);
  });

  it("a deleted node and a closed session leave the totals; counts start again when the object restarts", async () => {
    const { ns, c } = await scenario();
    const m1 = await mntr(ns);
    ok(await c.request("delete", { path: "/a/b" }));
    ok(await c.request("setData", { path: "/a", data: b64("a much longer value") }));
    ok(await c.request("close"));
    await c.waitClosed();
    const m2 = await mntr(ns);
    expect(m2.znode_count).toBe(m1.znode_count - 2); // /a/b, and the ephemeral /e with its session
    expect(m2.ephemerals_count).toBe(0);
    expect(m2.data_bytes).toBe(m1.data_bytes - 2 - 3 - 5 + "a much longer value".length);
    expect(m2.sessions).toEqual({ connected: 0, disconnected: 1, leases: 1 });
    expect(m2.watch_count).toBe(0);
    await evictDurableObject(stubFor(ns), { webSockets: "close" });
    const m3 = await mntr(ns);
    expect(m3.znode_count).toBe(m2.znode_count);
    expect(m3.data_bytes).toBe(m2.data_bytes);
    expect(m3.started_at).toBeGreaterThanOrEqual(m2.started_at);
    expect(m3.requests).toEqual({ ws: {}, http: {} });
    expect(m3.latency.write.count + m3.latency.read.count).toBe(0);
  });

  it("counts held HTTP requests and streams while they are open", async () => {
    const ns = freshNamespace("ad");
    const a = api(ns);
    const holder = await a.acquire("locks", { path: "/locks/l" });
    expect(holder.status).toBe(200);
    const ac = new AbortController();
    const waiting = a.acquire("locks", { path: "/locks/l", wait: 10_000 }, { signal: ac.signal }).catch(() => null);
    const stream = await fetchSse(ns);
    let m = await mntr(ns);
    for (let i = 0; i < 50 && m.http_held_requests < 1; i++) m = await mntr(ns);
    expect(m).toMatchObject({ http_held_requests: 1, http_streams: 1, outstanding_requests: 1 });
    expect(m.requests.http.acquire.count).toBe(2);
    expect(m.requests.http.watch.count).toBe(1);
    ac.abort();
    await waiting;
    await stream.body!.cancel();
  });
});

async function fetchSse(ns: string): Promise<Response> {
  const r = await worker.fetch(`${ORIGIN}/v1/namespaces/${ns}/watch?path=/`);
  expect(r.status).toBe(200);
  return r;
}

describe("admin: metrics (Prometheus)", () => {
  it("is the text format 0.0.4, parses strictly, every family has HELP and TYPE, and agrees with mntr", async () => {
    const { ns } = await scenario();
    const r = await admin(ns, "metrics");
    expect(r.status).toBe(200);
    expect(r.headers.get("Content-Type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const p = parsePrometheus(r.text);
    const m = await mntr(ns);
    for (const family of Object.keys(p.types)) {
      expect(family).toMatch(/^edgekeeper_/);
      expect(p.help[family], family).toBeTruthy();
    }
    for (const s of p.samples) expect(s.labels.namespace, s.name).toBe(ns);
    expect(sampleValue(p, "edgekeeper_znode_count")).toBe(m.znode_count);
    expect(sampleValue(p, "edgekeeper_data_bytes")).toBe(m.data_bytes);
    expect(sampleValue(p, "edgekeeper_approximate_data_size")).toBe(m.approximate_data_size);
    expect(sampleValue(p, "edgekeeper_zxid")).toBe(m.zxid);
    expect(sampleValue(p, "edgekeeper_sessions", { state: "disconnected" })).toBe(1);
    expect(sampleValue(p, "edgekeeper_watches", { kind: "recursive" })).toBe(1);
    expect(sampleValue(p, "edgekeeper_requests_total", { transport: "ws", op: "create" })).toBe(4);
    expect(sampleValue(p, "edgekeeper_request_errors_total", { transport: "ws", op: "create" })).toBe(1);
    expect(sampleValue(p, "edgekeeper_requests_total", { transport: "http", op: "lease.create" })).toBe(1);
    expect(sampleValue(p, "edgekeeper_latency_seconds_count", { kind: "write" })).toBe(m.latency.write.count);
    expect(p.samples.filter((s) => s.name === "edgekeeper_latency_seconds" && s.labels.kind === "write").map((s) => s.labels.quantile)).toEqual(["0.5", "0.9", "0.99"]);
    expect(p.types).toMatchObject({ edgekeeper_requests_total: "counter", edgekeeper_latency_seconds: "summary", edgekeeper_znode_count: "gauge" });
  });
});

describe("admin: sessions, watches", () => {
  it("sessions (cons) lists every session with its kind, state, address, timeout, watches and ephemerals", async () => {
    const { ns, c, d, lease } = await scenario();
    const r = await admin(ns, "sessions");
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ namespace: ns, count: 3, truncated: false });
    const byId = Object.fromEntries(r.body.sessions.map((s: any) => [s.session_id, s]));
    expect(r.body.sessions.map((s: any) => s.session_id)).toEqual([c.sessionId, d.sessionId, lease.leaseId].sort());
    expect(byId[c.sessionId]).toMatchObject({
      kind: "ws",
      state: "connected",
      remote_socket_address: "127.0.0.1",
      identities: [{ scheme: "ip", id: "127.0.0.1" }],
      session_timeout: 30_000,
      expires_at: null,
      watches: 3,
      ephemerals: 1,
    });
    expect(byId[d.sessionId]).toMatchObject({ kind: "ws", state: "disconnected", watches: 0, ephemerals: 0 });
    expect(byId[d.sessionId].expires_at).toBe(byId[d.sessionId].last_heard + 30_000);
    expect(byId[lease.leaseId]).toMatchObject({ kind: "lease", state: "lease", session_timeout: 30_000 });
    expect(JSON.stringify(r.body)).not.toContain(lease.secret);
    expect(JSON.stringify(r.body)).not.toContain(c.secret);

    const first = await admin(ns, "sessions", "?limit=1");
    expect(first.body).toMatchObject({ count: 3, truncated: true });
    expect(first.body.sessions.map((s: any) => s.session_id)).toEqual([r.body.sessions[0].session_id]);
  });

  it("watches (wchc) by session and watches_by_path (wchp), with their kinds; fired one-shot watches leave", async () => {
    const { ns, c } = await scenario();
    const other = await client(ns);
    ok(await other.request("exists", { path: "/a", watch: true }));
    let bySession = await admin(ns, "watches");
    expect(bySession.status).toBe(200);
    expect(bySession.body).toEqual({
      namespace: ns,
      watch_count: 4,
      truncated: false,
      session_id_to_watched_paths: {
        [c.sessionId]: { "/a": ["child", "data", "recursive"] },
        [other.sessionId]: { "/a": ["data"] },
      },
    });
    const byPath = await admin(ns, "watches_by_path");
    expect(byPath.body).toEqual({
      namespace: ns,
      watch_count: 4,
      truncated: false,
      path_to_session_ids: { "/a": { [c.sessionId]: ["child", "data", "recursive"], [other.sessionId]: ["data"] } },
    });
    ok(await other.request("setData", { path: "/a", data: b64("v2") }));
    bySession = await admin(ns, "watches");
    expect(bySession.body.session_id_to_watched_paths).toEqual({ [c.sessionId]: { "/a": ["child", "recursive"] } });
    const cut = await admin(ns, "watches_by_path", "?limit=1");
    expect(cut.body).toMatchObject({ watch_count: 2, truncated: true, path_to_session_ids: { "/a": { [c.sessionId]: ["child"] } } });
  });
});

describe("admin: ruok and bad input", () => {
  it("ruok answers imok, for a namespace (its object) and for the Worker", async () => {
    const ns = freshNamespace("ad");
    const r = await admin(ns, "ruok");
    expect(r.status).toBe(200);
    expect(r.text).toBe("imok");
    expect(r.headers.get("Content-Type")).toMatch(/^text\/plain/);
    const w = await send("GET", "/v1/admin/ruok");
    expect([w.status, w.text]).toEqual([200, "imok"]);
  });

  it("answers unknown commands, other methods, bad namespaces and bad limits with a ZooKeeper-style error", async () => {
    const ns = freshNamespace("ad");
    const cases: Array<[string, Promise<{ status: number; body: any }>, number]> = [
      ["unknown command", admin(ns, "stats"), 404],
      ["four-letter word not served", admin(ns, "dump"), 404],
      ["POST", send("POST", `/v1/namespaces/${ns}/admin/mntr`), 404],
      ["bad namespace", admin(".hidden", "mntr"), 400],
      ["bad namespace, metrics", admin("a%2Fb", "metrics"), 400],
      ["limit 0", admin(ns, "sessions", "?limit=0"), 400],
      ["limit not a number", admin(ns, "watches", "?limit=ten"), 400],
    ];
    for (const [what, p, status] of cases) {
      const r = await p;
      expect(r.status, what).toBe(status);
      expect(r.body, what).toMatchObject({ err: -8, code: "BADARGUMENTS", message: expect.any(String) });
    }
    const unknown = await admin(ns, "stats");
    expect(unknown.body.message).toContain("mntr");
  });
});

describe("admin: reading metrics writes nothing", () => {
  it("no admin route writes to storage or touches the alarm", async () => {
    const { ns } = await scenario();
    const stub = stubFor(ns);
    const seen: string[] = [];
    let undo = () => {};
    await runInDurableObject(stub, (_: NamespaceObject, state) => {
      const sql = state.storage.sql;
      const exec = sql.exec;
      sql.exec = function (this: SqlStorage, query: string, ...args: unknown[]) {
        seen.push(query);
        return exec.call(this, query, ...args);
      } as typeof sql.exec;
      const storage = state.storage as unknown as Record<string, (...a: unknown[]) => unknown>;
      const originals: Record<string, (...a: unknown[]) => unknown> = {};
      for (const name of ["setAlarm", "deleteAlarm", "put", "delete", "deleteAll"]) {
        originals[name] = storage[name];
        storage[name] = (...a: unknown[]) => {
          seen.push(`storage.${name}`);
          return originals[name].apply(state.storage, a);
        };
      }
      undo = () => {
        sql.exec = exec;
        for (const [name, f] of Object.entries(originals)) storage[name] = f;
      };
    });
    try {
      // The spy sees what the object runs: a write through the Worker shows up.
      expect((await api(ns).create("/probe")).status).toBe(201);
      expect(seen.some((q) => q.startsWith("INSERT"))).toBe(true);
      seen.length = 0;
      const before = await runInDurableObject(stub, (i: NamespaceObject) => (i as unknown as { store: { writes: number } }).store.writes);
      for (const command of ["mntr", "metrics", "sessions", "watches", "watches_by_path", "ruok", "mntr"]) expect((await admin(ns, command)).status, command).toBe(200);
      const after = await runInDurableObject(stub, (i: NamespaceObject) => (i as unknown as { store: { writes: number } }).store.writes);
      expect(after).toBe(before);
      expect(seen.filter((q) => !q.trimStart().startsWith("SELECT"))).toEqual([]);
      expect(seen.length).toBeGreaterThan(0);
    } finally {
      await runInDurableObject(stub, () => undo());
    }
  });
});
