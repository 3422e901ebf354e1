import { afterEach, describe, expect, it } from "vitest";
import { RawClient, b64, freshNamespace, type Msg } from "../helpers/raw-client.js";

/**
 * Bad input at the protocol boundary (docs/protocol.md §1–3, §7; DESIGN.md §6): every bad
 * frame gets a clear error with a ZooKeeper code, changes nothing, leaves the connection
 * usable and does not disturb other clients of the namespace.
 */

const MiB = 1024 * 1024;

const opened: RawClient[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.close();
});

function track(c: RawClient): RawClient {
  opened.push(c);
  return c;
}

function ok(r: Msg): Msg {
  expect(r.err, JSON.stringify(r).slice(0, 500)).toBe(0);
  return r;
}

function isError(r: Msg, err: number, code: string, xid: number | null): void {
  expect({ xid: r.xid, err: r.err, code: r.code }, JSON.stringify(r).slice(0, 500)).toEqual({ xid, err, code });
  expect(typeof r.message).toBe("string");
  expect(r.message.length).toBeGreaterThan(0);
  expect(typeof r.zxid).toBe("number");
}

/** A namespace with a node /x and two connected clients: `a` sends the bad frames, `b` watches. */
interface World {
  ns: string;
  a: RawClient;
  b: RawClient;
  zxid: number;
}

async function world(): Promise<World> {
  const ns = freshNamespace("hostile");
  const a = track(await RawClient.connect(ns));
  const b = track(await RawClient.connect(ns));
  ok(await a.request("create", { path: "/x", data: b64("original") }));
  const zxid = await a.currentZxid();
  return { ns, a, b, zxid };
}

/**
 * After a bad frame: the tree and zxid are as they were (seen from both clients), the other
 * client is still connected, and the offending connection still reads and writes.
 */
async function assertUnharmed(w: World, conn: RawClient = w.a): Promise<void> {
  for (const c of [conn, w.b]) {
    expect(c.closed, "connection was closed").toBeNull();
    const g = ok(await c.request("getData", { path: "/x" }));
    expect(g.data).toBe(b64("original"));
    expect(g.stat.version).toBe(0);
    expect(g.zxid).toBe(w.zxid);
    expect(ok(await c.request("getChildren", { path: "/" })).children).toEqual(["x", "zookeeper"]);
  }
  const s = ok(await conn.request("setData", { path: "/x", data: b64("after") }));
  expect(s.zxid).toBe(w.zxid + 1);
  const seen = ok(await w.b.request("getData", { path: "/x" }));
  expect(seen.data).toBe(b64("after"));
}

// ------------------------------------------------------------------------------------------

describe("frames that are not JSON requests", () => {
  it.each([
    ["garbage", "{not json"],
    ["a truncated request", '{"xid":1,"op":"create","path":"/y"'],
    ["an empty frame", ""],
    ["trailing junk", '{"xid":1,"op":"create","path":"/y"} extra'],
    ["a single quote object", "{'xid':1}"],
  ])("%s is MARSHALLINGERROR with xid null", async (_label, frame) => {
    const w = await world();
    isError(await w.a.sendRaw(frame), -5, "MARSHALLINGERROR", null);
    await assertUnharmed(w);
  });

  it.each([
    ["a number", "42"],
    ["a string", '"create"'],
    ["null", "null"],
    ["true", "true"],
  ])("%s as a request is BADARGUMENTS", async (_label, frame) => {
    const w = await world();
    isError(await w.a.sendRaw(frame), -8, "BADARGUMENTS", null);
    await assertUnharmed(w);
  });

  it("a nested array as a request is BADARGUMENTS", async () => {
    const w = await world();
    isError(await w.a.sendRaw(JSON.stringify([[{ xid: 1, op: "create", path: "/y" }]])), -8, "BADARGUMENTS", null);
    await assertUnharmed(w);
  });

  it("a deeply nested frame is refused without harm", async () => {
    const w = await world();
    const depth = 100_000;
    const r = await w.a.sendRaw("[".repeat(depth) + "]".repeat(depth));
    expect(r.xid).toBeNull();
    expect([-5, -8]).toContain(r.err);
    await assertUnharmed(w);
  });

  it("a binary frame is MARSHALLINGERROR with xid null", async () => {
    const w = await world();
    isError(await w.a.sendRaw(new Uint8Array([0, 1, 2, 255])), -5, "MARSHALLINGERROR", null);
    await assertUnharmed(w);
  });

  it("a binary frame holding a valid JSON request is not applied", async () => {
    const w = await world();
    const bytes = new TextEncoder().encode(JSON.stringify({ xid: 3, op: "create", path: "/bin" }));
    isError(await w.a.sendRaw(bytes), -5, "MARSHALLINGERROR", null);
    await assertUnharmed(w);
  });
});

