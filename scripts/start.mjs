// `npm start`: the local development server (`wrangler dev`, local persistence in
// .wrangler/state). Without a token key it runs open — no authentication — which the Worker
// allows only for local hosts; it says so here, loudly. Put EDGEKEEPER_JWT_SECRET (or another
// key, docs/security.md) in .dev.vars to run it with tokens as deployed.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const devVars = join(root, ".dev.vars");
const keyed = /^\s*EDGEKEEPER_(JWT_SECRET|JWT_PUBLIC_KEY|JWKS|JWKS_URL)\s*=/m;
const hasKey = (existsSync(devVars) && keyed.test(readFileSync(devVars, "utf8"))) || process.argv.some((a) => /EDGEKEEPER_(JWT_SECRET|JWT_PUBLIC_KEY|JWKS|JWKS_URL):/.test(a));
const extra = process.argv.slice(2);
const defaults = [
  ...(extra.includes("--ip") ? [] : ["--ip", "127.0.0.1"]),
  ...(extra.includes("--port") ? [] : ["--port", "8787"]),
];
const args = ["dev", ...defaults, ...extra];
if (!hasKey) {
  args.push("--var", "EDGEKEEPER_AUTH:open");
  console.error(
    "\n  edgekeeper: authentication is OFF for this local server (EDGEKEEPER_AUTH=open).\n" +
      "  Anyone who can reach 127.0.0.1:8787 may do anything. Deployed, edgekeeper refuses every\n" +
      "  request until a token key is configured (docs/security.md).\n",
  );
}
const wrangler = join(dirname(createRequire(import.meta.url).resolve("wrangler/package.json")), "bin", "wrangler.js");
const child = spawn(process.execPath, [wrangler, ...args], { stdio: "inherit", cwd: root });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
