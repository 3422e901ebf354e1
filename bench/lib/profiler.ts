import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * A V8 CPU profile of the Worker (and its Durable Objects) inside `wrangler dev`'s workerd,
 * taken through wrangler's inspector proxy (the Chrome DevTools protocol, as the DevTools
 * "Profiler" tab does). Used by `--profile` to show where the server's time goes.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  /** Source file (from the bundle's `// src/…` markers) or "(native)". */
  file: string;
  ms: number;
  /** % of the non-idle time. */
  pct: number;
}

export interface ProfileSummary {
  /** Profiled wall time (ms). */
  totalMs: number;
  /** Time the isolate was idle (ms): waiting for I/O, the storage commit, the next message. */
  idleMs: number;
  /** Self time by function, highest first (idle excluded). */
  top: ProfileEntry[];
  /** Self time by source file, highest first (idle excluded). */
  byFile: Array<{ file: string; ms: number; pct: number }>;
  /** Native (runtime built-in) self time by the JS function that called it: which code the SQL time belongs to. */
  nativeByCaller: ProfileEntry[];
  file?: string;
}

/** One DevTools-protocol connection to wrangler's inspector proxy (it accepts one client at a time). */
export class WorkerProfiler {
  private nextId = 1_000_000_000; // the proxy sends its own small ids to the runtime
  private readonly waiting = new Map<number, { ok: (v: any) => void; fail: (e: Error) => void }>();

  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener("message", (e) => {
      const m = JSON.parse(String(e.data));
      const w = typeof m.id === "number" ? this.waiting.get(m.id) : undefined;
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.error) w.fail(new Error(`${m.error.message ?? "inspector error"}`));
      else w.ok(m.result);
    });
    ws.addEventListener("close", () => {
      for (const w of this.waiting.values()) w.fail(new Error("inspector connection closed"));
      this.waiting.clear();
    });
  }

  static async connect(inspectorPort: number): Promise<WorkerProfiler> {
    // Node's WebSocket (undici) takes headers; the proxy insists on a local Origin.
    const Ctor = WebSocket as unknown as new (url: string, init: { headers: Record<string, string> }) => WebSocket;
    const ws = new Ctor(`ws://127.0.0.1:${inspectorPort}/ws`, { headers: { Origin: "http://127.0.0.1" } });
    await new Promise<void>((ok, fail) => {
      ws.addEventListener("open", () => ok(), { once: true });
      ws.addEventListener("error", () => fail(new Error(`cannot open the inspector on port ${inspectorPort}`)), { once: true });
    });
    const p = new WorkerProfiler(ws);
    await p.call("Profiler.enable");
    return p;
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<any> {
    return new Promise((ok, fail) => {
      const id = this.nextId++;
      const t = setTimeout(() => (this.waiting.delete(id), fail(new Error(`${method}: no answer from the inspector`))), 30_000);
      this.waiting.set(id, { ok: (v) => (clearTimeout(t), ok(v)), fail: (e) => (clearTimeout(t), fail(e)) });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async start(intervalUs = 250): Promise<void> {
    await this.call("Profiler.setSamplingInterval", { interval: intervalUs });
    await this.call("Profiler.start");
  }

  async stop(): Promise<CpuProfile> {
    return (await this.call("Profiler.stop")).profile as CpuProfile;
  }

  close(): void {
    try {
      this.ws.close();
    } catch {
      // ignore
    }
  }
}

/** The bundle `wrangler dev` serves (for mapping line numbers to source files), if found. */
export function findDevBundle(projectDir: string): string | undefined {
  const tmp = join(projectDir, ".wrangler", "tmp");
  if (!existsSync(tmp)) return undefined;
  const dirs = readdirSync(tmp)
    .map((d) => join(tmp, d, "index.js"))
    .filter((f) => existsSync(f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return dirs[0];
}

/** Line → source file, from esbuild's `// src/…` comments that open each module in a bundle. */
function fileMarkers(bundle: string | undefined): Array<[number, string]> {
  if (!bundle) return [];
  const out: Array<[number, string]> = [];
  readFileSync(bundle, "utf8")
    .split("\n")
    .forEach((line, i) => {
      const m = /^\/\/ ((?:src|node_modules|\.\.\/)\S*\.[cm]?[jt]s)$/.exec(line);
      if (m) out.push([i, m[1].replace(/^.*node_modules\//, "node_modules/")]);
    });
  return out;
}

export function summarizeProfile(profile: CpuProfile, bundle?: string, topN = 25): ProfileSummary {
  const markers = fileMarkers(bundle);
  const fileOf = (cf: CallFrame): string => {
    if (!cf.url) return "(native)";
    if (!cf.url.endsWith("index.js") || markers.length === 0) return cf.url.split("/").slice(-2).join("/");
    let lo = 0;
    let hi = markers.length - 1;
    let best = "(bundle prelude)";
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (markers[mid][0] <= cf.lineNumber) {
        best = markers[mid][1];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const callers = new Map<string, ProfileEntry>();
  const selfUs = new Map<number, number>();
  profile.samples.forEach((s, i) => selfUs.set(s, (selfUs.get(s) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  let total = 0;
  let idle = 0;
  const fn = new Map<string, ProfileEntry>();
  const files = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    total += us;
    const cf = n.callFrame;
    if (cf.functionName === "(idle)") {
      idle += us;
      continue;
    }
    const file = cf.functionName.startsWith("(") ? "(v8)" : fileOf(cf);
    const name = cf.functionName || `(anonymous):${cf.lineNumber + 1}`;
    const key = `${name}\u0000${file}`;
    const e = fn.get(key) ?? { name, file, ms: 0, pct: 0 };
    e.ms += us / 1000;
    fn.set(key, e);
    files.set(file, (files.get(file) ?? 0) + us / 1000);
    if (file === "(native)") {
      // The nearest two JS ancestors (skipping other built-ins): the code that asked for it.
      const chain: CallFrame[] = [];
      let up = parent.get(id);
      while (up !== undefined && chain.length < 2) {
        const f = byId.get(up)!.callFrame;
        if (f.url) chain.push(f);
        up = parent.get(up);
      }
      const label = (f: CallFrame) => f.functionName || `(anonymous):${f.lineNumber + 1}`;
      const cname = [cf.functionName || "(anonymous)", ...chain.map(label)].join(" ← ");
      const cfile = chain.length ? chain.map(fileOf).filter((f, i, a) => a.indexOf(f) === i).join(" ← ") : "(native)";
      const ckey = `${cname}\u0000${cfile}`;
      const ce = callers.get(ckey) ?? { name: cname, file: cfile, ms: 0, pct: 0 };
      ce.ms += us / 1000;
      callers.set(ckey, ce);
    }
  }
  const busy = (total - idle) / 1000;
  const r2 = (x: number) => Math.round(x * 100) / 100;
  const top = [...fn.values()]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, topN)
    .map((e) => ({ ...e, ms: r2(e.ms), pct: r2((e.ms / busy) * 100) }));
  const byFile = [...files]
    .sort((a, b) => b[1] - a[1])
    .map(([file, ms]) => ({ file, ms: r2(ms), pct: r2((ms / busy) * 100) }));
  const nativeByCaller = [...callers.values()]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, topN)
    .map((e) => ({ ...e, ms: r2(e.ms), pct: r2((e.ms / busy) * 100) }));
  return { totalMs: r2(total / 1000), idleMs: r2(idle / 1000), top, byFile, nativeByCaller };
}
