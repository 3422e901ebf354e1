import zookeeper from "node-zookeeper-client";

/**
 * The differential harness (docs/zookeeper-compat.md): one seeded random sequence of
 * ZooKeeper operations — every create mode, getData / setData / delete with versions,
 * exists, getChildren, getACL, multi that succeeds and that fails, one-shot watches of each
 * kind, two sessions (ephemerals, cross-session events, a session closing) — run with
 * node-zookeeper-client against one server, recorded as a trace and normalized so that two
 * servers' traces compare with `toEqual`:
 *
 * - zxids (czxid, mzxid, pzxid) become their rank among every zxid the trace saw: two
 *   servers number transactions differently (sessions, failed multis) but must order them
 *   the same;
 * - ephemeralOwner becomes the session's name (s0, s1) or 0;
 * - ctime / mtime are dropped after checking invariants (within the run's wall-clock window,
 *   mtime >= ctime, mtime == ctime when mzxid == czxid): broken invariants land in the trace;
 * - children lists are sorted (edgekeeper returns them sorted, ZooKeeper in hash order: the
 *   listed, intentional difference);
 * - every watch event is recorded by the session that received it, with the number of
 *   responses that session had received when it arrived (deterministic: events precede the
 *   responses that reflect them, and the sequence runs one operation at a time).
 */

type Client = ReturnType<typeof zookeeper.createClient>;
type RawStat = zookeeper.Stat;

const MODES = [
  ["persistent", zookeeper.CreateMode.PERSISTENT],
  ["ephemeral", zookeeper.CreateMode.EPHEMERAL],
  ["persistent_sequential", zookeeper.CreateMode.PERSISTENT_SEQUENTIAL],
  ["ephemeral_sequential", zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL],
] as const;

/** mulberry32: a small seeded PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const big = (b: Buffer) => b.readBigInt64BE(0);
const hex = (b: Buffer | undefined) => (b ? b.toString("hex") : "");

export interface SessionHandle {
  name: string;
  client: Client;
  id: string;
  responses: number;
}

/** A stat kept raw until the trace is normalized. */
interface StatRaw {
  czxid: bigint;
  mzxid: bigint;
  pzxid: bigint;
  ctime: bigint;
  mtime: bigint;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: string;
  dataLength: number;
  numChildren: number;
}

const rawStat = (s: RawStat | undefined | null): StatRaw | null =>
  s
    ? {
        czxid: big(s.czxid),
        mzxid: big(s.mzxid),
        pzxid: big(s.pzxid),
        ctime: big(s.ctime),
        mtime: big(s.mtime),
        version: s.version,
        cversion: s.cversion,
        aversion: s.aversion,
        ephemeralOwner: hex(s.ephemeralOwner),
        dataLength: s.dataLength,
        numChildren: s.numChildren,
      }
    : null;

export interface Step {
  i: number;
  session: string;
  op: string;
  args: Record<string, unknown>;
  /** 0 or ZooKeeper's error code. */
  err: number;
  result?: unknown;
}

export interface Trace {
  steps: Step[];
  events: Array<{ session: string; after: number; type: string; path: string; closing?: boolean }>;
  final: unknown;
}

export function connectClient(connectString: string, name: string, timeoutMs = 15_000): Promise<SessionHandle> {
  return new Promise((ok, fail) => {
    const c = zookeeper.createClient(connectString, { sessionTimeout: 10_000, spinDelay: 100, retries: 0 });
    const t = setTimeout(() => (c.close(), fail(new Error(`${name}: no session within ${timeoutMs} ms at ${connectString}`))), timeoutMs);
    c.once("connected", () => {
      clearTimeout(t);
      ok({ name, client: c, id: hex(c.getSessionId()), responses: 0 });
    });
    c.connect();
  });
}

export function closeClient(s: SessionHandle): Promise<void> {
  return new Promise((ok) => {
    const t = setTimeout(ok, 3000);
    s.client.once("disconnected", () => (clearTimeout(t), ok()));
    s.client.close();
  });
}

/**
 * Data read back, as text. A node created with no data (null, length -1 on the wire) reads
 * back as null from ZooKeeper and as empty data from edgekeeper, which does not keep the
 * difference (listed in docs/zookeeper-compat.md): both become "".
 */
const dataText = (d: unknown): string => (d as Buffer | null)?.toString() ?? "";

const code = (e: unknown): number => {
  if (!e) return 0;
  const c = (e as { getCode?: () => number }).getCode?.();
  if (typeof c === "number") return c;
  throw e;
};

