// Builds the web explorer (src/explorer → public/explorer.js, ESM, minified), served by the
// Worker as static assets next to public/index.html and public/explorer.css (docs/explorer.md).
// Fails if a Node-only module sneaks onto the path.
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = join(root, "public/explorer.js");
const result = await build({
  entryPoints: [join(root, "src/explorer/main.ts")],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  sourcemap: true,
  outfile,
  metafile: true,
  logLevel: "warning",
});
const nodeOnly = Object.keys(result.metafile.inputs).filter((p) => p.startsWith("node:") || p.includes("node_modules/@types/node"));
if (nodeOnly.length > 0) {
  console.error("Node-only imports on the browser path:", nodeOnly);
  process.exit(1);
}
const code = readFileSync(outfile);
const kib = (n) => (n / 1024).toFixed(1) + " KiB";
if (!process.argv.includes("--quiet"))
  console.log(`public/explorer.js: ${kib(code.length)} minified, ${kib(gzipSync(code, { level: 9 }).length)} gzipped`);
