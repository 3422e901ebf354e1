// Builds the browser bundle of the client (dist/edgekeeper-client.js, ESM, minified) and
// reports its minified and gzipped sizes. Fails if a Node-only module sneaks onto the path.
import { bundleForBrowser, kib } from "./browser-bundle.mjs";

const size = await bundleForBrowser("src/client/index.ts", "dist/edgekeeper-client.js");
console.log(`dist/edgekeeper-client.js: ${kib(size.minified)} minified, ${kib(size.gzipped)} gzipped`);
if (process.argv.includes("--json")) console.log(JSON.stringify(size));