/** Runs `ops` random operations under `base` (created first) and returns the raw trace's normalized form. */
export async function runSequence(connectString: string, seed: number, base: string, ops = 60): Promise<Trace> {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const t0 = BigInt(Date.now() - 5_000);
  const s0 = await connectClient(connectString, "s0");
  const s1 = await connectClient(connectString, "s1");
  const sessions = [s0, s1];
  const steps: Step[] = [];
  const rawEvents: Trace["events"] = [];
  /** Paths relative to base that operations pick from; sequential creates add theirs. */
  const pool = ["a", "b", "c", "a/x", "a/y", "b/z", "a/x/deep"];
  const strip = (p: string) => (p === base ? "" : p.startsWith(base + "/") ? p.slice(base.length + 1) : p);
  const abs = (rel: string) => (rel ? `${base}/${rel}` : base);

  /** Set while a session closes: the events of its ephemerals' removal (one transaction) come in no defined order. */
  let closing = false;
  const watcher = (s: SessionHandle) => (e: zookeeper.Event) =>
    rawEvents.push({ session: s.name, after: s.responses, type: e.getName(), path: strip(e.getPath()), ...(closing ? { closing } : {}) });

  const call = <T>(s: SessionHandle, f: (cb: (e: unknown, ...r: unknown[]) => void) => void): Promise<{ err: number; r: unknown[] }> =>
    new Promise((ok, fail) =>
      f((e, ...r) => {
        s.responses++;
        try {
          ok({ err: code(e), r });
        } catch (x) {
          fail(x);
        }
      }),
    );

  const record = (s: SessionHandle, op: string, args: Record<string, unknown>, err: number, result?: unknown) =>
    steps.push({ i: steps.length, session: s.name, op, args, err, ...(result === undefined ? {} : { result }) });

  const data = (): Buffer => {
    const r = rand();
    if (r < 0.05) return null as unknown as Buffer; // no data at all (-1 on the wire)
    if (r < 0.15) return Buffer.alloc(0);
    return Buffer.from(`v${Math.floor(rand() * 1000)}`.repeat(1 + Math.floor(rand() * 3)));
  };

  // The base node.
  {
    const { err, r } = await call(s0, (cb) => s0.client.create(base, Buffer.from("base"), zookeeper.CreateMode.PERSISTENT, cb));
    record(s0, "create", { path: "", mode: "persistent" }, err, err ? undefined : strip(r[0] as string));
  }

  // A few nodes to start from, so that most operations meet a node (errors still come often).
  for (const rel of ["a", "b", "c", "a/x"]) {
    const { err } = await call(s0, (cb) => s0.client.create(abs(rel), Buffer.from(rel), zookeeper.CreateMode.PERSISTENT, cb));
    record(s0, "create", { path: rel, mode: "persistent" }, err);
  }

  // An ephemeral of s1 (it goes when s1 closes): no children allowed below it.
  {
    const e = await call(s1, (cb) => s1.client.create(abs("eph"), Buffer.from("e"), zookeeper.CreateMode.EPHEMERAL, cb));
    record(s1, "create", { path: "eph", mode: "ephemeral" }, e.err);
    const c = await call(s0, (cb) => s0.client.create(abs("eph/child"), Buffer.from("c"), zookeeper.CreateMode.PERSISTENT, cb));
    record(s0, "create", { path: "eph/child", mode: "persistent" }, c.err);
    const w = await call(s0, (cb) => s0.client.exists(abs("eph"), watcher(s0), cb));
    record(s0, "exists", { path: "eph", watch: true }, w.err, w.err ? undefined : rawStat(w.r[0] as RawStat));
  }

  for (let n = 0; n < ops; n++) {
    const s = rand() < 0.6 ? s0 : s1;
    const rel = rand() < 0.06 ? pick(["nope", "nope/deeper", "c/missing"]) : rand() < 0.4 ? pick(["a", "b", "c"]) : pick(pool);
    const path = abs(rel);
    const watch = rand() < 0.35;
    const version = rand() < 0.6 ? -1 : Math.floor(rand() * 3);
    const roll = rand();
    if (roll < 0.24) {
      const [modeName, mode] = pick(MODES);
      const seq = modeName.endsWith("sequential");
      const target = seq ? `${path}/s-` : path;
      const d = data();
      const { err, r } = await call(s, (cb) => s.client.create(target, d, mode, cb));
      const created = err ? undefined : strip(r[0] as string);
      if (created && seq) pool.push(created);
      record(s, "create", { path: strip(target), mode: modeName, data: d?.toString() ?? null }, err, created);
    } else if (roll < 0.38) {
      const { err, r } = await call(s, (cb) => (watch ? s.client.getData(path, watcher(s), cb) : s.client.getData(path, cb)));
      record(s, "getData", { path: rel, watch }, err, err ? undefined : { data: dataText(r[0]), stat: rawStat(r[1] as RawStat) });
    } else if (roll < 0.52) {
      const d = data() ?? Buffer.alloc(0); // this client cannot send null to setData
      const { err, r } = await call(s, (cb) => s.client.setData(path, d, version, cb));
      record(s, "setData", { path: rel, version, data: d?.toString() ?? null }, err, err ? undefined : rawStat(r[0] as RawStat));
    } else if (roll < 0.62) {
      const { err } = await call(s, (cb) => s.client.remove(path, version, cb));
      record(s, "delete", { path: rel, version }, err);
    } else if (roll < 0.72) {
      const { err, r } = await call(s, (cb) => (watch ? s.client.exists(path, watcher(s), cb) : s.client.exists(path, cb)));
      record(s, "exists", { path: rel, watch }, err, err ? undefined : rawStat(r[0] as RawStat));
    } else if (roll < 0.84) {
      const { err, r } = await call(s, (cb) => (watch ? s.client.getChildren(path, watcher(s), cb) : s.client.getChildren(path, cb)));
      record(s, "getChildren", { path: rel, watch }, err, err ? undefined : { children: [...(r[0] as string[])].sort(), stat: rawStat(r[1] as RawStat) });
    } else if (roll < 0.85) {
      const { err, r } = await call(s, (cb) => s.client.getACL(path, cb));
      const acls = (r[0] as zookeeper.ACL[] | undefined)?.map((a) => `${a.id.scheme}:${a.id.id}:${a.perms}`);
      record(s, "getACL", { path: rel }, err, err ? undefined : { acls, stat: rawStat(r[1] as RawStat) });
    } else if (roll < 0.87) {
      // Mostly everything; sometimes read and write only (deletes and creates below it then fail NOAUTH).
      const perms = rand() < 0.7 ? zookeeper.Permission.ALL : zookeeper.Permission.READ | zookeeper.Permission.WRITE;
      const acl = [new zookeeper.ACL(perms, new zookeeper.Id("world", "anyone"))];
      const v = rand() < 0.6 ? -1 : Math.floor(rand() * 2);
      const { err, r } = await call(s, (cb) => s.client.setACL(path, acl, v, cb));
      record(s, "setACL", { path: rel, perms, version: v }, err, err ? undefined : rawStat(r[0] as RawStat));
    } else {
      // multi: 1–3 operations; picked at random, so some succeed and some fail.
      const tx = s.client.transaction();
      const desc: string[] = [];
      const k = 1 + Math.floor(rand() * 3);
      for (let j = 0; j < k; j++) {
        const p = abs(rand() < 0.1 ? "nope" : pick(pool));
        const v = rand() < 0.5 ? -1 : Math.floor(rand() * 2);
        const which = rand();
        if (which < 0.35) {
          const d = data() ?? Buffer.alloc(0);
          const [modeName, mode] = rand() < 0.7 ? MODES[0] : pick(MODES);
          const target = modeName.endsWith("sequential") ? `${p}/m-` : p;
          tx.create(target, d, mode);
          desc.push(`create ${strip(target)} ${modeName} ${d.toString()}`);
        } else if (which < 0.6) {
          const d = data() ?? Buffer.alloc(0);
          tx.setData(p, d, v);
          desc.push(`setData ${strip(p)} ${v} ${d.toString()}`);
        } else if (which < 0.8) {
          tx.check(p, v);
          desc.push(`check ${strip(p)} ${v}`);
        } else {
          tx.remove(p, v);
          desc.push(`delete ${strip(p)} ${v}`);
        }
      }
      const { err, r } = await call(s, (cb) => tx.commit(cb));
      const results = (r[0] as Array<{ type: number; err?: number; path?: string; stat?: RawStat }> | undefined)?.map((x) => ({
        type: x.type,
        ...(x.err !== undefined ? { err: x.err } : {}),
        ...(x.path !== undefined ? { path: strip(x.path) } : {}),
        ...(x.stat ? { stat: rawStat(x.stat) } : {}),
      }));
      record(s, "multi", { ops: desc }, err, results);
    }
  }

  // s1 ends its session: its ephemerals go (events on s0's watches), then s0 reads the tree.
  closing = true;
  await closeClient(s1);
  // A round trip on s0: every event of s1's close has arrived before its answer.
  await call(s0, (cb) => s0.client.exists(base, cb));
  closing = false;
  const final: Array<{ path: string; data: string | null; stat: StatRaw | null; children: string[] }> = [];
  const walk = async (p: string): Promise<void> => {
    const d = await call(s0, (cb) => s0.client.getData(p, cb));
    const c = await call(s0, (cb) => s0.client.getChildren(p, cb));
    if (d.err || c.err) return;
    const children = [...(c.r[0] as string[])].sort();
    final.push({ path: strip(p), data: dataText(d.r[0]), stat: rawStat(d.r[1] as RawStat), children });
    for (const ch of children) await walk(`${p}/${ch}`);
  };
  await walk(base);
  closing = true; // s0's own ephemerals go too, and fire s0's own watches before it is closed
  await closeClient(s0);
  const t1 = BigInt(Date.now() + 5_000);
  return normalize({ steps, events: rawEvents, final }, sessions, t0, t1);
}

