import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../test/e2e/server.js";

/**
 * A standalone Apache ZooKeeper 3.8 from Debian's `zookeeper` package, started for the
 * benchmark on a free port of 127.0.0.1 with a fresh data directory, ZooKeeper's defaults
 * (tickTime 2000, forceSync=yes: every transaction-log write is fsynced before the
 * acknowledgement), no connection limit (maxClientCnxns=0) and the AdminServer off.
 */

const JAVA_DIR = "/usr/share/java";
const ZK_JAR = join(JAVA_DIR, "zookeeper.jar");
/** Its manifest's Class-Path names the other jars; slf4j-simple is the logging backend. */
const CLASSPATH = [ZK_JAR, join(JAVA_DIR, "slf4j-simple.jar")];
/** As zkServer.sh: ZK_SERVER_HEAP defaults to 1000 MB. */
const HEAP = "-Xmx1000m";

export interface ZooKeeperServer {
  readonly port: number;
  readonly pid: number;
  readonly connectString: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** "3.8.0-…" from the `srvr` four-letter command. */
  readonly version: string;
  readonly command: string;
  readonly config: string;
  stop(): Promise<void>;
}

/** Installs Debian's zookeeper package if its jar is missing (needs root and the Debian mirror). */
export function ensureZooKeeperInstalled(log: (s: string) => void): void {
  if (existsSync(ZK_JAR) && existsSync(join(JAVA_DIR, "slf4j-simple.jar"))) return;
  if (process.getuid?.() !== 0)
    throw new Error(`${ZK_JAR} is missing: install Debian's ZooKeeper first (as root: apt-get update && apt-get install -y zookeeper)`);
  log("ZooKeeper is not installed: apt-get update && apt-get install -y zookeeper …");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update"], ["install", "-y", "zookeeper", "libslf4j-java"]]) {
    const r = spawnSync("apt-get", args, { env, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  if (!existsSync(ZK_JAR)) throw new Error(`apt-get installed zookeeper but ${ZK_JAR} is still missing`);
}

/** Debian package version of zookeeper, e.g. "3.8.0-11+deb12u2". */
export function debianPackageVersion(): string | undefined {
  try {
    return execFileSync("dpkg-query", ["-W", "-f=${Version}", "zookeeper"], { encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
}

export function javaVersion(): string | undefined {
  const r = spawnSync("java", ["-version"], { encoding: "utf8" });
  return r.stderr?.split("\n")[0]?.trim() || undefined;
}

/** Sends a four-letter command and returns the answer. */
export function fourLetter(port: number, cmd: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tcpConnect({ host: "127.0.0.1", port });
    let out = "";
    const t = setTimeout(() => (sock.destroy(), reject(new Error(`${cmd}: timeout`))), timeoutMs);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write(cmd));
    sock.on("data", (d) => (out += d));
    sock.on("error", (e) => (clearTimeout(t), reject(e)));
    sock.on("close", () => (clearTimeout(t), resolve(out)));
  });
}

/** Running ZooKeepers: process group → temp dir. */
const live = new Map<number, string>();

/** Blocks until none of `pids` exists any more (or `ms` passed): for signal handlers. */
export function waitGoneSync(pids: number[], ms = 2000): void {
  const deadline = Date.now() + ms;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (Date.now() < deadline && pids.some((p) => existsSync(`/proc/${p}`))) Atomics.wait(cell, 0, 0, 20);
}
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once("exit", () => killAllZooKeepers());
}

/** Kills every ZooKeeper this process started and removes its temp dir, synchronously (for signal and exit handlers). */
export function killAllZooKeepers(): void {
  for (const pgid of live.keys()) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // gone
    }
  }
  waitGoneSync([...live.keys()]);
  if (process.env.EDGEKEEPER_BENCH_KEEP !== "1") for (const dir of live.values()) rmSync(dir, { recursive: true, force: true });
  live.clear();
}

export async function startZooKeeper(opts: { extendedTypes?: boolean; startTimeoutMs?: number } = {}): Promise<ZooKeeperServer> {
  hookExit();
  const tmp = mkdtempSync(join(tmpdir(), "edgekeeper-bench-zk-"));
  const dataDir = join(tmp, "data");
  mkdirSync(dataDir);
  const port = await freePort();
  const config = [
    "tickTime=2000",
    `dataDir=${dataDir}`,
    `clientPort=${port}`,
    "clientPortAddress=127.0.0.1",
    "maxClientCnxns=0",
    "admin.enableServer=false",
    "4lw.commands.whitelist=srvr,ruok,mntr,conf",
    "",
  ].join("\n");
  const cfgFile = join(tmp, "zoo.cfg");
  writeFileSync(cfgFile, config);
  const logFile = join(tmp, "zookeeper.log");
  const fd = openSync(logFile, "a");
  const args = [
    HEAP,
    "-cp",
    CLASSPATH.join(":"),
    ...(opts.extendedTypes ? ["-Dzookeeper.extendedTypesEnabled=true"] : []),
    "org.apache.zookeeper.server.quorum.QuorumPeerMain",
    cfgFile,
  ];
  const command = `java ${args.join(" ")}`;
  // Its own process group, output straight to a file (not through this process).
  const proc: ChildProcess = spawn("java", args, { cwd: tmp, stdio: ["ignore", fd, fd], detached: true });
  closeSync(fd);
  if (proc.pid === undefined) throw new Error("could not start java");
  const pid = proc.pid;
  live.set(pid, tmp);
  let exited = false;
  const exitedP = new Promise<void>((r) => proc.once("exit", () => ((exited = true), r())));

  const stop = async () => {
    if (!live.has(pid)) return;
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      // gone
    }
    await Promise.race([exitedP, new Promise((r) => setTimeout(r, 5000))]);
    if (!exited) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // gone
      }
      await exitedP;
    }
    live.delete(pid);
    if (process.env.EDGEKEEPER_BENCH_KEEP !== "1") rmSync(tmp, { recursive: true, force: true });
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  let version = "";
  for (;;) {
    if (exited) {
      const log = readFileSync(logFile, "utf8").slice(-5000);
      live.delete(pid);
      throw new Error(`ZooKeeper exited during startup; ${logFile}:\n${log}`);
    }
    try {
      const srvr = await fourLetter(port, "srvr");
      const m = /Zookeeper version: ([^,\n]+)/.exec(srvr);
      if (m && /Mode: standalone/.test(srvr)) {
        version = m[1].replace("-${mvngit.commit.id}", "");
        break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`ZooKeeper did not answer srvr on port ${port} in time; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { port, pid, connectString: `127.0.0.1:${port}`, dataDir, logFile, version, command, config, stop };
}