describe("unknown or missing ops", () => {
  it("an unknown op is UNIMPLEMENTED with the request's xid", async () => {
    const w = await world();
    isError(await w.a.sendRaw(JSON.stringify({ xid: 5, op: "frobnicate", path: "/x" })), -6, "UNIMPLEMENTED", 5);
    await assertUnharmed(w);
  });

  it.each(["constructor", "__proto__", "toString", "hasOwnProperty", "create2", "createTTL", "reconfig", "GETDATA"])(
    'op "%s" is UNIMPLEMENTED',
    async (op) => {
      const w = await world();
      isError(await w.a.sendRaw(JSON.stringify({ xid: 6, op, path: "/x", data: "" })), -6, "UNIMPLEMENTED", 6);
      await assertUnharmed(w);
    },
  );

  it("a missing op is BADARGUMENTS with the request's xid", async () => {
    const w = await world();
    const r = await w.a.sendRaw(JSON.stringify({ xid: 7, path: "/x" }));
    isError(r, -8, "BADARGUMENTS", 7);
    await assertUnharmed(w);
  });

  it.each([5, null, true, ["create"], { op: "create" }])("op %j (not a string) is BADARGUMENTS", async (op) => {
    const w = await world();
    isError(await w.a.sendRaw(JSON.stringify({ xid: 8, op, path: "/y" })), -8, "BADARGUMENTS", 8);
    await assertUnharmed(w);
  });

  it("a very long unknown op name is refused with a short message", async () => {
    const w = await world();
    const r = await w.a.sendRaw(JSON.stringify({ xid: 9, op: "z".repeat(100_000) }));
    isError(r, -6, "UNIMPLEMENTED", 9);
    expect(r.message.length).toBeLessThan(200);
    await assertUnharmed(w);
  });
});

