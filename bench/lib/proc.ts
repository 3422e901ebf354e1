import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/**
 * Process accounting from /proc (Linux): CPU time (utime + stime) and resident memory of a
 * process tree, sampled while a workload runs.
 */

let clkTck = 0;
/** Clock ticks per second for /proc/<pid>/stat times (almost always 100). */
export function clockTicks(): number {
  if (clkTck) return clkTck;
  try {
    clkTck = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    clkTck = 100;
  }
  return clkTck;
}

let pageSize = 0;
function pageBytes(): number {
  if (pageSize) return pageSize;
  try {
    pageSize = Number(execFileSync("getconf", ["PAGESIZE"], { encoding: "utf8" }).trim()) || 4096;
  } catch {
    pageSize = 4096;
  }
  return pageSize;
}

export interface ProcStat {
  pid: number;
  ppid: number;
  /** The command name (comm), e.g. "workerd", "node", "java". */
  name: string;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
  rssBytes: number;
}

/** One process's stat line, or undefined if it is gone. */
export function readProc(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The name is in parentheses and may itself contain spaces or parentheses.
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  const name = text.slice(open + 1, close);
  const f = text.slice(close + 2).split(" ");
  // f[0] is field 3 (state): field n is f[n - 3].
  return {
    pid,
    ppid: Number(f[1]),
    name,
    cpuTicks: Number(f[11]) + Number(f[12]),
    rssBytes: Number(f[21]) * pageBytes(),
  };
}

/** Every process on the machine. */
export function allProcs(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const d of readdirSync("/proc")) {
    if (d.charCodeAt(0) < 48 || d.charCodeAt(0) > 57) continue;
    const p = readProc(Number(d));
    if (p) out.push(p);
  }
  return out;
}

/** `root` and all its descendants. */
export function processTree(root: number, procs: ProcStat[] = allProcs()): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  let rootStat: ProcStat | undefined;
  for (const p of procs) {
    if (p.pid === root) rootStat = p;
    let list = children.get(p.ppid);
    if (!list) children.set(p.ppid, (list = []));
    list.push(p);
  }
  if (!rootStat) return [];
  const out: ProcStat[] = [];
  const stack = [rootStat];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p.pid) ?? []));
  }
  return out;
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

export interface UsageReport {
  /** CPU time of the whole tree over the window, as % of one core. */
  cpuPct: number;
  /** The same, per process name (e.g. {workerd: 80, node: 12}). */
  cpuPctByName: Record<string, number>;
  /** Max over the samples of the summed RSS of the processes counted as "the server" (MiB). */
  rssMaxMiB: number;
  /** Max summed RSS of the whole tree (MiB). */
  treeRssMaxMiB: number;
  /** Processes seen in the tree, by name. */
  processes: Record<string, number>;
  samples: number;
}

/**
 * Samples a process tree while a workload runs: CPU ticks at the start and the end (a
 * process that exits mid-window counts up to its last sample), RSS every `intervalMs`.
 */
export class TreeSampler {
  private first = new Map<number, number>();
  private last = new Map<number, ProcStat>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private t0 = 0;
  private rssMax = 0;
  private treeRssMax = 0;
  private samples = 0;

  /**
   * @param root the tree's root pid
   * @param countsForRss which processes make up the server's memory (default: all)
   */
  constructor(
    private readonly root: number,
    private readonly countsForRss: (p: ProcStat) => boolean = () => true,
    /** How a process is named in the per-process breakdown (default: its comm). */
    private readonly label: (p: ProcStat) => string = (p) => p.name,
    private readonly intervalMs = 250,
  ) {}

  private sample(): void {
    const tree = processTree(this.root);
    let rss = 0;
    let treeRss = 0;
    for (const p of tree) {
      this.last.set(p.pid, p);
      treeRss += p.rssBytes;
      if (this.countsForRss(p)) rss += p.rssBytes;
    }
    this.rssMax = Math.max(this.rssMax, rss);
    this.treeRssMax = Math.max(this.treeRssMax, treeRss);
    this.samples++;
  }

  start(): void {
    this.first.clear();
    this.last.clear();
    this.rssMax = this.treeRssMax = this.samples = 0;
    for (const p of processTree(this.root)) this.first.set(p.pid, p.cpuTicks);
    this.t0 = performance.now();
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): UsageReport {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    const seconds = (performance.now() - this.t0) / 1000;
    const hz = clockTicks();
    const byName: Record<string, number> = {};
    const processes: Record<string, number> = {};
    let total = 0;
    for (const p of this.last.values()) {
      const ticks = p.cpuTicks - (this.first.get(p.pid) ?? 0);
      const pct = seconds > 0 ? (ticks / hz / seconds) * 100 : 0;
      total += pct;
      const name = this.label(p);
      byName[name] = (byName[name] ?? 0) + pct;
      processes[name] = (processes[name] ?? 0) + 1;
    }
    for (const k of Object.keys(byName)) byName[k] = round1(byName[k]);
    const mib = (b: number) => round1(b / 1048576);
    return { cpuPct: round1(total), cpuPctByName: byName, rssMaxMiB: mib(this.rssMax), treeRssMaxMiB: mib(this.treeRssMax), processes, samples: this.samples };
  }
}

export const round1 = (x: number) => Math.round(x * 10) / 10;

/** Busy and steal time of the whole machine, from /proc/stat (clock ticks). */
export function machineTicks(): { busy: number; steal: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
  const [user, nice, system, , , irq, softirq, steal] = f;
  return { busy: user + nice + system + irq + softirq, steal: steal ?? 0 };
}

/** The pid of the process listening on 127.0.0.1:`port` (or any address), from /proc/net/tcp{,6}. */
export function pidListeningOn(port: number): number | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address rem_address st … inode (column 9)
      if (cols.length > 9 && cols[1].endsWith(`:${hexPort}`) && cols[3] === "0A") inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${d}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${d}/fd/${fd}`));
        if (m && inodes.has(m[1])) return Number(d);
      } catch {
        // gone
      }
    }
  }
  return undefined;
}
