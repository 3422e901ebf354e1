import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RawClient, freshNamespace, sleep, stubFor, type Msg } from "../helpers/raw-client.js";
import { ERR, MAX_PATH_CHARS, ZkModel, cmp, join, mismatch, show, StatExpect, type Predicted } from "../helpers/zk-model.js";

/**
 * A property-based test of one namespace (issue 6): fast-check generates random sequences of
 * valid and malformed requests — single frames, batches, junk — from three sessions at once,
 * and after every step the test checks that
 *
 * - every response is exactly what a ZooKeeper 3.8 model predicts (test/helpers/zk-model.ts):
 *   err and code, zxid, stat, data, children, multi result vectors; a malformed request gets
 *   its ZooKeeper error and changes nothing (not even the zxid);
 * - the whole tree, read back over a separate observer session, equals the model's (so no
 *   acknowledged write is lost and nothing unacknowledged appears);
 * - every session still answers, gets its responses in request order and in one server frame
 *   per client frame, and sees zxids that never go backwards.
 *
 * Besides frames, steps resume a session on a new socket, try resumes that must be refused
 * (wrong secret, unknown session, a client ahead of the server), evict the object (it keeps
 * its sockets, loses its memory) and restart it (every socket closes, every session resumes).
 * Sessions that close are replaced by new ones, each opened after a request sent before the
 * handshake (which must be refused). At the end every session closes and its ephemerals go.
 *
 * Frames from different sessions in one step are sent together, so the object may apply them
 * in any order: the step passes if some order of them (with the container-removal alarm at
 * any point between frames) explains every response, and the tree matches that order.
 *
 * To replay a failure, copy fast-check's `{ seed, path }` into REPLAY below.
 */

const NUM_RUNS = 100;
const MAX_STEPS = 30;
const REPLAY: { seed: number; path: string } | undefined = undefined;

const SESSIONS = 3;
const TIMEOUT_MS = 60_000;
const MAX_TTL = 2 ** 40 - 1;

// ------------------------------------------------------------------ what gets generated

/**
 * A path, or one resolved against the tree when the request is sent: the k-th existing
 * sequential child of `under`, the k-th existing node, or a new name below the k-th node.
 */
type PathRef = string | { under: string; k: number } | { node: number } | { node: number; name: string; child?: string };
/** Base64 data, null/absent (empty), or HUGE: one byte over the namespace's limit. */
const HUGE = "<huge>";
type Spec = Record<string, any>;
type Item = { spec: Spec } | { bad: keyof typeof MALFORMED };
type Frame = { t: "one"; item: Item } | { t: "batch"; items: Item[] } | { t: "raw"; text: string } | { t: "empty" } | { t: "overflow" };
type Step =
  | { t: "frames"; frames: Array<{ slot: number; frame: Frame }> }
  | { t: "resume"; slot: number }
  | { t: "badResume"; slot: number; how: "secret" | "ahead" | "unknown" }
  /** The object loses its memory (caches, sessions, watches) but keeps its sockets, as on hibernation. */
  | { t: "evict" }
  /** The object restarts and every socket is closed: each session resumes on a new one. */
  | { t: "restart" };

const VALID_PATHS = ["/a", "/a/b", "/a/c", "/a/b/z", "/b", "/b/x", "/b/\u00fc", "/c", "/c/x", "/c/y", "/c/x/q", "/a/s-0000000001"];
const SPECIAL_PATHS = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config", "/zookeeper/config/x", "/zookeeper/quota/q"];
const BAD_PATHS = ["a", "a/b", "/a/", "//a", "/a//b", "/a/./b", "/a/..", "/.", "", "/a\u0000b", "/\u0007", "/\ud800x", "/\ufff5", "/zookeeper/"];
const LONG_NAME = "/" + "h".repeat(4095); // the longest path the frame schema takes: valid
const SEQ_PREFIXES = ["/a/s-", "/a/", "/c/s-", "/s-", "/", "/b/x/s-", "/nope/s-", "a/s-", "//s-"];
/** Containers only on one chain, so at most one is ever emptied at a time and removal order is determined. */
const CONTAINER_PATHS = ["/c", "/c/x"];

const c = <T,>(v: T) => fc.constant(v);
const nodeRef = fc.record({ node: fc.nat(40) });
const newNameRef = fc.record({ node: fc.nat(40), name: fc.constantFrom("n", "m", "s-0000000002", "\u00e9t\u00e9") });
const seqRef = fc.record({ under: fc.constantFrom("/a", "/c", "/", "/b/x"), k: fc.nat(4) });
const oddPathArb = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_PATHS) },
  { weight: 3, arbitrary: fc.constantFrom(...BAD_PATHS) },
  { weight: 1, arbitrary: c(LONG_NAME) },
);
/** Paths for requests on existing nodes (mostly). */
const pathArb: fc.Arbitrary<PathRef> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...VALID_PATHS) },
  { weight: 24, arbitrary: nodeRef },
  { weight: 3, arbitrary: newNameRef },
  { weight: 6, arbitrary: seqRef },
  { weight: 6, arbitrary: oddPathArb },
);
/** Paths for creates (mostly new names below existing nodes). */
const newPathArb: fc.Arbitrary<PathRef> = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...VALID_PATHS) },
  { weight: 4, arbitrary: nodeRef },
  { weight: 20, arbitrary: newNameRef },
  { weight: 2, arbitrary: seqRef },
  { weight: 6, arbitrary: oddPathArb },
);
const dataArb = fc.oneof(
  { weight: 4, arbitrary: c(undefined) },
  { weight: 2, arbitrary: c(null) },
  { weight: 14, arbitrary: fc.uint8Array({ maxLength: 9 }).map(toB64) },
  { weight: 1, arbitrary: c(HUGE) },
);
const versionArb = fc.oneof({ weight: 4, arbitrary: c(undefined) }, { weight: 1, arbitrary: c(-1) }, { weight: 4, arbitrary: fc.nat(3) }, { weight: 1, arbitrary: c(2 ** 31 - 1) });
const world = (perms: number) => ({ perms, scheme: "world", id: "anyone" });
const aclArb = fc.oneof(
  { weight: 12, arbitrary: c(undefined) },
  { weight: 1, arbitrary: c([world(31)]) },
  { weight: 1, arbitrary: c([world(1)]) },
  { weight: 1, arbitrary: c([world(1 | 2)]) },
  { weight: 1, arbitrary: c([world(1 | 4 | 8)]) },
  { weight: 1, arbitrary: c([world(31), world(31)]) },
  { weight: 1, arbitrary: c([]) },
  { weight: 1, arbitrary: c([{ perms: 31, scheme: "bogus", id: "x" }]) },
  { weight: 1, arbitrary: c([{ perms: 31, scheme: "world", id: "someone" }]) },
);
const setAclArb = aclArb.filter((a) => a !== undefined);
const extraArb = fc.oneof({ weight: 9, arbitrary: c(undefined) }, { weight: 1, arbitrary: c(true) });
const requestIdArb = fc.oneof({ weight: 8, arbitrary: c(undefined) }, { weight: 1, arbitrary: fc.constantFrom("r1", "r2") });

