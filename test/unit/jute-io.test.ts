import { describe, expect, it } from "vitest";
import { JuteError, JuteReader, JuteWriter } from "../../src/protocol/jute/io.js";
import { connectResponse, notification, replyHeader, secretFromBytes, secretToBytes, sessionIdFromLong, sessionIdToLong, writeStat } from "../../src/protocol/jute/records.js";

/** The jute reader/writer and records against bytes written out by hand (big-endian, as ZooKeeper's). */

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

describe("jute encoding", () => {
  it("writes ints, longs, booleans, buffers, strings and vectors big-endian with int lengths (-1 for null)", () => {
    const w = new JuteWriter().int(-2).long(0x0102030405060708n).bool(true).buffer(null).ustring("é").vector(["a"], (x, s) => x.ustring(s)).vector(null, () => {});
    expect(hex(w.bytes())).toBe("fffffffe" + "0102030405060708" + "01" + "ffffffff" + "00000002c3a9" + "00000001" + "0000000161" + "ffffffff");
  });

  it("reads what it writes, and refuses short packets, negative lengths, lying vector counts and bad UTF-8", () => {
    const r = new JuteReader(new JuteWriter().int(7).long(-1n).bool(false).ustring(null).buffer(new Uint8Array([9])).bytes());
    expect([r.int(), r.long(), r.bool(), r.ustring(), r.buffer()]).toEqual([7, -1n, false, null, new Uint8Array([9])]);
    expect(r.remaining).toBe(0);
    expect(() => r.int()).toThrow(JuteError);
    expect(() => new JuteReader(new Uint8Array([0xff, 0xff, 0xff, 0xfe])).buffer()).toThrow(/negative/);
    expect(() => new JuteReader(new Uint8Array([0, 0, 0, 5, 1])).buffer()).toThrow(/ends early/);
    expect(() => new JuteReader(new Uint8Array([0, 0x0f, 0x42, 0x40, 0])).stringVector("p")).toThrow(/vector/);
    expect(() => new JuteReader(new Uint8Array([0, 0, 0, 1, 0xff])).ustring()).toThrow(/UTF-8/);
    expect(() => new JuteReader(new JuteWriter().long(-5n).bytes()).safeLong("zxid")).toThrow(/out of range/);
  });

  it("session ids and passwords: 16 hex digits ↔ a signed long, 32 hex digits ↔ 16 bytes", () => {
    expect(sessionIdToLong("0100018c00000001")).toBe(0x0100018c00000001n);
    expect(sessionIdToLong("ffffffffffffffff")).toBe(-1n);
    expect(sessionIdFromLong(-1n)).toBe("ffffffffffffffff");
    expect(sessionIdFromLong(sessionIdToLong("0100018c00000001"))).toBe("0100018c00000001");
    const secret = "00112233445566778899aabbccddeeff";
    expect(secretToBytes(secret)).toHaveLength(16);
    expect(secretFromBytes(secretToBytes(secret))).toBe(secret);
  });

  it("records: ConnectResponse, ReplyHeader + WatcherEvent, Stat (68 bytes in ZooKeeper's field order)", () => {
    expect(hex(connectResponse(30000, 1n, new Uint8Array(2), true))).toBe("00000000" + "00007530" + "0000000000000001" + "00000002" + "0000" + "00");
    expect(hex(notification({ event: "NodeChildrenChanged", path: "/a", zxid: 5 }))).toBe("ffffffff" + "0000000000000005" + "00000000" + "00000004" + "00000003" + "00000002" + "2f61");
    const w = replyHeader(1, 2, -101);
    expect(hex(w.bytes())).toBe("00000001" + "0000000000000002" + "ffffff9b");
    const s = new JuteWriter();
    writeStat(s, { czxid: 1, mzxid: 2, ctime: 3, mtime: 4, version: 5, cversion: 6, aversion: 7, ephemeralOwner: "0100000000000009", dataLength: 10, numChildren: 11, pzxid: 12 });
    const b = s.bytes();
    expect(b).toHaveLength(68);
    const v = new DataView(b.buffer);
    expect([v.getBigInt64(0), v.getBigInt64(8), v.getBigInt64(16), v.getBigInt64(24)]).toEqual([1n, 2n, 3n, 4n]);
    expect([v.getInt32(32), v.getInt32(36), v.getInt32(40)]).toEqual([5, 6, 7]);
    expect(v.getBigInt64(44)).toBe(0x0100000000000009n);
    expect([v.getInt32(52), v.getInt32(56)]).toEqual([10, 11]);
    expect(v.getBigInt64(60)).toBe(12n);
  });
});