/** Replaces zxids by their rank, owners by session names, times by invariant checks. */
function normalize(trace: Trace, sessions: SessionHandle[], t0: bigint, t1: bigint): Trace {
  const zxids = new Set<bigint>();
  const visit = (v: unknown, f: (s: StatRaw) => void): void => {
    if (Array.isArray(v)) v.forEach((x) => visit(x, f));
    else if (v && typeof v === "object") {
      if ("czxid" in v && "mtime" in v) f(v as StatRaw);
      else Object.values(v).forEach((x) => visit(x, f));
    }
  };
  visit([trace.steps, trace.final], (s) => [s.czxid, s.mzxid, s.pzxid].forEach((z) => zxids.add(z)));
  const rank = new Map([...zxids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((z, i) => [z, i]));
  const owner = (o: string) => (/^0*$/.test(o) ? 0 : (sessions.find((s) => s.id === o)?.name ?? `unknown ${o}`));
  const fix = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(fix);
    if (v && typeof v === "object") {
      if ("czxid" in v && "mtime" in v) {
        const s = v as StatRaw;
        const broken: string[] = [];
        if (s.ctime < t0 || s.ctime > t1) broken.push(`ctime ${s.ctime} outside the run`);
        if (s.mtime < s.ctime) broken.push("mtime < ctime");
        if (s.mzxid === s.czxid && s.mtime !== s.ctime) broken.push("mzxid == czxid but mtime != ctime");
        return {
          czxid: rank.get(s.czxid),
          mzxid: rank.get(s.mzxid),
          pzxid: rank.get(s.pzxid),
          version: s.version,
          cversion: s.cversion,
          aversion: s.aversion,
          ephemeralOwner: owner(s.ephemeralOwner),
          dataLength: s.dataLength,
          numChildren: s.numChildren,
          ...(broken.length ? { broken } : {}),
        };
      }
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fix(x)]));
    }
    return v;
  };
  // Each session's events in the order it received them (the order between two sessions' events is not defined).
  // The events of a closing session's ephemerals' removal are sorted: ZooKeeper removes them in
  // hash-set order, edgekeeper in path order; neither promises one (docs/zookeeper-compat.md).
  const byPath = (a: { path: string; type: string }, b: { path: string; type: string }) => (a.path + a.type < b.path + b.type ? -1 : a.path + a.type > b.path + b.type ? 1 : 0);
  const events = sessions.flatMap((s) => {
    const mine = trace.events.filter((e) => e.session === s.name);
    return [...mine.filter((e) => !e.closing), ...mine.filter((e) => e.closing).sort(byPath)];
  });
  return { steps: fix(trace.steps) as Step[], events, final: fix(trace.final) };
}

