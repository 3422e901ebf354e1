// Builds the browser bundle of the client (dist/edgekeeper-client.js, ESM, minified) and
// reports its minified and gzipped sizes. Fails if a Node-only module sneaks onto the path.
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { mkdirSync, readFileSync } from "node:fs";

mkdirSync("dist", { recursive: true });
const result = await build({
  entryPoints: ["src/client/index.ts"],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  sourcemap: true,
  outfile: "dist/edgekeeper-client.js",
  metafile: true,
  logLevel: "warning",
});
const nodeOnly = Object.keys(result.metafile.inputs).filter((p) => p.startsWith("node:") || p.includes("node_modules/@types/node"));
if (nodeOnly.length > 0) {
  console.error("Node-only imports on the browser path:", nodeOnly);
  process.exit(1);
}
const code = readFileSync("dist/edgekeeper-client.js");
const gz = gzipSync(code, { level: 9 });
const kib = (n) => (n / 1024).toFixed(1) + " KiB";
console.log(`dist/edgekeeper-client.js: ${kib(code.length)} minified, ${kib(gz.length)} gzipped`);
if (process.argv.includes("--json")) console.log(JSON.stringify({ minified: code.length, gzipped: gz.length }));
