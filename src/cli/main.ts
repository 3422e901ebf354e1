import { connect, type EdgeKeeper } from "../client/index.js";
import { parseGlobal, type GlobalOptions } from "./args.js";
import { findCommand, type Context } from "./commands/index.js";
import { helpText } from "./help.js";
import { Exit, makeOutput, UsageError, type Output } from "./output.js";
import { runShell } from "./shell.js";

export const VERSION = "0.1.0";

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Connects and applies --auth; failures exit 3 whatever their code. */
async function open(options: GlobalOptions, out: Output): Promise<EdgeKeeper | number> {
  let zk: EdgeKeeper;
  try {
    zk = await connect(options.url, {
      namespace: options.namespace,
      token: options.token,
      connectTimeout: options.timeout,
      requestTimeout: options.timeout,
      backoff: { baseMs: 100, maxMs: 1000 },
    });
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    err.message = `cannot connect to ${options.url} (namespace ${options.namespace}): ${err.message}`;
    out.error(err);
    return Exit.CONNECTION;
  }
  for (const a of options.auth) {
    const colon = a.indexOf(":");
    try {
      if (colon <= 0) throw new UsageError(`--auth takes scheme:auth, e.g. digest:alice:secret`);
      await zk.addAuth(a.slice(0, colon), a.slice(colon + 1));
    } catch (e) {
      await zk.close().catch(() => {});
      const code = out.error(e);
      return code === Exit.ERROR ? Exit.CONNECTION : code;
    }
  }
  return zk;
}

/** Closes the session, without letting a dead connection hold the exit. */
async function closeQuietly(zk: EdgeKeeper): Promise<void> {
  await Promise.race([zk.close().catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
}

/** The whole CLI: returns the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let options: GlobalOptions;
  let rest: string[];
  try {
    ({ options, rest } = parseGlobal(argv, env));
  } catch (e) {
    return makeOutput(argv.includes("--json")).error(e);
  }
  const out = makeOutput(options.json);
  if (options.version) {
    out.text(VERSION);
    out.result({ version: VERSION });
    return 0;
  }
  if (options.help || rest[0] === "help") {
    process.stdout.write(helpText() + "\n");
    return 0;
  }

  if (rest.length === 0) {
    const zk = await open(options, out);
    if (typeof zk === "number") return zk;
    try {
      return await runShell(zk, out, options.namespace, env);
    } finally {
      await closeQuietly(zk);
    }
  }

  const [verb, ...args] = rest;
  const cmd = findCommand(verb);
  if (cmd?.standalone) {
    try {
      return await cmd.standalone(args, options, out);
    } catch (e) {
      return out.error(e);
    }
  }
  let run: (ctx: Context) => Promise<number>;
  try {
    if (!cmd) throw new UsageError(`unknown verb ${verb}: edgekeeper --help lists them`);
    run = cmd.prepare(args);
  } catch (e) {
    return out.error(e);
  }
  const zk = await open(options, out);
  if (typeof zk === "number") return zk;
  // Ctrl-C / SIGTERM: commands that wait (watches, -w, lock) take it as their cue to finish
  // cleanly by reading ctx.interrupted; any other command is cut short with 130.
  let awaited = false;
  let interrupt!: () => void;
  const interrupted = new Promise<void>((resolve) => (interrupt = resolve));
  const onSignal = () => {
    if (!awaited) process.exit(130);
    interrupt();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const ctx: Context = {
    zk,
    out,
    interactive: false,
    namespace: options.namespace,
    get interrupted() {
      awaited = true;
      return interrupted;
    },
    readStdin,
  };
  try {
    return await run(ctx);
  } catch (e) {
    return out.error(e);
  } finally {
    await closeQuietly(zk);
  }
}
