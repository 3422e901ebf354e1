// Builds the web explorer (src/explorer → public/explorer.js, ESM, minified), served by the
// Worker as static assets next to public/index.html and public/explorer.css (docs/explorer.md).
// Fails if a Node-only module sneaks onto the path.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleForBrowser, kib } from "./browser-bundle.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const size = await bundleForBrowser(join(root, "src/explorer/main.ts"), join(root, "public/explorer.js"));
if (!process.argv.includes("--quiet")) console.log(`public/explorer.js: ${kib(size.minified)} minified, ${kib(size.gzipped)} gzipped`);
