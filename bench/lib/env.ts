import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, fdatasyncSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { availableParallelism, release, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The project root: the nearest directory above this file with edgekeeper's package.json. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).name === "edgekeeper") return dir;
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

const read = (f: string) => {
  try {
    return readFileSync(f, "utf8");
  } catch {
    return "";
  }
};

export function packageVersion(root: string, name: string): string | undefined {
  const text = read(join(root, "node_modules", name, "package.json"));
  return text ? (JSON.parse(text).version as string) : undefined;
}

function git(root: string, args: string[]): string | undefined {
  try {
    return execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

/** A hash of every file under src/ (names and contents): which code was measured, committed or not. */
export function srcHash(root: string): string {
  const h = createHash("sha256");
  const files = (readdirSync(join(root, "src"), { recursive: true }) as string[]).filter((f) => !f.endsWith("/")).sort();
  for (const f of files) {
    try {
      const data = readFileSync(join(root, "src", f));
      h.update(f).update("\0").update(data).update("\0");
    } catch {
      // a directory
    }
  }
  return h.digest("hex").slice(0, 12);
}

export function edgekeeperVersion(root: string): string {
  const version = JSON.parse(read(join(root, "package.json"))).version;
  const rev = git(root, ["rev-parse", "--short", "HEAD"]);
  const dirty = git(root, ["status", "--porcelain", "--", "src"]);
  return `${version}${rev ? ` (git ${rev}${dirty ? ", src/ has uncommitted changes" : ""})` : ""}, src/ hash ${srcHash(root)}`;
}

/** The filesystem that holds `path` (longest mount-point prefix in /proc/mounts). */
function filesystemOf(path: string): string {
  let best = { mnt: "", desc: "unknown" };
  for (const line of read("/proc/mounts").split("\n")) {
    const [dev, mnt, type] = line.split(" ");
    if (!mnt) continue;
    if ((path === mnt || path.startsWith(mnt.endsWith("/") ? mnt : mnt + "/")) && mnt.length > best.mnt.length) best = { mnt, desc: `${type} (${dev} on ${mnt})` };
  }
  return best.desc;
}

/** Latency of a 4 KiB write + fdatasync in the temp dir (where both servers keep their data). */
export function fsyncProbe(n = 200): { p50Us: number; p99Us: number } {
  const dir = mkdtempSync(join(tmpdir(), "edgekeeper-bench-fsync-"));
  const fd = openSync(join(dir, "probe"), "w");
  const buf = Buffer.alloc(4096, 1);
  const lat: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      writeSync(fd, buf, 0, buf.length, (i % 16) * 4096);
      fdatasyncSync(fd);
      lat.push((performance.now() - t) * 1000);
    }
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  lat.sort((a, b) => a - b);
  return { p50Us: Math.round(lat[Math.floor(n * 0.5)]), p99Us: Math.round(lat[Math.floor(n * 0.99)]) };
}

export function machineInfo(): Record<string, unknown> {
  const cpuinfo = read("/proc/cpuinfo");
  const meminfo = read("/proc/meminfo");
  const memKb = Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? 0);
  const osName = /PRETTY_NAME="([^"]+)"/.exec(read("/etc/os-release"))?.[1];
  return {
    nproc: availableParallelism(),
    cpuModel: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    memTotalMiB: Math.round(memKb / 1024),
    kernel: release(),
    os: osName ?? "unknown",
    tmpFs: filesystemOf(tmpdir()),
    fsync4k: fsyncProbe(),
  };
}