function createArb(inMulti: boolean): fc.Arbitrary<Spec> {
  const more = inMulti ? {} : { requestId: requestIdArb, extra: extraArb };
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: c("create"), path: newPathArb, mode: fc.constantFrom(undefined, "persistent", 0, "ephemeral", 1), data: dataArb, acl: aclArb, ttl: fc.oneof({ weight: 9, arbitrary: c(undefined) }, { weight: 1, arbitrary: fc.constantFrom(0, -1, 100) }), ...more }) },
    { weight: 3, arbitrary: fc.record({ op: c("create"), path: fc.constantFrom(...SEQ_PREFIXES), mode: fc.constantFrom("persistent_sequential", 2, "ephemeral_sequential", 3), data: dataArb, acl: aclArb, ...more }) },
    { weight: 1, arbitrary: fc.record({ op: c("create"), path: fc.constantFrom(...CONTAINER_PATHS), mode: fc.constantFrom("container", 4), data: dataArb }) },
    {
      weight: 1,
      arbitrary: fc.record(
        { op: c("create"), path: fc.oneof(newPathArb, fc.constantFrom(...SEQ_PREFIXES)), mode: fc.constantFrom("persistent_ttl", 5, "persistent_sequential_ttl", 6), ttl: fc.constantFrom(undefined, 3_600_000, MAX_TTL, 0, -5, MAX_TTL + 1), data: dataArb },
      ),
    },
  );
}
const deleteArb = fc.record({ op: c("delete"), path: pathArb, version: versionArb });
const setDataArb = fc.record({ op: c("setData"), path: pathArb, data: dataArb, version: versionArb });
const checkArb = fc.record({ op: c("check"), path: pathArb, version: versionArb });
const multiOpArb = fc.oneof({ weight: 3, arbitrary: createArb(true) }, { weight: 2, arbitrary: deleteArb }, { weight: 2, arbitrary: setDataArb }, { weight: 2, arbitrary: checkArb });
/** A multi that builds and takes apart a small subtree: a subsequence of steps that mostly succeeds. */
const chainMultiArb = fc.record({ node: fc.nat(40), name: fc.constantFrom("t", "u") }).chain(({ node, name }) => {
  const p = { node, name };
  const q = { node, name, child: "m" };
  return fc
    .subarray(
      [
        { op: "create", path: p, data: "cA==" },
        { op: "create", path: q, mode: "ephemeral" },
        { op: "setData", path: p, data: "cQ==", version: 0 },
        { op: "check", path: p, version: 1 },
        { op: "create", path: q, mode: "persistent_sequential" },
        { op: "delete", path: q },
        { op: "setData", path: p, data: "", version: 1 },
      ],
      { minLength: 1 },
    )
    .map((ops) => ({ op: "multi", ops }));
});
const readOpArb = fc.record({ op: fc.constantFrom("getData", "getChildren", "exists"), path: pathArb });