describe("wrong field types", () => {
  const CASES: Array<[string, Msg]> = [
    ["path not a string", { op: "create", path: 5 }],
    ["path missing", { op: "create" }],
    ["path null", { op: "setData", path: null, data: "" }],
    ["data a number", { op: "setData", path: "/x", data: 5 }],
    ["data an array", { op: "create", path: "/y", data: [1, 2] }],
    ["setData without data being a string", { op: "setData", path: "/x", data: { a: 1 } }],
    ["version a string", { op: "setData", path: "/x", data: "", version: "0" }],
    ["version fractional", { op: "delete", path: "/x", version: 0.5 }],
    ["version below -1", { op: "delete", path: "/x", version: -2 }],
    ["version NaN-like", { op: "delete", path: "/x", version: null }],
    ["watch a string", { op: "getData", path: "/x", watch: "yes" }],
    ["mode unknown", { op: "create", path: "/y", mode: "forever" }],
    ["mode 7", { op: "create", path: "/y", mode: 7 }],
    ["ttl a string", { op: "create", path: "/y", mode: "persistent_ttl", ttl: "1000" }],
    ["acl not a list", { op: "create", path: "/y", acl: "world:anyone" }],
    ["acl entry without perms", { op: "create", path: "/y", acl: [{ scheme: "world", id: "anyone" }] }],
    ["acl entry with extra fields", { op: "create", path: "/y", acl: [{ perms: 31, scheme: "world", id: "anyone", x: 1 }] }],
    ["acl perms a string", { op: "setACL", path: "/x", acl: [{ perms: "31", scheme: "world", id: "anyone" }] }],
    ["setACL without acl", { op: "setACL", path: "/x" }],
    ["limit a string", { op: "getChildren", path: "/", limit: "2" }],
    ["cursor a number", { op: "getChildren", path: "/", limit: 2, cursor: 3 }],
    ["multi ops not a list", { op: "multi", ops: { op: "create", path: "/y" } }],
    ["multi op unknown", { op: "multi", ops: [{ op: "create", path: "/y" }, { op: "frob", path: "/z" }] }],
    ["multi op with a bad field", { op: "multi", ops: [{ op: "create", path: "/y" }, { op: "setData", path: "/x", data: 1 }] }],
    ["multiRead ops missing", { op: "multiRead" }],
    ["requestId a number", { op: "create", path: "/y", requestId: 1 }],
    ["path over 4096 characters", { op: "create", path: "/" + "p".repeat(5000) }],
    ["addWatch mode unknown", { op: "addWatch", path: "/x", mode: "sometimes" }],
    ["removeWatches type unknown", { op: "removeWatches", path: "/x", type: 9 }],
    ["setWatches lastZxid negative", { op: "setWatches", lastZxid: -1, watches: {} }],
  ];

  it.each(CASES)("%s is BADARGUMENTS with the request's xid", async (_label, fields) => {
    const w = await world();
    isError(await w.a.sendRaw(JSON.stringify({ xid: 11, ...fields })), -8, "BADARGUMENTS", 11);
    await assertUnharmed(w);
  });

  it("the message names the offending field", async () => {
    const w = await world();
    const r = await w.a.sendRaw(JSON.stringify({ xid: 12, op: "setData", path: "/x", data: "", version: "1" }));
    isError(r, -8, "BADARGUMENTS", 12);
    expect(r.message).toContain("version");
    await assertUnharmed(w);
  });

  it("unknown extra fields are ignored", async () => {
    const w = await world();
    const r = ok(await w.a.request("getData", { path: "/x", extra: { deep: [1, 2, 3] }, another: "field" }));
    expect(r.data).toBe(b64("original"));
  });

  it("a __proto__ key cannot smuggle fields into a request", async () => {
    const w = await world();
    const r = ok(await w.a.sendRaw(`{"xid":13,"op":"create","path":"/proto","__proto__":{"mode":1,"data":"aGk="}}`));
    expect(r.path).toBe("/proto");
    const g = ok(await w.a.request("getData", { path: "/proto" }));
    expect(g.data).toBe("");
    expect(g.stat.ephemeralOwner).toBe("0000000000000000");
    expect(({} as Msg).mode).toBeUndefined();
  });
});

describe("bad base64 data", () => {
  it.each([
    ["not base64 at all", "not base64!"],
    ["wrong length", "abc"],
    ["bad padding", "a==="],
    ["url-safe alphabet", "-_-_"],
    ["embedded whitespace", "aGVs bG8="],
  ])("%s on setData is an error and changes nothing", async (_label, data) => {
    const w = await world();
    const r = await w.a.sendRaw(JSON.stringify({ xid: 21, op: "setData", path: "/x", data }));
    isError(r, -5, "MARSHALLINGERROR", 21);
    await assertUnharmed(w);
  });

  it("bad base64 on create creates nothing", async () => {
    const w = await world();
    isError(await w.a.sendRaw(JSON.stringify({ xid: 22, op: "create", path: "/y", data: "%%%%" })), -5, "MARSHALLINGERROR", 22);
    await assertUnharmed(w);
  });

  it("bad base64 inside a multi refuses the whole multi", async () => {
    const w = await world();
    const r = await w.a.sendRaw(
      JSON.stringify({ xid: 23, op: "multi", ops: [{ op: "create", path: "/y" }, { op: "setData", path: "/x", data: "!!!!" }] }),
    );
    expect(r.xid).toBe(23);
    expect(r.err).toBe(-5);
    await assertUnharmed(w);
  });
});

