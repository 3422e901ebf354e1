import { Perms, type ACL } from "../client/index.js";

/** zkCli's permission letters, in its order. */
const LETTERS: Array<[string, number]> = [
  ["c", Perms.CREATE],
  ["d", Perms.DELETE],
  ["r", Perms.READ],
  ["w", Perms.WRITE],
  ["a", Perms.ADMIN],
];

/** `cdrwa` → bits; throws on any other letter. */
export function parsePerms(text: string): number {
  let bits = 0;
  for (const ch of text) {
    const hit = LETTERS.find(([l]) => l === ch);
    if (!hit) throw new Error(`bad permission letter "${ch}" in "${text}" (use c d r w a)`);
    bits |= hit[1];
  }
  return bits;
}

/** bits → `cdrwa` (the letters held, in zkCli's order). */
export const formatPerms = (bits: number): string =>
  LETTERS.filter(([, b]) => (bits & b) !== 0)
    .map(([l]) => l)
    .join("");

/**
 * An ACL list as zkCli writes it: comma-separated `scheme:id:perms` entries, the id taking
 * everything between the first and the last colon (`digest:user:hash:rw`, `ip:10.0.0.0/8:r`,
 * `auth::cdrwa`, `world:anyone:cdrwa`, `token:alice:r`).
 */
export function parseAcl(text: string): ACL[] {
  const entries = text.split(",").filter((e) => e.trim() !== "");
  if (entries.length === 0) throw new Error("empty ACL");
  return entries.map((entry) => {
    const e = entry.trim();
    const first = e.indexOf(":");
    const last = e.lastIndexOf(":");
    if (first < 0 || last === first) throw new Error(`bad ACL entry "${e}": expected scheme:id:perms`);
    return { scheme: e.slice(0, first), id: e.slice(first + 1, last), perms: parsePerms(e.slice(last + 1)) };
  });
}

/** zkCli's getAcl text: `'scheme,'id` then `: perms`, per entry. */
export const formatAcl = (acl: ACL[]): string => acl.map((a) => `'${a.scheme},'${a.id}\n: ${formatPerms(a.perms)}`).join("\n");
