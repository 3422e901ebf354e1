/**
 * IP addresses and ranges for the `ip` ACL scheme: `ip:10.0.0.7`, `ip:10.0.0.0/8`,
 * `ip:2001:db8::1`, `ip:2001:db8::/32`. An address is turned into its bytes (4 or 16) and a
 * range matches when the first `bits` bits agree, as in ZooKeeper's IPAuthenticationProvider;
 * an IPv4 address never matches an IPv6 range or the other way round (an IPv4-mapped IPv6
 * client address, ::ffff:a.b.c.d, is read as the IPv4 address it carries).
 */

function parseV4(s: string): Uint8Array | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i])) return undefined;
    const n = Number(parts[i]);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseV6(s: string): Uint8Array | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(s)) return undefined;
  // A trailing dotted quad (::ffff:1.2.3.4) stands for the last two groups.
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(":");
  if (s.includes(".")) {
    const v4 = parseV4(s.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = [(v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]];
    const head = s.slice(0, lastColon + 1);
    s = head.endsWith("::") ? head : head.slice(0, -1);
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const group = (g: string) => (/^[0-9A-Fa-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN);
  const head = halves[0] === "" ? [] : halves[0].split(":").map(group);
  const rest = halves.length === 2 ? (halves[1] === "" ? [] : halves[1].split(":").map(group)) : [];
  const groups = halves.length === 2 ? [...head, ...rest] : head;
  if (groups.some(Number.isNaN)) return undefined;
  const total = groups.length + tail.length;
  if (halves.length === 2 ? total > 7 : total !== 8) return undefined;
  const full = halves.length === 2 ? [...head, ...new Array(8 - total).fill(0), ...rest, ...tail] : [...head, ...tail];
  const out = new Uint8Array(16);
  full.forEach((g, i) => ((out[2 * i] = g >> 8), (out[2 * i + 1] = g & 0xff)));
  return out;
}

/** The bytes of an IPv4 or IPv6 address (IPv4-mapped IPv6 as IPv4), or undefined. */
export function parseAddress(s: string): Uint8Array | undefined {
  const bare = s.startsWith("[") && s.endsWith("]") ? s.slice(1, -1) : s;
  const v4 = parseV4(bare);
  if (v4) return v4;
  const v6 = parseV6(bare);
  if (v6 && v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff) return v6.slice(12);
  return v6;
}

interface Range {
  bytes: Uint8Array;
  bits: number;
}

/** Parses `addr` or `addr/bits`; undefined when either part is malformed. */
export function parseRange(expr: string): Range | undefined {
  const slash = expr.indexOf("/");
  const addr = slash < 0 ? expr : expr.slice(0, slash);
  // The range is written as given (no IPv4-mapped folding), so its width is known.
  const bytes = parseV4(addr) ?? parseV6(addr);
  if (!bytes) return undefined;
  const max = bytes.length * 8;
  if (slash < 0) return { bytes, bits: max };
  const b = expr.slice(slash + 1);
  if (!/^\d{1,3}$/.test(b) || Number(b) > max) return undefined;
  return { bytes, bits: Number(b) };
}

/** Whether the client address `addr` lies in the range `expr`. */
export function ipMatches(addr: string, expr: string): boolean {
  const a = parseAddress(addr);
  const r = parseRange(expr);
  if (!a || !r || a.length !== r.bytes.length) return false;
  let bits = r.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a[i] & mask) !== (r.bytes[i] & mask)) return false;
  }
  return true;
}