describe("bad xids", () => {
  it.each([
    ["negative", -1],
    ["huge (2^53)", 2 ** 53],
    ["1e300", 1e300],
    ["fractional", 1.5],
    ["a string", "7"],
    ["null", null],
  ])("a %s xid is BADARGUMENTS answered with xid null", async (_label, xid) => {
    const w = await world();
    const frame = JSON.stringify({ xid, op: "create", path: "/y" });
    isError(await w.a.sendRaw(frame), -8, "BADARGUMENTS", null);
    await assertUnharmed(w);
  });

  it("a missing xid is BADARGUMENTS answered with xid null", async () => {
    const w = await world();
    isError(await w.a.sendRaw(JSON.stringify({ op: "create", path: "/y" })), -8, "BADARGUMENTS", null);
    await assertUnharmed(w);
  });

  it("xid 0 and 2^53-1 are valid and echoed", async () => {
    const w = await world();
    expect(ok(await w.a.sendRaw(JSON.stringify({ xid: 0, op: "exists", path: "/x" }))).xid).toBe(0);
    expect(ok(await w.a.sendRaw(JSON.stringify({ xid: Number.MAX_SAFE_INTEGER, op: "exists", path: "/x" }))).xid).toBe(
      Number.MAX_SAFE_INTEGER,
    );
  });

  it("xids need not be unique", async () => {
    const w = await world();
    const start = w.a.received.length;
    w.a.send([
      { xid: 4, op: "exists", path: "/x" },
      { xid: 4, op: "exists", path: "/nope" },
    ]);
    await w.a.waitFor((m) => m.xid === 4 && m.stat === null, start);
    const answers = w.a.received.slice(start).filter((m) => m.xid === 4);
    expect(answers.map((m) => m.stat === null)).toEqual([false, true]);
  });
});

describe("size limits", () => {
  it("a frame over 4 MiB is MARSHALLINGERROR with xid null, and is not applied", async () => {
    const w = await world();
    const data = btoa("a".repeat(3 * MiB + 10)); // 4 MiB of base64 and more
    const frame = JSON.stringify({ xid: 31, op: "setData", path: "/x", data });
    expect(frame.length).toBeGreaterThan(4 * MiB);
    isError(await w.a.sendRaw(frame), -5, "MARSHALLINGERROR", null);
    await assertUnharmed(w);
  });

  it("the frame limit counts UTF-8 bytes, not characters", async () => {
    const w = await world();
    const frame = JSON.stringify({ xid: 33, op: "create", path: "/y", pad: "\u00e9".repeat(2.2 * MiB) });
    expect(frame.length).toBeLessThan(4 * MiB);
    expect(new TextEncoder().encode(frame).byteLength).toBeGreaterThan(4 * MiB);
    isError(await w.a.sendRaw(frame), -5, "MARSHALLINGERROR", null);
    await assertUnharmed(w);
  });

  it("a frame just under 4 MiB is read (and its oversized data refused on its own)", async () => {
    const w = await world();
    const data = btoa("a".repeat(2 * MiB));
    const frame = JSON.stringify({ xid: 32, op: "setData", path: "/x", data });
    expect(frame.length).toBeLessThan(4 * MiB);
    isError(await w.a.sendRaw(frame), -8, "BADARGUMENTS", 32);
    await assertUnharmed(w);
  });

  it("a batch of more than 1000 requests is THROTTLEDOP and none is applied", async () => {
    const w = await world();
    const frame = JSON.stringify(Array.from({ length: 1001 }, (_, i) => ({ xid: 100 + i, op: "create", path: `/n${i}` })));
    const start = w.a.frames.length;
    isError(await w.a.sendRaw(frame), -127, "THROTTLEDOP", null);
    expect(w.a.frames.length).toBe(start + 1);
    await assertUnharmed(w);
  });

  it("a batch of exactly 1000 requests is applied and answered in one frame", async () => {
    const w = await world();
    const framesBefore = w.a.frames.length;
    const rs = await w.a.batch(Array.from({ length: 1000 }, (_, i) => ({ op: "create", path: `/x/n${i}` })));
    expect(rs).toHaveLength(1000);
    for (const r of rs) expect(r.err).toBe(0);
    expect(rs[999].zxid).toBe(w.zxid + 1000);
    expect(w.a.frames.length).toBe(framesBefore + 1);
    expect(ok(await w.b.request("getAllChildrenNumber", { path: "/x" })).count).toBe(1000);
  });
});