const opArb: fc.Arbitrary<Spec> = fc.oneof(
  { weight: 7, arbitrary: createArb(false) },
  { weight: 4, arbitrary: fc.record({ op: c("delete"), path: pathArb, version: versionArb, extra: extraArb }) },
  { weight: 3, arbitrary: fc.record({ op: c("setData"), path: pathArb, data: dataArb, version: versionArb, extra: extraArb }) },
  { weight: 1, arbitrary: checkArb },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom("exists", "getData"), path: pathArb, watch: fc.boolean(), extra: extraArb }) },
  {
    weight: 2,
    arbitrary: fc.record(
      { op: fc.constantFrom("getChildren", "getChildren2"), path: pathArb, watch: fc.boolean(), limit: fc.oneof({ weight: 6, arbitrary: c(undefined) }, { weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 10_001) }), cursorK: fc.option(fc.nat(5), { freq: 3 }) },
    ),
  },
  { weight: 1, arbitrary: fc.record({ op: c("getACL"), path: pathArb }) },
  { weight: 1, arbitrary: fc.record({ op: c("setACL"), path: pathArb, acl: setAclArb, version: versionArb }) },
  { weight: 2, arbitrary: chainMultiArb },
  { weight: 4, arbitrary: fc.record({ op: c("multi"), ops: fc.oneof({ weight: 1, arbitrary: c([]) }, { weight: 8, arbitrary: fc.array(multiOpArb, { minLength: 1, maxLength: 3 }) }) }) },
  { weight: 1, arbitrary: fc.record({ op: c("multiRead"), ops: fc.array(readOpArb, { minLength: 1, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ op: c("sync"), path: pathArb }) },
  { weight: 1, arbitrary: fc.record({ op: c("getEphemerals"), path: fc.constantFrom(undefined, "/", "/a", "/c/s", "") }) },
  { weight: 1, arbitrary: fc.record({ op: c("getAllChildrenNumber"), path: pathArb }) },
  { weight: 1, arbitrary: c({ op: "ping" }) },
  { weight: 1, arbitrary: c({ op: "close" }) },
);

/**
 * Requests the frame schema refuses: each with the error it must get and whether the reply
 * echoes its xid. Many would write if they were wrongly accepted.
 */
const MALFORMED = {
  unknownOp: (x: number) => ({ item: { xid: x, op: "frobnicate", path: "/a" }, xid: x, err: ERR.UNIMPLEMENTED }),
  protoOp: (x: number) => ({ item: { xid: x, op: "__proto__", path: "/a" }, xid: x, err: ERR.UNIMPLEMENTED }),
  createTtlOp: (x: number) => ({ item: { xid: x, op: "createTTL", path: "/a", ttl: 5 }, xid: x, err: ERR.UNIMPLEMENTED }),
  missingOp: (x: number) => ({ item: { xid: x, path: "/a" }, xid: x, err: ERR.BADARGUMENTS }),
  numericOp: (x: number) => ({ item: { xid: x, op: 5, path: "/a" }, xid: x, err: ERR.BADARGUMENTS }),
  nullOp: (x: number) => ({ item: { xid: x, op: null }, xid: x, err: ERR.BADARGUMENTS }),
  numberItem: () => ({ item: 42, xid: null, err: ERR.BADARGUMENTS }),
  stringItem: () => ({ item: "create", xid: null, err: ERR.BADARGUMENTS }),
  nullItem: () => ({ item: null, xid: null, err: ERR.BADARGUMENTS }),
  nestedArray: (x: number) => ({ item: [{ xid: x, op: "create", path: "/n" }], xid: null, err: ERR.BADARGUMENTS }),
  connectAgain: () => ({ item: { type: "connect", v: 1, timeout: 1000, lastZxid: 0 }, xid: null, err: ERR.BADARGUMENTS }),
  pathNumber: (x: number) => ({ item: { xid: x, op: "getData", path: 5 }, xid: x, err: ERR.BADARGUMENTS }),
  pathMissing: (x: number) => ({ item: { xid: x, op: "delete" }, xid: x, err: ERR.BADARGUMENTS }),
  pathTooLong: (x: number) => ({ item: { xid: x, op: "create", path: "/" + "h".repeat(4096) }, xid: x, err: ERR.BADARGUMENTS }),
  dataNumber: (x: number) => ({ item: { xid: x, op: "create", path: "/a", data: 5 }, xid: x, err: ERR.BADARGUMENTS }),
  dataNotBase64: (x: number) => ({ item: { xid: x, op: "setData", path: "/a", data: "abc" }, xid: x, err: ERR.MARSHALLINGERROR }),
  dataBadChars: (x: number) => ({ item: { xid: x, op: "create", path: "/a", data: "####" }, xid: x, err: ERR.MARSHALLINGERROR }),
  dataNoPadding: (x: number) => ({ item: { xid: x, op: "create", path: "/m", data: "aGVsbG8" }, xid: x, err: ERR.MARSHALLINGERROR }),
  versionString: (x: number) => ({ item: { xid: x, op: "setData", path: "/a", version: "1" }, xid: x, err: ERR.BADARGUMENTS }),
  versionFloat: (x: number) => ({ item: { xid: x, op: "delete", path: "/a", version: 0.5 }, xid: x, err: ERR.BADARGUMENTS }),
  versionTooLow: (x: number) => ({ item: { xid: x, op: "delete", path: "/a", version: -2 }, xid: x, err: ERR.BADARGUMENTS }),
  versionTooHigh: (x: number) => ({ item: { xid: x, op: "setData", path: "/a", version: 2 ** 31 }, xid: x, err: ERR.BADARGUMENTS }),
  watchString: (x: number) => ({ item: { xid: x, op: "getData", path: "/a", watch: "yes" }, xid: x, err: ERR.BADARGUMENTS }),
  modeBogus: (x: number) => ({ item: { xid: x, op: "create", path: "/m", mode: "bogus" }, xid: x, err: ERR.BADARGUMENTS }),
  modeSeven: (x: number) => ({ item: { xid: x, op: "create", path: "/m", mode: 7 }, xid: x, err: ERR.BADARGUMENTS }),
  modeNegative: (x: number) => ({ item: { xid: x, op: "create", path: "/m", mode: -1 }, xid: x, err: ERR.BADARGUMENTS }),
  modeUpperCase: (x: number) => ({ item: { xid: x, op: "create", path: "/m", mode: "EPHEMERAL" }, xid: x, err: ERR.BADARGUMENTS }),
  ttlString: (x: number) => ({ item: { xid: x, op: "create", path: "/m", mode: "persistent_ttl", ttl: "1000" }, xid: x, err: ERR.BADARGUMENTS }),
  xidNegative: (x: number) => ({ item: { xid: -x, op: "create", path: "/m" }, xid: null, err: ERR.BADARGUMENTS }),
  xidString: (x: number) => ({ item: { xid: String(x), op: "create", path: "/m" }, xid: null, err: ERR.BADARGUMENTS }),
  xidFloat: (x: number) => ({ item: { xid: x + 0.5, op: "create", path: "/m" }, xid: null, err: ERR.BADARGUMENTS }),
  xidMissing: () => ({ item: { op: "create", path: "/m" }, xid: null, err: ERR.BADARGUMENTS }),
  aclNotArray: (x: number) => ({ item: { xid: x, op: "create", path: "/m", acl: "world:anyone" }, xid: x, err: ERR.BADARGUMENTS }),
  aclExtraKey: (x: number) => ({ item: { xid: x, op: "create", path: "/m", acl: [{ ...world(31), x: 1 }] }, xid: x, err: ERR.BADARGUMENTS }),
  multiNotArray: (x: number) => ({ item: { xid: x, op: "multi", ops: "create" }, xid: x, err: ERR.BADARGUMENTS }),
  multiReadOpInside: (x: number) => ({ item: { xid: x, op: "multi", ops: [{ op: "create", path: "/m" }, { op: "getData", path: "/a" }] }, xid: x, err: ERR.BADARGUMENTS }),
  multiUnknownOp: (x: number) => ({ item: { xid: x, op: "multi", ops: [{ op: "create", path: "/m" }, { op: "frob" }] }, xid: x, err: ERR.BADARGUMENTS }),
  multiCreateExtraField: (x: number) => ({ item: { xid: x, op: "multi", ops: [{ op: "create", path: "/m", requestId: "r1" }] }, xid: x, err: ERR.BADARGUMENTS }),
  multiBadBase64: (x: number) => ({ item: { xid: x, op: "multi", ops: [{ op: "create", path: "/m", data: "***" }] }, xid: x, err: ERR.MARSHALLINGERROR }),
  multiMissingPath: (x: number) => ({ item: { xid: x, op: "multi", ops: [{ op: "create", path: "/m" }, { op: "delete" }] }, xid: x, err: ERR.BADARGUMENTS }),
  multiTooMany: (x: number) => ({ item: { xid: x, op: "multi", ops: Array.from({ length: 1001 }, () => ({ op: "create", path: "/m" })) }, xid: x, err: ERR.BADARGUMENTS }),
  multiReadWrite: (x: number) => ({ item: { xid: x, op: "multiRead", ops: [{ op: "setData", path: "/a" }] }, xid: x, err: ERR.BADARGUMENTS }),
  limitFloat: (x: number) => ({ item: { xid: x, op: "getChildren", path: "/", limit: 1.5 }, xid: x, err: ERR.BADARGUMENTS }),
  cursorNumber: (x: number) => ({ item: { xid: x, op: "getChildren", path: "/", cursor: 5 }, xid: x, err: ERR.BADARGUMENTS }),
  setAclWithoutAcl: (x: number) => ({ item: { xid: x, op: "setACL", path: "/a" }, xid: x, err: ERR.BADARGUMENTS }),
  requestIdEmpty: (x: number) => ({ item: { xid: x, op: "create", path: "/m", requestId: "" }, xid: x, err: ERR.BADARGUMENTS }),
  requestIdTooLong: (x: number) => ({ item: { xid: x, op: "create", path: "/m", requestId: "r".repeat(65) }, xid: x, err: ERR.BADARGUMENTS }),
};
const malformedArb = fc.constantFrom(...(Object.keys(MALFORMED) as Array<keyof typeof MALFORMED>));

/** Text frames that are not JSON. */
const JUNK = ["{not json", "", "[1,", "nul", '{"xid":1,"op":"create","path":"/y"} extra', "{'xid':1}", '[{"xid":1,"op":"create","path":"/y"},]'];

const itemArb: fc.Arbitrary<Item> = fc.oneof({ weight: 6, arbitrary: opArb.map((spec) => ({ spec })) }, { weight: 1, arbitrary: malformedArb.map((bad) => ({ bad })) });
const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 12, arbitrary: itemArb.map((item) => ({ t: "one" as const, item })) },
  { weight: 8, arbitrary: fc.array(itemArb, { minLength: 1, maxLength: 5 }).map((items) => ({ t: "batch" as const, items })) },
  { weight: 1, arbitrary: fc.constantFrom(...JUNK).map((text) => ({ t: "raw" as const, text })) },
  { weight: 1, arbitrary: c({ t: "empty" as const }) },
  { weight: 1, arbitrary: c({ t: "overflow" as const }) },
);
const slotArb = fc.nat(SESSIONS - 1);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 16,
    arbitrary: fc.array(fc.record({ slot: slotArb, frame: frameArb }), { minLength: 1, maxLength: SESSIONS }).map((fs) => ({
      t: "frames" as const,
      frames: fs.filter((f, i) => fs.findIndex((g) => g.slot === f.slot) === i),
    })),
  },
  { weight: 1, arbitrary: fc.record({ t: c("resume" as const), slot: slotArb }) },
  { weight: 1, arbitrary: fc.record({ t: c("badResume" as const), slot: slotArb, how: fc.constantFrom("secret" as const, "ahead" as const, "unknown" as const) }) },
  { weight: 1, arbitrary: c({ t: "evict" as const }) },
  { weight: 1, arbitrary: c({ t: "restart" as const }) },
);

