import { execFileSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
let built: string | undefined;

/**
 * The client bundle exactly as shipped: runs `npm run build:client`'s script once per test
 * process and returns the path of dist/edgekeeper-client.js.
 */
export function clientBundle(): string {
  if (!built) {
    execFileSync(process.execPath, [join(ROOT, "scripts/build-client.mjs")], { cwd: ROOT, stdio: "ignore" });
    built = join(ROOT, "dist/edgekeeper-client.js");
  }
  return built;
}
