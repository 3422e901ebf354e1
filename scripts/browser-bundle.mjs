// One browser bundle (ESM, minified, with a source map), shared by build-client.mjs and
// build-explorer.mjs. Fails if a Node-only module sneaks onto the browser path; returns the
// bundle's minified and gzipped sizes in bytes.
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";

export async function bundleForBrowser(entry, outfile) {
  mkdirSync(dirname(outfile), { recursive: true });
  const result = await build({
    entryPoints: [entry],
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
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length };
}

export const kib = (n) => (n / 1024).toFixed(1) + " KiB";
