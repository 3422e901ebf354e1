import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, type WriteStream } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * End-to-end harness: runs the REAL local server (`wrangler dev` from node_modules) on a free
 * port of 127.0.0.1, with its own persistence directory, and stops it again.
 *
 * - It runs offline and non-interactively: no metrics, no error reports, no `Request.cf`
 *   download, no banner/update check, no interactive session, stdin closed, and a private
 *   dev registry, so it cannot clash with a developer's `npm start` or another run.
 * - wrangler and the workerd processes it spawns are started in their own process group and
 *   stopped as a group, so nothing outlives the test run (there is also a process-exit hook).
 * - It serves a snapshot of the sources taken at start (src/, public/, wrangler.toml, package.json,
 *   tsconfig.json copied into the temp dir, node_modules linked): `wrangler dev` watches its
 *   sources and reloads the Worker — closing every socket — when one changes, so without the
 *   snapshot an edit made while tests run would break them. restart() serves the same snapshot.
 * - Everything the server prints is kept (in memory and in `<tmp>/server.log`) and is put into
 *   the error when startup fails; `logs()` returns it for debugging a failed test.
 *
 * Not vitest-specific, so benchmarks and scripts can use it too. Set EDGEKEEPER_E2E_VERBOSE=1 to
 * echo the server's output, EDGEKEEPER_E2E_KEEP=1 to keep the temp directory after stop().
 */

export interface ServerOptions {
  /** Wrangler vars (`--var KEY:VALUE`), e.g. EDGEKEEPER_SESSION_TIMEOUT_MIN_MS. */
  vars?: Record<string, string>;
  /** How long to wait for GET /healthz to answer (default 60 s). */
  startTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL (default 5 s). */
  stopGraceMs?: number;
}

export interface StopOptions {
  /** SIGTERM (default: graceful, SIGKILL after the grace period) or SIGKILL (a crash). */
  signal?: "SIGTERM" | "SIGKILL";
}

export interface LocalServer {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** The `--persist-to` directory: survives restart(), removed by stop(). */
  readonly persistDir: string;
  /** ws://127.0.0.1:<port>/v1/namespaces/<ns>/ws */
  wsUrl(ns: string): string;
  /** Stops the server for good (idempotent) and removes its temp directory. */
  stop(): Promise<void>;
  /** Stops the process and starts it again on the same port with the same persistence. */
  restart(opts?: StopOptions): Promise<void>;
  /** Everything the server printed so far (stdout and stderr, all starts). */
  logs(): string;
  /** How many times the process has been started (1 after startServer). */
  readonly starts: number;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const LOG_LIMIT = 1 << 20;

/** Process groups still running, killed on process exit whatever happens. */
const live = new Set<number>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const pgid of live) killGroup(pgid, "SIGKILL");
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => {
      for (const pgid of live) killGroup(pgid, "SIGKILL");
      process.kill(process.pid, sig);
    });
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is already gone.
  }
}

