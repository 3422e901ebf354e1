import { appendFileSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { EdgeKeeper } from "../client/index.js";
import { splitWords } from "./args.js";
import { commands, findCommand, type Context } from "./commands/index.js";
import { helpText } from "./help.js";
import { UsageError, type Output } from "./output.js";

/** The history file: EDGEKEEPER_HISTORY, else ~/.edgekeeper_history. */
export const historyPath = (env: NodeJS.ProcessEnv = process.env): string => env.EDGEKEEPER_HISTORY || join(homedir(), ".edgekeeper_history");
const HISTORY_SIZE = 1000;

/** The last lines of the history file, newest first (readline's order). */
export function loadHistory(file: string): string[] {
  try {
    return readFileSync(file, "utf8").split("\n").filter(Boolean).slice(-HISTORY_SIZE).reverse();
  } catch {
    return [];
  }
}

export function appendHistory(file: string, line: string): void {
  try {
    appendFileSync(file, line + "\n", { mode: 0o600 });
  } catch {
    // History is a convenience: an unwritable file is no reason to fail.
  }
}

const SHELL_WORDS = ["help", "quit", "exit"];

/**
 * Tab completion: the verb for the first word, and for a word starting with `/` the children
 * of the node being typed (`/app/co` → the children of /app starting with `co`). Returns
 * readline's `[completions, the word they replace]`.
 */
export async function complete(zk: Pick<EdgeKeeper, "getChildren">, line: string): Promise<[string[], string]> {
  const m = /(\S*)$/.exec(line)!;
  const word = m[1];
  const before = line.slice(0, line.length - word.length);
  if (before.trim() === "") {
    const verbs = [...commands.map((c) => c.name), ...SHELL_WORDS].filter((v) => v.toLowerCase().startsWith(word.toLowerCase())).sort();
    return [verbs.map((v) => v + " "), word];
  }
  if (word === "") return [["/"], word];
  if (!word.startsWith("/")) return [[], word];
  const slash = word.lastIndexOf("/");
  const parent = slash === 0 ? "/" : word.slice(0, slash);
  const prefix = word.slice(slash + 1);
  let children: string[];
  try {
    children = await zk.getChildren(parent, { timeout: 3000 });
  } catch {
    return [[], word];
  }
  const base = parent === "/" ? "/" : parent + "/";
  return [children.filter((c) => c.startsWith(prefix)).map((c) => base + c), word];
}

/**
 * The interactive shell: every verb, plus help and quit. Prompts, line editing and tab
 * completion when stdin is a terminal; commands one per line when it is piped (then the exit
 * code is the last command's). Lines go to the history file either way.
 */
export async function runShell(zk: EdgeKeeper, out: Output, namespace: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const terminal = !!process.stdin.isTTY;
  const file = historyPath(env);
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal,
    history: loadHistory(file),
    historySize: HISTORY_SIZE,
    prompt: `edgekeeper:${namespace}> `,
    completer: (line: string, cb: (err: null, result: [string[], string]) => void) => {
      void complete(zk, line).then((r) => cb(null, r));
    },
  });
  const ctx: Context = { zk, out, interactive: true, namespace, interrupted: new Promise<void>(() => {}) };
  let last = 0;
  if (terminal) {
    out.text(`Connected to namespace ${namespace} (session ${zk.sessionId}). Type help for the verbs, quit to leave.`);
    // Ctrl-C drops the line being typed; on an empty line it leaves, like Ctrl-D.
    rl.on("SIGINT", () => {
      if (rl.line === "") return rl.close();
      rl.write(null, { ctrl: true, name: "e" });
      rl.write(null, { ctrl: true, name: "u" });
      process.stdout.write("^C\n");
      rl.prompt();
    });
    rl.prompt();
  }
  const off = zk.onState((s) => {
    if (terminal && s !== "connected") out.text(`[${s}]`);
  });
  for await (const line of rl) {
    const words = splitWords(line);
    if (words.length > 0) {
      appendHistory(file, line);
      const [verb, ...args] = words;
      if (verb === "quit" || verb === "exit") {
        last = 0;
        break;
      }
      if (verb === "help") {
        out.text(helpText(true));
        last = 0;
      } else {
        const cmd = findCommand(verb);
        if (!cmd) {
          last = out.error(new UsageError(`unknown command ${verb}: type help for the list`));
        } else {
          try {
            last = await cmd.prepare(args)(ctx);
          } catch (e) {
            last = out.error(e);
          }
        }
      }
    }
    if (terminal) rl.prompt();
  }
  off();
  rl.close();
  return last;
}