function toB64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Base64 of `n` zero bytes, built without allocating the bytes. */
function zeroB64(n: number): string {
  return "A".repeat(4 * Math.floor(n / 3)) + (n % 3 === 1 ? "AA==" : n % 3 === 2 ? "AAA=" : "");
}

// ------------------------------------------------------------------ running it

class PropertyFailure extends Error {}

/** What the runs exercised: replies by op and code, for the summary line. */
const coverage = new Map<string, number>();
const count = (key: string) => coverage.set(key, (coverage.get(key) ?? 0) + 1);
const failed = (message: string): never => {
  throw new PropertyFailure(message);
};

interface Slot {
  client: RawClient;
  session: string;
  /** Index in client.received of the first message not yet matched to a request. */
  consumed: number;
  /** Index in client.frames after the last server frame that carried responses. */
  framesSeen: number;
  /** Index in client.received up to which zxid order was checked, and the highest zxid seen. */
  ordered: number;
  lastZxid: number;
}

/** One concrete request as sent: one the model applies, or one the schema must refuse. */
type Sent = { kind: "op"; req: Record<string, any> } | { kind: "refused"; xid: number | null; err: number };
/** One frame as sent: its requests (or a frame-level error) and the replies it got. */
interface SentFrame {
  slot: number;
  session: string;
  text: string;
  /** A frame-level error (junk, too many requests), or the requests in it. */
  frameError?: number;
  items: Sent[];
  replies: Msg[];
}

