/**
 * A strict reader of the Prometheus text exposition format 0.0.4, for tests: it throws on
 * anything a Prometheus server would reject or that the format discourages (a sample before its
 * family's TYPE, a family split in two, a bad escape, a duplicate series, a sample name that
 * does not belong to its family's type).
 */

export interface PromSample {
  /** The sample's full name (a summary's `_sum`, `_count` included). */
  name: string;
  /** The family it belongs to. */
  family: string;
  labels: Record<string, string>;
  value: number;
}

export interface Parsed {
  types: Record<string, string>;
  help: Record<string, string>;
  samples: PromSample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const TYPES = new Set(["counter", "gauge", "summary", "histogram", "untyped"]);
const SUFFIXES: Record<string, string[]> = { summary: ["", "_sum", "_count"], histogram: ["_bucket", "_sum", "_count"] };

function parseValue(raw: string, line: string): number {
  if (raw === "NaN") return NaN;
  if (raw === "+Inf" || raw === "Inf") return Infinity;
  if (raw === "-Inf") return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) throw new Error(`bad value ${raw} in: ${line}`);
  return Number(raw);
}

function unescape(s: string, allowQuote: boolean, line: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    if (c === '"' && allowQuote) return '"';
    throw new Error(`bad escape \\${c} in: ${line}`);
  });
}

function parseLabels(raw: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\\n]|\\.)*)"\s*(,|$)/y;
  let at = 0;
  while (at < raw.length) {
    re.lastIndex = at;
    const m = re.exec(raw);
    if (!m) throw new Error(`bad labels {${raw}} in: ${line}`);
    if (m[1] in labels) throw new Error(`duplicate label ${m[1]} in: ${line}`);
    if (m[1].startsWith("__")) throw new Error(`reserved label ${m[1]} in: ${line}`);
    labels[m[1]] = unescape(m[2], true, line);
    at = re.lastIndex;
  }
  return labels;
}

export function parsePrometheus(text: string): Parsed {
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a newline");
  const types: Record<string, string> = {};
  const help: Record<string, string> = {};
  const samples: PromSample[] = [];
  const done = new Set<string>();
  const series = new Set<string>();
  let current: string | undefined;
  const enter = (family: string, line: string) => {
    if (current === family) return;
    if (done.has(family)) throw new Error(`family ${family} is split: ${line}`);
    if (current) done.add(current);
    current = family;
  };
  for (const line of text.slice(0, -1).split("\n")) {
    if (line === "") continue;
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line))) {
      enter(m[1], line);
      if (m[1] in help) throw new Error(`second HELP: ${line}`);
      if (samples.some((s) => s.family === m![1])) throw new Error(`HELP after samples: ${line}`);
      help[m[1]] = unescape(m[2], false, line);
    } else if ((m = new RegExp(`^# TYPE (${NAME}) (\\w+)$`).exec(line))) {
      enter(m[1], line);
      if (m[1] in types) throw new Error(`second TYPE: ${line}`);
      if (!TYPES.has(m[2])) throw new Error(`bad type: ${line}`);
      if (samples.some((s) => s.family === m![1])) throw new Error(`TYPE after samples: ${line}`);
      types[m[1]] = m[2];
    } else if (line.startsWith("#")) {
      continue;
    } else if ((m = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`).exec(line))) {
      const name = m[1];
      const family = Object.keys(types).find((f) => (SUFFIXES[types[f]] ?? [""]).some((s) => f + s === name));
      if (!family) throw new Error(`sample without a TYPE'd family: ${line}`);
      enter(family, line);
      const labels = m[2] === undefined ? {} : parseLabels(m[2], line);
      const key = name + JSON.stringify(Object.entries(labels).sort());
      if (series.has(key)) throw new Error(`duplicate series: ${line}`);
      series.add(key);
      if (types[family] === "summary" && name === family && !("quantile" in labels)) throw new Error(`summary sample without quantile: ${line}`);
      samples.push({ name, family, labels, value: parseValue(m[3], line) });
    } else {
      throw new Error(`not a Prometheus line: ${JSON.stringify(line)}`);
    }
  }
  return { types, help, samples };
}

/** The value of one sample, by name and labels (a subset of its labels); throws unless exactly one matches. */
export function sampleValue(p: Parsed, name: string, labels: Record<string, string> = {}): number {
  const hits = p.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length !== 1) throw new Error(`${hits.length} samples match ${name} ${JSON.stringify(labels)}`);
  return hits[0].value;
}