describe("the handshake", () => {
  it("a request before the handshake is BADARGUMENTS 'handshake required' and changes nothing", async () => {
    const w = await world();
    const c = track(await RawClient.open(w.ns));
    const r = await c.sendRaw(JSON.stringify({ xid: 1, op: "create", path: "/pre" }));
    isError(r, -8, "BADARGUMENTS", 1);
    expect(r.message).toContain("handshake required");
    expect(c.closed).toBeNull();
    await assertUnharmed(w);
  });

  it.each([
    ["negative", -1],
    ["fractional", 2.5],
    ["huge", 2 ** 60],
  ])("a request before the handshake with a %s xid is answered with xid null", async (_label, xid) => {
    const w = await world();
    const c = track(await RawClient.open(w.ns));
    isError(await c.sendRaw(JSON.stringify({ xid, op: "create", path: "/pre" })), -8, "BADARGUMENTS", null);
    await assertUnharmed(w);
  });

  it("every kind of frame before the handshake gets the same error", async () => {
    const w = await world();
    const c = track(await RawClient.open(w.ns));
    const batch = await c.sendRaw(JSON.stringify([{ xid: 1, op: "create", path: "/pre" }]));
    isError(batch, -8, "BADARGUMENTS", null);
    expect(batch.message).toContain("handshake required");
    const ping = await c.sendRaw(JSON.stringify({ xid: 2, op: "ping" }));
    isError(ping, -8, "BADARGUMENTS", 2);
    isError(await c.sendRaw("{oops"), -5, "MARSHALLINGERROR", null);
    await assertUnharmed(w);
  });

  it("the socket can still handshake after requests sent too early", async () => {
    const w = await world();
    const c = track(await RawClient.open(w.ns));
    isError(await c.sendRaw(JSON.stringify({ xid: 1, op: "create", path: "/pre" })), -8, "BADARGUMENTS", 1);
    const hello = await c.handshake();
    expect(hello.type).toBe("connected");
    // The new session took one zxid; the early create took none.
    expect(hello.zxid).toBe(w.zxid + 1);
    expect(ok(await c.request("exists", { path: "/pre" })).stat).toBeNull();
    ok(await c.request("create", { path: "/post" }));
  });

  it("a second connect on a connected socket is an error; the session carries on", async () => {
    const w = await world();
    const session = w.a.sessionId;
    const r = await w.a.sendRaw(JSON.stringify({ type: "connect", v: 1, timeout: 30_000, lastZxid: 0 }));
    isError(r, -8, "BADARGUMENTS", null);
    expect(w.a.closed).toBeNull();
    expect(w.a.received.filter((m) => m.type === "connected")).toHaveLength(1);
    expect(w.a.sessionId).toBe(session);
    await assertUnharmed(w);
  });

  it("a connect inside a batch is refused for that element only", async () => {
    const w = await world();
    const start = w.a.received.length;
    w.a.send([{ type: "connect", v: 1, timeout: 30_000 }, { xid: 41, op: "getData", path: "/x" }]);
    const answer = await w.a.waitFor((m) => m.xid === 41, start);
    expect(answer.data).toBe(b64("original"));
    const got = w.a.received.slice(start);
    expect(got).toHaveLength(2);
    isError(got[0], -8, "BADARGUMENTS", null);
    await assertUnharmed(w);
  });

  async function refused(w: World, hello: Msg): Promise<{ reply: Msg; closed: { code: number; reason: string } }> {
    const c = track(await RawClient.open(w.ns));
    const start = c.received.length;
    c.send(hello);
    const reply = await c.waitFor((m) => m.type === "connected" || m.type === "connect-error", start);
    const closed = await c.waitClosed();
    return { reply, closed };
  }

  it.each([
    ["v 2", { v: 2 }],
    ["v 0", { v: 0 }],
    ["v as a string", { v: "1" }],
  ])("a connect with %s is refused with BADARGUMENTS and the versions spoken", async (_label, fields) => {
    const w = await world();
    const { reply, closed } = await refused(w, { type: "connect", timeout: 30_000, lastZxid: 0, ...fields });
    expect(reply).toMatchObject({ type: "connect-error", err: -8, code: "BADARGUMENTS", versions: [1] });
    expect(closed.code).toBe(4008);
    await assertUnharmed(w);
  });

  it.each([
    ["no v", { type: "connect", timeout: 30_000 }],
    ["no timeout", { type: "connect", v: 1 }],
    ["a negative timeout", { type: "connect", v: 1, timeout: -5 }],
    ["a sessionId without a secret", { type: "connect", v: 1, timeout: 30_000, sessionId: "0123456789abcdef" }],
    ["a malformed sessionId", { type: "connect", v: 1, timeout: 30_000, sessionId: "not-hex", secret: "s" }],
    ["an uppercase sessionId", { type: "connect", v: 1, timeout: 30_000, sessionId: "0123456789ABCDEF", secret: "s" }],
    ["a negative lastZxid", { type: "connect", v: 1, timeout: 30_000, lastZxid: -1 }],
    ["watches of the wrong shape", { type: "connect", v: 1, timeout: 30_000, watches: { data: "/x" } }],
    ["an unknown watch kind", { type: "connect", v: 1, timeout: 30_000, watches: { sometimes: ["/x"] } }],
  ])("a connect with %s is BADARGUMENTS, closed with 4008", async (_label, hello) => {
    const w = await world();
    const { reply, closed } = await refused(w, hello);
    expect(reply).toMatchObject({ type: "connect-error", err: -8, code: "BADARGUMENTS" });
    expect(typeof reply.message).toBe("string");
    expect(closed.code).toBe(4008);
    await assertUnharmed(w);
  });

  it("a connect naming an unknown session is SESSIONEXPIRED, closed with 4112", async () => {
    const w = await world();
    const { reply, closed } = await refused(w, {
      type: "connect",
      v: 1,
      timeout: 30_000,
      sessionId: "00ff00ff00ff00ff",
      secret: "0".repeat(32),
      lastZxid: 0,
    });
    expect(reply).toMatchObject({ type: "connect-error", err: -112, code: "SESSIONEXPIRED" });
    expect(closed.code).toBe(4112);
    await assertUnharmed(w);
  });

  it("a connect with a real session id and a wrong secret is SESSIONEXPIRED; the real session is untouched", async () => {
    const w = await world();
    const { reply, closed } = await refused(w, {
      type: "connect",
      v: 1,
      timeout: 30_000,
      sessionId: w.b.sessionId,
      secret: "f".repeat(32),
      lastZxid: 0,
    });
    expect(reply).toMatchObject({ type: "connect-error", err: -112, code: "SESSIONEXPIRED" });
    expect(closed.code).toBe(4112);
    // b was not told its session moved, and still works.
    expect(w.b.received.some((m) => m.type === "session")).toBe(false);
    await assertUnharmed(w);
    ok(await w.b.request("create", { path: "/b-still-here", mode: "ephemeral" }));
  });

  it("a connect whose lastZxid is ahead of the server is CONNECTIONLOSS, closed with 4004", async () => {
    const w = await world();
    const { reply, closed } = await refused(w, { type: "connect", v: 1, timeout: 30_000, lastZxid: w.zxid + 100 });
    expect(reply).toMatchObject({ type: "connect-error", err: -4, code: "CONNECTIONLOSS" });
    expect(closed.code).toBe(4004);
    await assertUnharmed(w);
  });

  it("a connect frame that is not JSON gets MARSHALLINGERROR; the socket may still handshake", async () => {
    const w = await world();
    const c = track(await RawClient.open(w.ns));
    isError(await c.sendRaw('{"type":"connect",'), -5, "MARSHALLINGERROR", null);
    expect(c.closed).toBeNull();
    expect((await c.handshake()).type).toBe("connected");
    ok(await c.request("exists", { path: "/x" }));
  });
});

