// Bundles the command-line tool (src/cli/entry.ts) into dist/edgekeeper-cli.mjs, ESM for
// Node ≥ 22; bin/edgekeeper.mjs runs it. Part of `npm install` (the prepare script).
import { build } from "esbuild";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
mkdirSync(join(root, "dist"), { recursive: true });
await build({
  entryPoints: [join(root, "src/cli/entry.ts")],
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node22",
  outfile: join(root, "dist/edgekeeper-cli.mjs"),
  logLevel: "warning",
});
if (!process.argv.includes("--quiet")) console.log("dist/edgekeeper-cli.mjs built");