class World {
  readonly model: ZkModel;
  readonly slots: Slot[] = [];
  observer!: RawClient;
  readonly trace: string[] = [];
  private hugeData = "";

  private constructor(
    readonly ns: string,
    private readonly limits: { maxDataBytes: number; maxBatch: number },
  ) {
    this.model = new ZkModel({ maxDataBytes: limits.maxDataBytes, maxChildrenPage: 10_000 });
    this.hugeData = zeroB64(limits.maxDataBytes + 1);
  }

  static async start(): Promise<World> {
    const ns = freshNamespace("prop");
    const observer = await RawClient.connect(ns, { timeout: TIMEOUT_MS });
    const w = new World(ns, { maxDataBytes: observer.hello!.maxDataBytes, maxBatch: observer.hello!.maxBatch });
    w.observer = observer;
    expect(observer.hello!.zxid).toBe(w.model.openSession(observer.sessionId));
    for (let i = 0; i < SESSIONS; i++) w.slots.push(await w.newSession());
    return w;
  }

  /** Opens a session the way a confused client might: a request before the handshake first. */
  private async newSession(): Promise<Slot> {
    const client = await RawClient.open(this.ns);
    const early = await client.sendRaw(JSON.stringify({ xid: 1, op: "create", path: "/early" }));
    const m = mismatch(early, this.model.refused(1, ERR.BADARGUMENTS));
    if (m) failed(`a request before the handshake: ${m}`);
    const hello = await client.handshake({ timeout: TIMEOUT_MS });
    if (hello.type !== "connected") failed(`handshake refused: ${show(hello)}`);
    const zxid = this.model.openSession(hello.sessionId);
    if (hello.zxid !== zxid || hello.resumed !== false) failed(`connected ${show(hello)}, expected zxid ${zxid}, resumed false`);
    return { client, session: hello.sessionId, consumed: client.received.length, framesSeen: client.frames.length, ordered: 0, lastZxid: 0 };
  }

  dispose(): void {
    for (const s of this.slots) s.client.close();
    this.observer?.close();
  }

  async step(step: Step, index: number): Promise<void> {
    this.trace.push(`step ${index}: ${show(step, 300)}`);
    count(`step:${step.t}`);
    if (step.t === "frames") {
      await this.frames(step.frames); // checks the tree itself
      await this.checkAlive();
      return;
    }
    if (step.t === "resume") await this.resume(step.slot);
    else if (step.t === "badResume") await this.badResume(step.slot, step.how);
    else if (step.t === "evict") await evictDurableObject(stubFor(this.ns));
    else await this.restart();
    await this.checkAlive();
    await this.checkTree();
  }

  /** Closes every session (their ephemerals go) and checks the tree one last time. */
  async finish(): Promise<void> {
    this.trace.push("closing every session");
    await this.frames(this.slots.map((_, slot) => ({ slot, frame: { t: "one", item: { spec: { op: "close" } } } })), false);
  }

  // ---------------------------------------------------------------- frames

  private resolvePath(ref: PathRef): string {
    if (typeof ref === "string") return ref;
    if ("node" in ref) {
      const all = [...this.model.nodes.keys()].filter((p) => !p.startsWith("/zookeeper")).sort(cmp);
      const path = all[ref.node % all.length];
      if (!("name" in ref)) return path;
      return ref.child === undefined ? join(path, ref.name) : join(join(path, ref.name), ref.child);
    }
    const under = this.model.nodes.get(ref.under);
    const seq = under ? [...under.children].filter((n) => /^(s-)?\d{10}$/.test(n)).sort(cmp) : [];
    return join(ref.under, seq.length ? seq[ref.k % seq.length] : "s-0000000000");
  }

  /** Turns a generated spec into the JSON request to send (paths and data resolved now). */
  private resolve(spec: Spec, xid?: number): Record<string, unknown> {
    const o: Record<string, unknown> = xid === undefined ? {} : { xid };
    for (const [k, v] of Object.entries(spec)) {
      if (v === undefined) continue;
      if (k === "path") o.path = this.resolvePath(v);
      else if (k === "data") o.data = v === HUGE ? this.hugeData : v;
      else if (k === "ops") o.ops = (v as Spec[]).map((op) => this.resolve(op));
      else if (k === "extra") o.someFutureField = { ignored: true };
      else if (k === "cursorK") {
        const node = this.model.nodes.get(this.resolvePath(spec.path));
        const names = node ? [...node.children].sort(cmp) : [];
        o.cursor = names.length ? names[v % names.length] : "m";
      } else o[k] = v;
    }
    return o;
  }

