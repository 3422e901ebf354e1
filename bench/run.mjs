// Launcher for the benchmark scripts: bundles a TypeScript entry point under bench/ with
// esbuild (dependencies stay external, loaded from node_modules) into bench/.build/ and runs
// it in this process. Usage: node bench/run.mjs bench/main.ts [args...]
// `npm run bench` / `npm run bench:report` call it with the Node 22 pinned in node_modules.
import { build } from "esbuild";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const entry = process.argv[2];
if (!entry || !entry.endsWith(".ts")) {
  console.error("usage: node bench/run.mjs bench/<entry>.ts [args...]");
  process.exit(2);
}
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  console.error(`Node ${process.versions.node}: the benchmarks need Node >= 22 (global WebSocket). Run them with \`npm run bench\`, which uses the Node 22 from node_modules.`);
  process.exit(2);
}
// The bundle lives two directories below the project root, like test/e2e/server.ts, whose
// paths are computed from its own location (import.meta.url).
const outfile = join(here, ".build", basename(entry).replace(/\.ts$/, ".mjs"));
await build({
  entryPoints: [resolve(entry)],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  packages: "external",
  sourcemap: "inline",
  outfile,
  logLevel: "warning",
});
process.setSourceMapsEnabled(true);
// The entry point sees its own arguments from process.argv.slice(2).
process.argv.splice(2, 1);
await import(pathToFileURL(outfile).href);