/** The first step (or event, or final node) where two traces differ, for a readable failure. */
export function firstDifference(a: Trace, b: Trace): string | undefined {
  const n = Math.max(a.steps.length, b.steps.length);
  for (let i = 0; i < n; i++) {
    const x = JSON.stringify(a.steps[i]);
    const y = JSON.stringify(b.steps[i]);
    if (x !== y) return `step ${i}:\n  A ${x}\n  B ${y}\ncontext:\n${a.steps.slice(Math.max(0, i - 5), i).map((s) => "  " + JSON.stringify(s)).join("\n")}`;
  }
  const ea = JSON.stringify(a.events);
  const eb = JSON.stringify(b.events);
  if (ea !== eb) return `events:\n  A ${ea}\n  B ${eb}`;
  const fa = JSON.stringify(a.final);
  const fb = JSON.stringify(b.final);
  if (fa !== fb) return `final tree:\n  A ${fa}\n  B ${fb}`;
  return undefined;
}

/** What a trace exercised: "op:err" counts (create by mode), event types; for coverage checks. */
export function summarize(t: Trace): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (k: string) => (out[k] = (out[k] ?? 0) + 1);
  for (const s of t.steps) add(`${s.op}${s.op === "create" ? `/${s.args.mode}` : ""}:${s.err}`);
  for (const e of t.events) add(`event:${e.type}`);
  return out;
}