  private send(slot: number, frame: Frame): SentFrame {
    const s = this.slots[slot];
    const item = (it: Item): { json: unknown; sent: Sent } => {
      const xid = s.client.nextXid();
      if ("bad" in it) {
        const b = MALFORMED[it.bad](xid);
        return { json: b.item, sent: { kind: "refused", xid: b.xid, err: b.err } };
      }
      const req = this.resolve(it.spec, xid);
      // A resolved path (a new name below a long one) may be longer than the schema takes.
      const paths = [req.path, ...((req.ops as Record<string, unknown>[] | undefined) ?? []).map((o) => o.path)];
      if (paths.some((p) => typeof p === "string" && p.length > MAX_PATH_CHARS)) return { json: req, sent: { kind: "refused", xid, err: ERR.BADARGUMENTS } };
      // The model sees exactly what the server parses.
      return { json: req, sent: { kind: "op", req: JSON.parse(JSON.stringify(req)) } };
    };
    let text: string;
    let items: Sent[] = [];
    let frameError: number | undefined;
    switch (frame.t) {
      case "raw":
        text = frame.text;
        frameError = ERR.MARSHALLINGERROR;
        break;
      case "empty":
        text = "[]";
        break;
      case "overflow": {
        // One request more than a batch may hold: refused as a whole, none of it applied.
        text = JSON.stringify(Array.from({ length: this.limits.maxBatch + 1 }, () => ({ xid: s.client.nextXid(), op: "create", path: "/overflow" })));
        frameError = ERR.THROTTLEDOP;
        break;
      }
      case "one": {
        const { json, sent } = item(frame.item);
        // An array sent alone would be a batch: wrap it so it stays one (malformed) request.
        text = JSON.stringify(Array.isArray(json) ? [json] : json);
        items = [sent];
        break;
      }
      case "batch": {
        const built = frame.items.map(item);
        text = JSON.stringify(built.map((b) => b.json));
        items = built.map((b) => b.sent);
        break;
      }
    }
    s.client.send(text);
    return { slot, session: s.session, text, frameError, items, replies: [] };
  }

  /** How many replies a frame gets: one per request up to and including a close. */
  private expectedReplies(f: SentFrame): number {
    if (f.frameError !== undefined) return 1;
    const close = f.items.findIndex((i) => i.kind === "op" && i.req.op === "close");
    return close === -1 ? f.items.length : close + 1;
  }

  /** Waits for the next `n` replies (anything but events and pongs) on a slot's socket. */
  private async collect(f: SentFrame): Promise<Msg[]> {
    const s = this.slots[f.slot];
    const n = this.expectedReplies(f);
    const replies: Msg[] = [];
    if (n > 0) {
      const isReply = (m: Msg) => m.type !== "event" && m.type !== "pong";
      let last = s.consumed;
      await s.client
        .waitFor(
          () => {
            replies.length = 0;
            for (let i = s.consumed; i < s.client.received.length && replies.length < n; i++)
              if (isReply(s.client.received[i])) replies.push(s.client.received[i]), (last = i);
            return replies.length === n;
          },
          s.consumed,
          10_000,
        )
        .catch((e) => failed(`slot ${f.slot}: waiting for ${n} replies to ${f.text.slice(0, 300)}: ${e.message}`));
      s.consumed = last + 1;
      // The replies to one client frame leave in one server frame (docs/protocol.md §1).
      const frames = s.client.frames.slice(s.framesSeen);
      const k = frames.findIndex((fr) => (Array.isArray(fr) ? fr : [fr]).some((m: Msg) => isReply(m)));
      const inIt = k === -1 ? 0 : (Array.isArray(frames[k]) ? frames[k] : [frames[k]]).filter((m: Msg) => isReply(m)).length;
      if (inIt !== n) failed(`slot ${f.slot}: the ${n} replies to one frame came in several server frames: ${show(frames, 1000)}`);
      s.framesSeen += k + 1;
    }
    return replies;
  }

  /** The replies the model predicts for a frame; applies its requests to `model`. */
  private predict(model: ZkModel, f: SentFrame): Predicted[] {
    if (f.frameError !== undefined) return [model.refused(null, f.frameError)];
    const out: Predicted[] = [];
    for (const it of f.items) {
      if (it.kind === "refused") {
        out.push(model.refused(it.xid, it.err));
        continue;
      }
      const r = model.apply(f.session, it.req);
      out.push(r.response);
      if (r.closes) break;
    }
    return out;
  }

  private frameMismatch(model: ZkModel, f: SentFrame): string | null {
    const predicted = this.predict(model, f);
    if (predicted.length !== f.replies.length) return `expected ${predicted.length} replies, got ${f.replies.length}`;
    for (let i = 0; i < predicted.length; i++) {
      const m = mismatch(f.replies[i], predicted[i]);
      if (m) return `reply ${i} ${show(f.replies[i], 600)}\n    to ${f.frameError !== undefined ? "the frame" : show(f.items[i], 600)}:\n    ${m}`;
    }
    return null;
  }

