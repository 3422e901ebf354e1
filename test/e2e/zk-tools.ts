import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** What the ZooKeeper compatibility tests (zk-tunnel, zk-conformance) run besides the servers: kazoo, zkCli.sh, child processes. */

export const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh";

/** Installs Debian's python3-kazoo when it is missing (as .ci/run does), if we are root. */
export function ensureKazoo(): void {
  if (spawnSync(PYTHON, ["-c", "import kazoo"]).status === 0) return;
  if (process.getuid?.() !== 0) throw new Error("python3-kazoo is missing: apt-get install -y python3-kazoo");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update"], ["install", "-y", "python3-kazoo"]]) {
    const r = spawnSync("apt-get", args, { env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed: ${r.stderr}`);
  }
}

/** Runs a child to its end without blocking this process (the tunnel runs in it). */
export function run(cmd: string, args: string[], input = "", timeoutMs = 90_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const p = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ZOO_LOG_DIR: "/tmp" } });
    let stdout = "";
    let stderr = "";
    const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    p.on("close", (code) => (clearTimeout(t), done({ code, stdout, stderr })));
    p.stdin.end(input);
  });
}

/** zkCli.sh's basic verbs, fed on standard input; its answers without the log lines. */
export async function zkCli(server: string, base: string): Promise<string[]> {
  const script = [
    `create ${base} hello`,
    `get ${base}`,
    `set ${base} world`,
    `get -s ${base}`,
    `create -e ${base}/eph e`,
    `create -s ${base}/seq- s`,
    `create -s ${base}/seq- s`,
    `ls ${base}`,
    `ls -s ${base}`,
    `stat ${base}/eph`,
    `set -v 7 ${base} stale`,
    `delete ${base}/nope`,
    `create ${base} again`,
    `delete ${base}`,
    `getAcl ${base}`,
    `deleteall ${base}`,
    `stat ${base}`,
    "quit",
    "",
  ].join("\n");
  const r = await run(ZKCLI, ["-server", server], script);
  // Results go to stdout, errors and "Created …" to stderr: each kept in its order.
  const lines = (s: string) =>
    s
      .split("\n")
      .map((l) => l.trimEnd())
      .filter((l) => l && !/^\d{4}-\d\d-\d\d |^SLF4J|^WATCHER::|^WatchedEvent state:(SyncConnected|Closed) type:None|^Welcome to ZooKeeper|^JLine support|^Connecting to /.test(l));
  return [...lines(r.stdout), "--- stderr", ...lines(r.stderr)];
}

/** zkCli output with times and zxids masked, so two servers' answers compare. */
export const mask = (lines: string[]) => lines.map((l) => l.replace(/^(ctime|mtime) = .*/, "$1 = T").replace(/^(cZxid|mZxid|pZxid|ephemeralOwner) = 0x[0-9a-f]+/, "$1 = X"));
