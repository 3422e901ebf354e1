/**
 * Jute, ZooKeeper's binary record format (zookeeper-jute), as far as the client protocol uses
 * it: big-endian int (4 bytes) and long (8), boolean (1 byte), buffer and ustring (an int
 * length, -1 for null, then the bytes; ustring is UTF-8), vector (an int count, -1 for null,
 * then the elements). Runtime-neutral: DataView and Uint8Array only.
 */

/** A packet could not be read: too short, a negative or oversized length, bad UTF-8. */
export class JuteError extends Error {}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

export class JuteReader {
  private readonly view: DataView;
  private pos = 0;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.bytes.byteLength - this.pos;
  }

  private need(n: number): void {
    if (this.remaining < n) throw new JuteError(`packet ends early: ${n} more bytes expected at offset ${this.pos}, ${this.remaining} left`);
  }

  int(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, false);
    this.pos += 4;
    return v;
  }

  long(): bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.pos, false);
    this.pos += 8;
    return v;
  }

  /** A long that must be a safe non-negative integer here (zxids, TTLs). */
  safeLong(what: string): number {
    const v = this.long();
    if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new JuteError(`${what} ${v} is out of range`);
    return Number(v);
  }

  bool(): boolean {
    this.need(1);
    return this.bytes[this.pos++] !== 0;
  }

  /** A buffer; null (length -1) reads as null. */
  buffer(): Uint8Array | null {
    const len = this.int();
    if (len === -1) return null;
    if (len < 0) throw new JuteError(`negative buffer length ${len}`);
    this.need(len);
    const out = this.bytes.slice(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  ustring(): string | null {
    const b = this.buffer();
    if (b === null) return null;
    try {
      return utf8.decode(b);
    } catch {
      throw new JuteError("a string is not valid UTF-8");
    }
  }

  /** A string that must be present (paths, schemes). */
  string(what: string): string {
    const s = this.ustring();
    if (s === null) throw new JuteError(`${what} must not be null`);
    return s;
  }

  /** A vector of elements read by `item`; null (count -1) reads as null. */
  vector<T>(item: (r: JuteReader) => T): T[] | null {
    const n = this.int();
    if (n === -1) return null;
    if (n < 0) throw new JuteError(`negative vector length ${n}`);
    // Every element takes at least one byte: a count beyond the bytes left is a lie.
    if (n > this.remaining) throw new JuteError(`vector of ${n} elements in ${this.remaining} bytes`);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item(this));
    return out;
  }

  stringVector(what: string): string[] {
    return this.vector((r) => r.string(what)) ?? [];
  }
}

export class JuteWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  int(v: number): this {
    this.room(4);
    this.view.setInt32(this.pos, v, false);
    this.pos += 4;
    return this;
  }

  long(v: bigint | number): this {
    this.room(8);
    this.view.setBigInt64(this.pos, BigInt.asIntN(64, BigInt(v)), false);
    this.pos += 8;
    return this;
  }

  bool(v: boolean): this {
    this.room(1);
    this.buf[this.pos++] = v ? 1 : 0;
    return this;
  }

  buffer(b: Uint8Array | null): this {
    if (b === null) return this.int(-1);
    this.int(b.byteLength);
    this.room(b.byteLength);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
    return this;
  }

  ustring(s: string | null): this {
    return this.buffer(s === null ? null : utf8Encoder.encode(s));
  }

  vector<T>(items: readonly T[] | null, item: (w: JuteWriter, v: T) => void): this {
    if (items === null) return this.int(-1);
    this.int(items.length);
    for (const v of items) item(this, v);
    return this;
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}