  private async frames(frames: Array<{ slot: number; frame: Frame }>, replaceClosed = true): Promise<void> {
    // Sent back to back, without waiting: the object may apply them in any order.
    const sent = frames.map(({ slot, frame }) => this.send(slot, frame));
    for (const f of sent) f.replies = await this.collect(f);

    // Every order of the frames, with the container alarm allowed between any two of them.
    const outcomes: ZkModel[] = [];
    const orders: string[] = [];
    let needsAlarm = false;
    const search = (model: ZkModel, left: number[], alarmed: boolean, order: string) => {
      if (left.length === 0) {
        const end = model.clone();
        if (end.runContainerAlarm() > 0) needsAlarm = true;
        outcomes.push(end);
        orders.push(order);
        return;
      }
      for (const i of left) {
        const m = model.clone();
        if (this.frameMismatch(m, sent[i]) === null)
          search(
            m,
            left.filter((j) => j !== i),
            false,
            order + i,
          );
      }
      if (!alarmed && model.emptiedContainers().length > 0) {
        const m = model.clone();
        m.runContainerAlarm();
        search(m, left, true, order + "A");
      }
    };
    search(this.model, sent.map((_, i) => i), false, "");
    if (needsAlarm) count("containerRemoved");
    if (orders.some((o) => o.includes("A"))) count("containerRemovedBetweenFrames?");
    if (sent.length > 1 && !orders.includes(sent.map((_, i) => i).join(""))) count("appliedOutOfSendOrder");
    for (const f of sent) {
      if (f.frameError !== undefined) count(`frame:${f.replies[0]?.code}`);
      f.replies.forEach((r, i) => {
        const it = f.items[i];
        if (!it) return;
        count(it.kind === "refused" ? `refused:${r.code}` : `${it.req.op}:${r.code ?? "OK"}`);
        if (it.kind === "op" && it.req.op === "multi" && r.err === 0) count(`multi:ops=${it.req.ops.length}`);
      });
    }
    if (sent.length > 1) count(`concurrent:${sent.length}`);
    if (outcomes.length === 0) {
      // Explain with the order they were sent in.
      const m = this.model.clone();
      const why = sent.map((f, i) => `  frame ${i} (slot ${f.slot}): ${this.frameMismatch(m, f) ?? "ok"}`).join("\n");
      failed(`no order of the ${sent.length} frame(s) explains their replies. In the order sent:\n${why}\nframes: ${sent.map((f) => f.text.slice(0, 400)).join("\n        ")}`);
    }
    // The alarm removes emptied containers on its own; make sure it has run before reading.
    if (needsAlarm) await runDurableObjectAlarm(stubFor(this.ns));
    const chosen = await this.matchTree(outcomes);
    this.adopt(chosen);

    // Sessions that closed get replaced by new ones.
    for (const f of sent) {
      const s = this.slots[f.slot];
      if (replaceClosed && !this.model.sessions.has(s.session)) {
        await s.client.waitClosed(5000).catch(() => failed(`slot ${f.slot}: the socket stayed open after close`));
        if (s.client.closed!.code !== 1000) failed(`slot ${f.slot}: closed with ${show(s.client.closed)}, expected 1000`);
        this.checkOrder(s);
        this.slots[f.slot] = await this.newSession();
      }
    }
  }

  private adopt(m: ZkModel): void {
    this.model.nodes = m.nodes;
    this.model.zxid = m.zxid;
    this.model.sessions = m.sessions;
  }

  // ---------------------------------------------------------------- sessions

  private async resume(slot: number): Promise<void> {
    const s = this.slots[slot];
    s.client.close();
    await s.client.waitClosed(2000).catch(() => undefined);
    await sleep(10);
    const client = await this.resumed(s.client);
    this.slots[slot] = { client, session: s.session, consumed: client.received.length, framesSeen: client.frames.length, ordered: 0, lastZxid: 0 };
  }

  /** Resumes `old`'s session on a new socket: same session, nothing written, the current zxid. */
  private async resumed(old: RawClient): Promise<RawClient> {
    const client = await RawClient.connect(this.ns, { sessionId: old.sessionId, secret: old.secret, lastZxid: this.model.zxid, timeout: TIMEOUT_MS });
    const m = mismatch(client.hello, { type: "connected", sessionId: old.sessionId, resumed: true, zxid: this.model.zxid });
    if (m) failed(`resuming session ${old.sessionId}: ${m}`);
    return client;
  }

  private async restart(): Promise<void> {
    await evictDurableObject(stubFor(this.ns), { webSockets: "close" });
    for (const c of [this.observer, ...this.slots.map((s) => s.client)]) await c.waitClosed(2000).catch(() => failed("a socket stayed open across a restart"));
    this.observer = await this.resumed(this.observer);
    for (const [slot, s] of this.slots.entries()) {
      const client = await this.resumed(s.client);
      this.slots[slot] = { client, session: s.session, consumed: client.received.length, framesSeen: client.frames.length, ordered: 0, lastZxid: 0 };
    }
  }

  private async badResume(slot: number, how: "secret" | "ahead" | "unknown"): Promise<void> {
    const s = this.slots[slot];
    const secret = s.client.secret;
    const hello =
      how === "secret"
        ? { sessionId: s.session, secret: (secret[0] === "0" ? "1" : "0") + secret.slice(1), lastZxid: 0 }
        : how === "ahead"
          ? { sessionId: s.session, secret, lastZxid: this.model.zxid + 1 }
          : { sessionId: "00000000000000ff", secret, lastZxid: 0 };
    const err = how === "ahead" ? ERR.CONNECTIONLOSS : ERR.SESSIONEXPIRED;
    const c = await RawClient.open(this.ns);
    const reply = await c.handshake({ ...hello, timeout: TIMEOUT_MS });
    const m = mismatch(reply, { type: "connect-error", err });
    if (m) failed(`a ${how} resume of slot ${slot}: ${m}`);
    const closed = await c.waitClosed(2000).catch(() => failed("the refused socket stayed open"));
    if (closed.code !== 4000 - err) failed(`a refused resume closed with ${closed.code}, expected ${4000 - err}`);
  }

  // ---------------------------------------------------------------- invariants

  /** Every session answers a ping next, with the namespace's zxid; nothing else is pending for it. */
  private async checkAlive(): Promise<void> {
    const pings = this.slots.map((_, slot) => this.send(slot, { t: "one", item: { spec: { op: "ping" } } }));
    for (const p of pings) p.replies = await this.collect(p);
    for (const p of pings) {
      const m = this.frameMismatch(this.model.clone(), p);
      if (m) failed(`slot ${p.slot} did not answer a ping as expected: ${m}`);
      const s = this.slots[p.slot];
      if (s.client.closed) failed(`slot ${p.slot}: socket closed ${show(s.client.closed)}`);
      this.checkOrder(s);
    }
  }

  /** Events and replies reach a session in zxid order (docs/protocol.md §4). */
  private checkOrder(s: Slot): void {
    const r = s.client.received;
    for (; s.ordered < r.length; s.ordered++) {
      const z = r[s.ordered].zxid;
      if (typeof z !== "number") continue;
      if (z < s.lastZxid) failed(`session ${s.session} saw zxid ${z} after ${s.lastZxid}: ${show(r.slice(Math.max(0, s.ordered - 5), s.ordered + 1), 1500)}`);
      s.lastZxid = z;
    }
  }