describe("a batch mixing good and bad requests", () => {
  it("applies the good ones, answers the bad ones with errors, in order, in one frame", async () => {
    const w = await world();
    const framesBefore = w.a.frames.length;
    const receivedBefore = w.a.received.length;
    w.a.send([
      { xid: 1, op: "create", path: "/m1", data: b64("one") },
      { xid: 2, op: "create", path: "/bad/" },
      { xid: 3, op: "frobnicate" },
      "not an object",
      { xid: 5, op: "setData", path: "/m1", data: "***" },
      { xid: 6, op: "setData", path: "/m1", data: b64("two") },
      { xid: -7, op: "create", path: "/neg" },
      { xid: 8, op: "create", path: "/m1" },
      { xid: 9, op: "getData", path: "/m1" },
    ]);
    await w.a.waitFor((m) => m.xid === 9, receivedBefore);
    expect(w.a.frames.length).toBe(framesBefore + 1);
    const frame = w.a.frames[framesBefore] as Msg[];
    expect(Array.isArray(frame)).toBe(true);
    expect(frame.map((m) => [m.xid, m.err])).toEqual([
      [1, 0],
      [2, -8],
      [3, -6],
      [null, -8],
      [5, -5],
      [6, 0],
      [null, -8],
      [8, -110],
      [9, 0],
    ]);
    expect(frame[0].zxid).toBe(w.zxid + 1);
    expect(frame[5].zxid).toBe(w.zxid + 2);
    expect(frame[5].stat.version).toBe(1);
    expect(frame[8].data).toBe(b64("two"));
    // Errors report the zxid current when they were answered.
    expect(frame.map((m) => m.zxid)).toEqual([1, 1, 1, 1, 1, 2, 2, 2, 2].map((d) => w.zxid + d));
    expect(ok(await w.b.request("getChildren", { path: "/" })).children).toEqual(["m1", "x", "zookeeper"]);
    expect(ok(await w.b.request("exists", { path: "/neg" })).stat).toBeNull();
  });

  it("a failing request in a batch does not undo the ones before it", async () => {
    const w = await world();
    const rs = await w.a.batch([
      { op: "create", path: "/k" },
      { op: "delete", path: "/missing" },
      { op: "create", path: "/k/child" },
    ]);
    expect(rs.map((r) => r.err)).toEqual([0, -101, 0]);
    expect(ok(await w.b.request("getChildren", { path: "/k" })).children).toEqual(["child"]);
  });

  it("other clients see only the good requests' effects, with their zxids", async () => {
    const w = await world();
    const rs = await w.a.batch([
      { op: "setData", path: "/x", data: b64("v1"), version: 0 },
      { op: "setData", path: "/x", data: b64("v2"), version: 0 },
      { op: "setData", path: "/x", data: b64("v3"), version: 1 },
    ]);
    expect(rs.map((r) => r.err)).toEqual([0, -103, 0]);
    const g = ok(await w.b.request("getData", { path: "/x" }));
    expect(g.data).toBe(b64("v3"));
    expect(g.stat.version).toBe(2);
    expect(g.zxid).toBe(w.zxid + 2);
  });
});