/** A free TCP port on 127.0.0.1, found by binding port 0. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolvePort(port) : reject(new Error("no port"))));
    });
  });
}

/** Resolves true when `port` can be bound on 127.0.0.1 again. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => done(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => done(true)));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts `wrangler dev` and resolves once GET /healthz answers. */
export async function startServer(opts: ServerOptions = {}): Promise<LocalServer> {
  if (!existsSync(WRANGLER)) throw new Error(`wrangler is not installed (${WRANGLER}); run npm install`);
  installExitHook();
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  const stopGraceMs = opts.stopGraceMs ?? 5_000;
  const tmp = mkdtempSync(join(tmpdir(), "edgekeeper-e2e-"));
  const persistDir = join(tmp, "state");
  mkdirSync(persistDir);
  const project = join(tmp, "project");
  mkdirSync(project);
  for (const f of ["src", "public", "wrangler.toml", "package.json", "tsconfig.json"])
    if (existsSync(join(ROOT, f))) cpSync(join(ROOT, f), join(project, f), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(project, "node_modules"), "dir");
  const logFile: WriteStream = createWriteStream(join(tmp, "server.log"));
  const verbose = process.env.EDGEKEEPER_E2E_VERBOSE === "1";
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;

  let log = "";
  const append = (text: string) => {
    log += text;
    if (log.length > LOG_LIMIT) log = log.slice(-LOG_LIMIT);
    logFile.write(text);
    if (verbose) process.stderr.write(text);
  };

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let starts = 0;
  let stopped = false;
  /** Keep the temp directory (and server.log) after a failed start, for debugging. */
  let keep = process.env.EDGEKEEPER_E2E_KEEP === "1";

  const args = [
    WRANGLER,
    "dev",
    "--config", join(project, "wrangler.toml"),
    "--ip", "127.0.0.1",
    "--port", String(port),
    "--inspector-ip", "127.0.0.1",
    "--inspector-port", String(inspectorPort),
    "--persist-to", persistDir,
    "--local",
    "--log-level", "info",
    "--show-interactive-dev-session=false",
    // Open (no tokens) unless a test configures a key: tokens then win (docs/security.md).
    ...Object.entries({ EDGEKEEPER_AUTH: "open", ...opts.vars }).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_SEND_ERROR_REPORTS: "false",
    WRANGLER_HIDE_BANNER: "true",
    WRANGLER_NO_SKILLS_UPDATE_PROMPTS: "true",
    // Offline: do not try to download the Request.cf object (a 3 s timeout and a warning).
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    // A private dev registry and log directory: no clash with other wrangler processes.
    WRANGLER_REGISTRY_PATH: join(tmp, "registry"),
    WRANGLER_LOG_PATH: join(tmp, "wrangler-logs"),
    NO_COLOR: "1",
    FORCE_COLOR: "0",
  };

  const launch = async (): Promise<void> => {
    starts++;
    append(`\n===== start #${starts}: ${process.execPath} ${args.join(" ")}\n`);
    // detached: its own process group, so wrangler's workerd children are stopped with it.
    const proc = spawn(process.execPath, args, { cwd: project, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    child = proc;
    if (proc.pid !== undefined) live.add(proc.pid);
    proc.stdout!.setEncoding("utf8").on("data", append);
    proc.stderr!.setEncoding("utf8").on("data", append);
    let exitInfo: string | undefined;
    exited = new Promise<void>((done) => {
      proc.once("exit", (code, signal) => {
        exitInfo = `exit code ${code}, signal ${signal}`;
        append(`\n===== process exited (${exitInfo})\n`);
        // Stragglers (workerd) in its group go too.
        if (proc.pid !== undefined) {
          killGroup(proc.pid, "SIGKILL");
          live.delete(proc.pid);
        }
        done();
      });
      proc.once("error", (e) => {
        exitInfo = `spawn error ${e.message}`;
        append(`\n===== ${exitInfo}\n`);
        done();
      });
    });

    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (exitInfo !== undefined) throw startupError(`wrangler dev exited during startup (${exitInfo})`);
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
        const body = (await res.json().catch(() => null)) as { ok?: boolean; service?: string; code?: string } | null;
        if (res.status === 200 && body?.service === "edgekeeper") return;
        // A server started without a token key answers, refusing everything (secure by default).
        if (res.status === 503 && body?.code === "AUTHFAILED") return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw startupError(`GET ${url}/healthz did not answer within ${startTimeoutMs} ms`);
      await sleep(100);
    }
  };

  const startupError = (why: string) => new Error(`${why}\n--- server output (${join(tmp, "server.log")}) ---\n${log.slice(-20_000)}`);

  const halt = async (signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.pid === undefined) return;
    if (proc.exitCode === null && proc.signalCode === null) {
      killGroup(proc.pid, signal);
      const timedOut = await Promise.race([exited.then(() => false), sleep(stopGraceMs).then(() => true)]);
      if (timedOut) {
        append(`\n===== no exit ${stopGraceMs} ms after ${signal}: SIGKILL\n`);
        killGroup(proc.pid, "SIGKILL");
        await exited;
      }
    }
    await exited;
    // The port must be bindable again before a restart can use it.
    for (let i = 0; i < 100 && !(await portIsFree(port)); i++) await sleep(100);
  };

  const server: LocalServer = {
    url,
    port,
    persistDir,
    wsUrl: (ns: string) => `ws://127.0.0.1:${port}/v1/namespaces/${encodeURIComponent(ns)}/ws`,
    get starts() {
      return starts;
    },
    logs: () => log,
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt("SIGTERM");
      await new Promise<void>((r) => logFile.end(r));
      if (!keep) rmSync(tmp, { recursive: true, force: true });
    },
    async restart(stopOpts: StopOptions = {}) {
      if (stopped) throw new Error("server was stopped");
      await halt(stopOpts.signal ?? "SIGTERM");
      try {
        await launch();
      } catch (e) {
        keep = true;
        await server.stop();
        throw e;
      }
    },
  };

  try {
    await launch();
  } catch (e) {
    keep = true;
    await server.stop();
    throw e;
  }
  return server;
}