  /** Reads the whole tree over the observer: data, stat, children and ACL of every node. */
  private async readTree(): Promise<{ zxid: number; tree: Map<string, Record<string, unknown>> }> {
    const tree = new Map<string, Record<string, unknown>>();
    const zxids = new Set<number>();
    for (let level = ["/"]; level.length > 0; ) {
      const replies = await this.observer.batch(level.flatMap((path) => [{ op: "getData", path }, { op: "getChildren", path }, { op: "getACL", path }]));
      const next: string[] = [];
      level.forEach((path, i) => {
        const [d, ch, a] = replies.slice(3 * i, 3 * i + 3);
        for (const r of [d, ch, a]) {
          if (r.err !== 0) failed(`reading ${path}, listed by its parent: ${show(r)}`);
          zxids.add(r.zxid);
        }
        const children = ch.children as string[];
        if (show(ch.stat) !== show(d.stat) || show(a.stat) !== show(d.stat)) failed(`stats of ${path} differ within one frame: ${show([d.stat, ch.stat, a.stat])}`);
        tree.set(path, { data: d.data, stat: d.stat, children, acl: a.acl });
        for (const n of children) next.push(join(path, n));
      });
      level = next;
    }
    if (zxids.size !== 1) failed(`reads in one frame reported different zxids: ${[...zxids]}`);
    return { zxid: [...zxids][0], tree };
  }

  private treeMismatch(m: ZkModel, got: { zxid: number; tree: Map<string, Record<string, unknown>> }): string | null {
    if (got.zxid !== m.zxid) return `zxid: the namespace is at ${got.zxid}, the model at ${m.zxid}`;
    const want = m.snapshot();
    const a = [...got.tree.keys()].sort(cmp);
    const b = [...want.keys()].sort(cmp);
    const extra = a.filter((p) => !want.has(p));
    const missing = b.filter((p) => !got.tree.has(p));
    if (extra.length || missing.length) return `nodes: unexpected ${show(extra)}, missing ${show(missing)}`;
    for (const p of b) {
      const w = want.get(p)!;
      const mm = mismatch(got.tree.get(p), { data: w.data, stat: new StatExpect(w.stat), children: w.children, acl: w.acl }, p);
      if (mm) return mm;
    }
    return null;
  }

  /** The outcome the server's tree shows (reading again while the alarm may still be due). */
  private async matchTree(outcomes: ZkModel[]): Promise<ZkModel> {
    for (let attempt = 0; ; attempt++) {
      const got = await this.readTree();
      const match = outcomes.find((o) => this.treeMismatch(o, got) === null);
      if (match) return match;
      if (attempt >= 4) failed(`the tree does not match the model: ${this.treeMismatch(outcomes[0], got)}`);
      await sleep(20);
      await runDurableObjectAlarm(stubFor(this.ns));
    }
  }

  private async checkTree(): Promise<void> {
    await this.matchTree([this.model]);
  }
}

/** A few nodes to start from (as one batch from the first session), so that writes have targets. */
const SEED: Frame = {
  t: "batch",
  items: [
    { spec: { op: "create", path: "/a", data: "YQ==" } },
    { spec: { op: "create", path: "/a/b" } },
    { spec: { op: "create", path: "/b" } },
    { spec: { op: "create", path: "/c", mode: "container" } },
    { spec: { op: "create", path: "/c/x", mode: "ephemeral" } },
  ],
};

async function runSteps(seeded: boolean, steps: Step[]): Promise<void> {
  const w = await World.start();
  try {
    if (seeded) await w.step({ t: "frames", frames: [{ slot: 0, frame: SEED }] }, -1);
    for (const [i, step] of steps.entries()) await w.step(step, i);
    await w.finish();
  } catch (e) {
    if (e instanceof PropertyFailure) e.message += `\n  namespace ${w.ns}, after:\n  ${w.trace.slice(-3).join("\n  ")}`;
    throw e;
  } finally {
    w.dispose();
  }
}

describe("property: random valid and malformed requests from several sessions", () => {
  it(
    "the tree always equals the model, every reply is the predicted one, every session keeps answering",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.boolean(), fc.array(stepArb, { minLength: 1, maxLength: MAX_STEPS, size: "max" }), runSteps),
        {
          numRuns: NUM_RUNS,
          ...(REPLAY ?? {}),
          // Bounds shrinking on a failure; a run that finishes its numRuns never gets near it.
          plugins: [fc.interruptAfterTimeLimit(150_000)],
        },
      );
      console.log([...coverage].sort().map(([k, v]) => `${k}=${v}`).join(" "));
    },
    200_000,
  );
});

/** Minimal reproductions of what the property found, kept as regression tests. */
describe("found by the property test", () => {
  it("a sequential create whose prefix is near the 4096-char path limit is refused (its node could never be named again)", async () => {
    const ns = freshNamespace("prop-long");
    const c = await RawClient.connect(ns);
    try {
      const prefix = "/" + "h".repeat(4095); // the longest path a request may carry
      const zxid = await c.currentZxid();
      const r = await c.request("create", { path: prefix, mode: "persistent_sequential" });
      // Created, it would be "/hhh…h0000000000" (4106 chars): no getData, setData or delete
      // could name it (their paths are limited to 4096 chars), so it could never be removed.
      expect({ err: r.err, code: r.code, zxid: r.zxid }).toEqual({ err: ERR.BADARGUMENTS, code: "BADARGUMENTS", zxid });
      expect((await c.request("getChildren", { path: "/" })).children).toEqual(["zookeeper"]);
    } finally {
      c.close();
    }
  });
});
