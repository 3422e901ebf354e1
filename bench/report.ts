/**
 * `npm run bench:report [-- results.json] [--out docs/benchmarks.md]`: renders a results file
 * (default bench/results/latest.json) as docs/benchmarks.md.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { projectRoot } from "./lib/env.js";
import { renderMarkdown } from "./lib/render.js";
import type { Results } from "./lib/types.js";

const { values, positionals } = parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: { out: { type: "string" } } });
const root = projectRoot();
const input = resolve(root, positionals[0] ?? "bench/results/latest.json");
const res = JSON.parse(readFileSync(input, "utf8")) as Results;
// latest.json is a copy: name the timestamped file it copies.
const source = input.endsWith("latest.json") ? join(relative(root, resolve(input, "..")), `${res.id}.json`) : relative(root, input);
const out = resolve(root, values.out ?? "docs/benchmarks.md");
writeFileSync(out, renderMarkdown(res, { resultsPath: source, root }));
console.log(`${relative(process.cwd(), out)} written from ${source}`);
