import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

/** Rules of the architecture (DESIGN §1, §2) that a reviewer would otherwise have to re-check by hand. */
const root = join(import.meta.dirname, "../..");
const files = (dir: string): string[] =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
const importsOf = (file: string) => [...readFileSync(join(root, file), "utf8").matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]);

describe("source rules", () => {
  it("src/core imports nothing but src/core: no runtime, protocol or glue", () => {
    for (const f of files("src/core"))
      for (const spec of importsOf(f)) {
        expect(spec.startsWith("./"), `${f} imports ${spec}`).toBe(true);
      }
  });

  it("the client imports no Node-only module and nothing from the server glue", () => {
    for (const f of files("src/client"))
      for (const spec of importsOf(f)) {
        expect(spec.startsWith("node:"), `${f} imports ${spec}`).toBe(false);
        expect(/\/(objects|routes)\//.test(spec) || spec.startsWith("cloudflare:"), `${f} imports ${spec}`).toBe(false);
      }
  });

  it("no acknowledgement or event is ever sent before its write is durable: allowUnconfirmed is never used", () => {
    for (const f of files("src")) expect(readFileSync(join(root, f), "utf8"), relative(root, join(root, f))).not.toMatch(/allowUnconfirmed/);
  });
});
