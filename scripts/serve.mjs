// `npm run serve`: the production-like local server. It builds the Worker exactly as
// `wrangler deploy` would (`wrangler deploy --dry-run`), then runs that bundle on the bare
// workerd runtime — the open-source runtime Cloudflare deploys — with the bindings, vars and
// Durable Object classes of wrangler.toml and SQLite persistence on local disk.
//
// Why not `wrangler dev`? It is the development server (live reload, inspector, dev proxy,
// log capture), and that tooling costs about 0.6 ms of CPU per WebSocket message that wakes
// JavaScript — five to eight times the cost of the message itself (docs/benchmarks.md).
// `npm start` stays `wrangler dev`; benchmarks and anyone who wants production-like local
// numbers use this.
//
// Usage: node scripts/serve.mjs [--ip 127.0.0.1] [--port 8787] [--persist-to DIR] [--var NAME:VALUE]...
import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const ip = opt("ip", "127.0.0.1");
const port = Number(opt("port", "8787"));
const persist = resolve(opt("persist-to", join(root, ".wrangler/state/serve")));
const work = resolve(opt("work-dir", join(root, ".wrangler/serve")));
const extraVars = Object.fromEntries(
  args.flatMap((a, i) => (a === "--var" ? [args[i + 1]] : [])).map((kv) => [kv.slice(0, kv.indexOf(":")), kv.slice(kv.indexOf(":") + 1)]),
);

const require = createRequire(import.meta.url);
const wranglerDir = dirname(require.resolve("wrangler/package.json"));
const wrangler = await import("wrangler");
const workerdBin = createRequire(join(wranglerDir, "package.json"))("workerd").default;

// 1. Bundle as deploy would.
const bundleDir = join(work, "bundle");
mkdirSync(bundleDir, { recursive: true });
execFileSync(process.execPath, [join(wranglerDir, "bin/wrangler.js"), "deploy", "--dry-run", "--outdir", bundleDir, "--config", join(root, "wrangler.toml")], {
  cwd: root,
  stdio: ["ignore", "ignore", "inherit"],
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});

// 2. The workerd config, from wrangler.toml.
const cfg = wrangler.unstable_readConfig({ config: join(root, "wrangler.toml") });
const sqliteClasses = new Set(cfg.migrations.flatMap((m) => m.new_sqlite_classes ?? []));
const modules = readdirSync(bundleDir)
  .filter((f) => f.endsWith(".js") || f.endsWith(".mjs"))
  .sort((a, b) => (a === "index.js" ? -1 : b === "index.js" ? 1 : a.localeCompare(b)))
  // capnp reads absolute embed paths from its import path: embed relative to the config file.
  .map((f) => `(name = ${JSON.stringify(f)}, esModule = embed ${JSON.stringify(`bundle/${f}`)})`);
// Local and unauthenticated unless a token key is passed (--var EDGEKEEPER_JWT_SECRET:...):
// open mode serves only loopback hosts (docs/security.md).
const vars = { EDGEKEEPER_AUTH: "open", ...cfg.vars, ...extraVars };
if (!Object.keys(vars).some((k) => /^EDGEKEEPER_(JWT_SECRET|JWT_PUBLIC_KEY|JWKS|JWKS_URL)$/.test(k)))
  console.error("edgekeeper: authentication is OFF (EDGEKEEPER_AUTH=open) — local use only; see docs/security.md to configure tokens.");
const bindings = [
  ...cfg.durable_objects.bindings.map((b) => `(name = ${JSON.stringify(b.name)}, durableObjectNamespace = ${JSON.stringify(b.class_name)})`),
  ...Object.entries(vars).map(([k, v]) => `(name = ${JSON.stringify(k)}, text = ${JSON.stringify(typeof v === "string" ? v : JSON.stringify(v))})`),
];
// Static assets (the web explorer, docs/explorer.md): a read-only disk service bound as the
// assets binding; the Worker runs first and hands it what is not its own (run_worker_first).
const assetsDir = cfg.assets?.directory ? resolve(root, cfg.assets.directory) : undefined;
if (assetsDir && cfg.assets.binding) bindings.push(`(name = ${JSON.stringify(cfg.assets.binding)}, service = "assets")`);
const namespaces = cfg.durable_objects.bindings.map(
  (b) => `(className = ${JSON.stringify(b.class_name)}, uniqueKey = ${JSON.stringify(`${cfg.name}-${b.class_name}`)}, enableSql = ${sqliteClasses.has(b.class_name)})`,
);
mkdirSync(persist, { recursive: true });
const capnp = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "state", disk = (path = ${JSON.stringify(persist)}, writable = true)),${assetsDir ? `\n    (name = "assets", disk = (path = ${JSON.stringify(assetsDir)}, writable = false)),` : ""}
  ],
  sockets = [ (name = "http", address = ${JSON.stringify(`${ip}:${port}`)}, http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [ ${modules.join(", ")} ],
  compatibilityDate = ${JSON.stringify(cfg.compatibility_date)},
  compatibilityFlags = ${JSON.stringify(cfg.compatibility_flags ?? [])},
  bindings = [ ${bindings.join(", ")} ],
  durableObjectNamespaces = [ ${namespaces.join(", ")} ],
  durableObjectStorage = (localDisk = "state"),
);
`;
const configPath = join(work, "edgekeeper.capnp");
writeFileSync(configPath, capnp);

// 3. Run it.
const child = spawn(workerdBin, ["serve", configPath, "--experimental"], { stdio: ["ignore", "inherit", "inherit"] });
console.log(`edgekeeper: serving on http://${ip}:${port} (bare workerd, state in ${persist})`);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
