/**
 * ZooKeeper's TCP framing, for the tunnel (`edgekeeper tunnel`, docs/zookeeper-compat.md):
 * every packet on a ZooKeeper client connection is a 4-byte big-endian length followed by
 * that many bytes. The tunnel carries each packet's payload, without the prefix, as one
 * binary WebSocket message, and puts the prefix back on the way to the TCP client.
 *
 * Runtime-neutral (Uint8Array and DataView only): the unit tests run it in workerd.
 */

/** Largest packet the tunnel carries by default: the service's largest frame (4 MiB). */
export const DEFAULT_MAX_PACKET = 4 * 1024 * 1024;

export class FramingError extends Error {}

/** Splits a byte stream into packets. Feed it chunks as they come; it returns the packets each completes. */
export class PacketSplitter {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  /** The length of the packet being read, once its prefix is complete. */
  private need = -1;

  constructor(readonly maxPacket: number = DEFAULT_MAX_PACKET) {}

  /** Bytes received but not yet part of a returned packet. */
  get pending(): number {
    return this.buffered;
  }

  /**
   * Adds a chunk and returns the payloads of the packets it completes, in order. Throws a
   * FramingError for a length prefix that is negative or larger than maxPacket (the caller
   * closes the connection: the stream cannot be resynchronized).
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.byteLength > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.byteLength;
    }
    const out: Uint8Array[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) break;
        const prefix = this.take(4);
        const len = new DataView(prefix.buffer, prefix.byteOffset, 4).getInt32(0, false);
        if (len < 0 || len > this.maxPacket) throw new FramingError(`packet length ${len} is outside 0..${this.maxPacket}`);
        this.need = len;
      }
      if (this.buffered < this.need) break;
      out.push(this.take(this.need));
      this.need = -1;
    }
    return out;
  }

  /** Removes the first n buffered bytes (n <= buffered), copying only when they span chunks. */
  private take(n: number): Uint8Array {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0) return new Uint8Array(0);
    if (first.byteLength >= n) {
      if (first.byteLength === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let off = 0;
    let i = 0;
    while (off < n) {
      const c = this.chunks[i];
      const k = Math.min(c.byteLength, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (k === c.byteLength) i++;
      else this.chunks[i] = c.subarray(k);
    }
    this.chunks.splice(0, i); // once: shifting chunk by chunk is quadratic for a packet in many small chunks
    return out;
  }
}

/** A payload with its 4-byte big-endian length prefix: one packet as ZooKeeper's TCP stream carries it. */
export function framePacket(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.byteLength);
  new DataView(out.buffer).setInt32(0, payload.byteLength, false);
  out.set(payload, 4);
  return out;
}
