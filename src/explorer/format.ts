import { Perms } from "../core/acl.js";
import { nameOf } from "../core/paths.js";

/** Data as the explorer shows and edits it: text (UTF-8), JSON (pretty-printed) or hex. */
export type ViewMode = "text" | "json" | "hex";

const decoder = new TextDecoder("utf-8", { fatal: false });
const strict = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** True when the bytes are valid UTF-8 without control characters other than whitespace. */
export function looksLikeText(data: Uint8Array): boolean {
  try {
    return !/[\u0000-\u0008\u000e-\u001f\u007f]/.test(strict.decode(data));
  } catch {
    return false;
  }
}

/** The mode a node's data is best shown in. */
export function guessMode(data: Uint8Array): ViewMode {
  if (!looksLikeText(data)) return "hex";
  const text = decoder.decode(data).trim();
  if (/^[[{]/.test(text)) {
    try {
      JSON.parse(text);
      return "json";
    } catch {
      // Not JSON after all.
    }
  }
  return "text";
}

/** Renders bytes for the editor; JSON that does not parse is shown as text (`fellBack`). */
export function render(data: Uint8Array, mode: ViewMode): { text: string; fellBack: boolean } {
  if (mode === "hex") return { text: toHex(data), fellBack: false };
  const text = decoder.decode(data);
  if (mode === "json") {
    if (data.length === 0) return { text: "", fellBack: false };
    try {
      return { text: JSON.stringify(JSON.parse(text), null, 2), fellBack: false };
    } catch {
      return { text, fellBack: true };
    }
  }
  return { text, fellBack: false };
}

/** Parses the editor's text back into bytes; throws with a message a person can act on. */
export function parse(text: string, mode: ViewMode): Uint8Array {
  if (mode === "hex") return fromHex(text);
  if (mode === "json" && text.trim() !== "") {
    try {
      JSON.parse(text);
    } catch (e) {
      throw new Error(`not valid JSON: ${(e as Error).message}`);
    }
  }
  return encoder.encode(text);
}

/** Space-separated byte pairs, 16 to a line. */
export function toHex(data: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < data.length; i += 16)
    lines.push(Array.from(data.subarray(i, i + 16), (b) => b.toString(16).padStart(2, "0")).join(" "));
  return lines.join("\n");
}

export function fromHex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, "").replace(/^0x/i, "");
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits)) throw new Error("hex: write pairs of hex digits (0-9, a-f), spaces and line breaks allowed");
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** ZooKeeper's perms letters: c(reate) d(elete) r(ead) w(rite) a(dmin). */
const LETTERS: ReadonlyArray<readonly [number, string]> = [
  [Perms.CREATE, "c"],
  [Perms.DELETE, "d"],
  [Perms.READ, "r"],
  [Perms.WRITE, "w"],
  [Perms.ADMIN, "a"],
];

export function permsString(perms: number): string {
  return LETTERS.map(([bit, letter]) => ((perms & bit) !== 0 ? letter : "-")).join("");
}

export function bytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;
}

export function time(ms: number | null | undefined): string {
  if (ms == null || ms === 0) return "—";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** Paths as the server handles them (src/core/paths.ts). */
export { parentOf, joinPath as childPath } from "../core/paths.js";

/** The name a tree row shows: the last segment, "/" for the root. */
export function baseName(path: string): string {
  return path === "/" ? "/" : nameOf(path);
}
