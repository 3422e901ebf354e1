#!/usr/bin/env node
// The edgekeeper command (docs/cli.md). Runs the bundle built by scripts/build-cli.mjs.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const major = Number(process.versions.node.split(".")[0]);
if (major < 22 || typeof WebSocket === "undefined") {
  console.error(
    `edgekeeper needs Node >= 22 (a global WebSocket); this is Node ${process.versions.node}.\n` +
      "In the project, `npx edgekeeper` runs it on the pinned Node 22 (the `node` dev dependency).",
  );
  process.exit(1);
}
const bundle = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "edgekeeper-cli.mjs");
if (!existsSync(bundle)) {
  console.error(`edgekeeper: ${bundle} is missing; build it with \`npm run build:cli\` (npm install does).`);
  process.exit(1);
}
await import(pathToFileURL(bundle).href);
