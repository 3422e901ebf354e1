import { describe, expect, it } from "vitest";
import { framePacket, FramingError, PacketSplitter } from "../../src/cli/zk-framing.js";

/** The tunnel's packet splitter (src/cli/zk-framing.ts): ZooKeeper's 4-byte length prefix. */

const bytes = (...xs: number[]) => new Uint8Array(xs);
const packet = (n: number, fill = n & 0xff) => new Uint8Array(n).fill(fill);

describe("PacketSplitter", () => {
  it("splits a stream of framed packets back into their payloads, whatever the chunking", () => {
    const payloads = [packet(0), packet(1), packet(7), packet(300, 9), packet(70_000, 3)];
    const stream = new Uint8Array(payloads.reduce((n, p) => n + 4 + p.length, 0));
    let off = 0;
    for (const p of payloads) (stream.set(framePacket(p), off), (off += 4 + p.length));
    for (const size of [1, 2, 3, 4, 5, 13, 4096, stream.length]) {
      const s = new PacketSplitter();
      const out: Uint8Array[] = [];
      for (let i = 0; i < stream.length; i += size) out.push(...s.push(stream.subarray(i, i + size)));
      expect(out.map((p) => p.length)).toEqual(payloads.map((p) => p.length));
      // (a byte loop: toEqual on 70 KB arrays is slow)
      out.forEach((p, i) => expect(p.every((b, j) => b === payloads[i][j])).toBe(true));
      expect(s.pending).toBe(0);
    }
  });

  it("holds a partial packet until the rest arrives", () => {
    const s = new PacketSplitter();
    expect(s.push(bytes(0, 0))).toEqual([]);
    expect(s.push(bytes(0, 3, 1))).toEqual([]);
    expect(s.pending).toBe(1);
    expect(s.push(bytes(2, 3, 0, 0))).toEqual([bytes(1, 2, 3)]);
    expect(s.pending).toBe(2);
    expect(s.push(bytes(0, 0))).toEqual([new Uint8Array(0)]);
  });

  it("refuses a length above the limit or below zero", () => {
    expect(() => new PacketSplitter(10).push(bytes(0, 0, 0, 11))).toThrow(FramingError);
    expect(new PacketSplitter(10).push(framePacket(packet(10)))).toHaveLength(1);
    expect(() => new PacketSplitter().push(bytes(0xff, 0xff, 0xff, 0xff))).toThrow(/outside/);
    expect(() => new PacketSplitter().push(bytes(0x7f, 0, 0, 0))).toThrow(FramingError);
  });

  it("framePacket prefixes the big-endian length", () => {
    expect(framePacket(bytes(5, 6))).toEqual(bytes(0, 0, 0, 2, 5, 6));
    expect(framePacket(packet(258)).subarray(0, 4)).toEqual(bytes(0, 0, 1, 2));
  });
});
