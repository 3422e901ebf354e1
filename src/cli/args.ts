import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./output.js";

/** Options that apply to every verb, given before or after it. */
export interface GlobalOptions {
  url: string;
  namespace: string;
  token?: string;
  json: boolean;
  /** Connect and per-request timeout (ms). */
  timeout: number;
  /** `scheme:auth` credentials added right after connecting (repeatable), e.g. `digest:alice:secret`. */
  auth: string[];
  help: boolean;
  version: boolean;
}

export const DEFAULT_URL = "http://127.0.0.1:8787";
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Splits argv into the global options and the verb with its own arguments (everything after `--` is left alone). */
export function parseGlobal(argv: string[], env: NodeJS.ProcessEnv = process.env): { options: GlobalOptions; rest: string[] } {
  const options: GlobalOptions = {
    url: env.EDGEKEEPER_URL || DEFAULT_URL,
    namespace: env.EDGEKEEPER_NAMESPACE || "default",
    token: env.EDGEKEEPER_TOKEN || undefined,
    json: false,
    timeout: DEFAULT_TIMEOUT_MS,
    auth: [],
    help: false,
    version: false,
  };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      if (eq > 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case "--url":
        options.url = value();
        break;
      case "--namespace":
      case "-n":
        options.namespace = value();
        break;
      case "--token":
        options.token = value();
        break;
      case "--timeout": {
        const t = Number(value());
        if (!Number.isFinite(t) || t <= 0) throw new UsageError("--timeout takes a positive number of milliseconds");
        options.timeout = t;
        break;
      }
      case "--auth":
        options.auth.push(value());
        break;
      case "--json":
        options.json = true;
        break;
      case "--help":
      case "-h":
        options.help = true;
        break;
      case "--version":
        options.version = true;
        break;
      default:
        rest.push(a);
    }
  }
  try {
    new URL(options.url);
  } catch {
    throw new UsageError(`--url: not a URL: ${options.url}`);
  }
  return { options, rest };
}

type Spec = NonNullable<ParseArgsConfig["options"]>;

/** A verb's own options (zkCli's short flags) and positionals, strictly checked. */
export function parseVerb<O extends Spec>(
  verb: string,
  args: string[],
  spec: O,
  positionals: { min: number; max: number; usage: string },
): { flags: Record<keyof O, string | boolean | undefined>; pos: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options: spec, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${verb}: ${(e as Error).message.split("\n")[0]}\nusage: ${verb} ${positionals.usage}`);
  }
  const pos = parsed.positionals;
  if (pos.length < positionals.min || pos.length > positionals.max) throw new UsageError(`usage: ${verb} ${positionals.usage}`);
  return { flags: parsed.values as unknown as Record<keyof O, string | boolean | undefined>, pos };
}

/** An integer option value, or a usage error. */
export function intOption(verb: string, name: string, value: string | boolean | undefined): number | undefined {
  if (value === undefined || typeof value === "boolean") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`${verb}: -${name} takes an integer, not "${value}"`);
  return n;
}

/** A path argument must be absolute. */
export function checkPath(verb: string, path: string): string {
  if (!path.startsWith("/")) throw new UsageError(`${verb}: paths start with "/": ${path}`);
  return path;
}

/**
 * Splits a shell line into words: whitespace separates, '…' and "…" quote, a backslash escapes
 * the next character (outside single quotes). An unterminated quote runs to the end of the line.
 */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === "\\" && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === "\\" && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}
