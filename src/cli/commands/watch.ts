import { checkPath, intOption, parseVerb } from "../args.js";
import { UsageError } from "../output.js";
import { finalState, printEvent, type Command, type Context } from "./context.js";
import { Exit } from "../output.js";

/**
 * A persistent watch. In the shell, events print as they arrive and the prompt comes back; in
 * one-shot mode the command streams them until interrupted (exit 0), until `count` events
 * (exit 0), or until the session ends (exit 3).
 */
async function stream(ctx: Context, path: string, recursive: boolean, count: number | undefined): Promise<number> {
  let seen = 0;
  let enough!: () => void;
  const done = new Promise<void>((r) => (enough = r));
  await ctx.zk.addWatch(
    path,
    (e) => {
      if (count !== undefined && seen >= count) return;
      printEvent(ctx, e);
      if (count !== undefined && ++seen >= count) enough();
    },
    { recursive },
  );
  const mode = recursive ? "persistent_recursive" : "persistent";
  ctx.out.result({ watching: path, mode });
  if (ctx.interactive) {
    ctx.out.text(`watching ${path} (${mode})`);
    return 0;
  }
  if (!ctx.out.json) process.stderr.write(`watching ${path} (${mode}); Ctrl-C to stop\n`);
  if (count === 0) return 0;
  const why = await Promise.race([done.then(() => "count"), ctx.interrupted.then(() => "interrupted"), finalState(ctx).then(() => "ended")]);
  if (why === "ended") {
    ctx.out.error(new Error(`the session ended (${ctx.zk.state})`));
    return Exit.CONNECTION;
  }
  return 0;
}

const addWatch: Command = {
  name: "addWatch",
  usage: "[-m mode] [-c count] path",
  summary: "a persistent watch; mode persistent or persistent_recursive (default); streams events until Ctrl-C",
  prepare(args) {
    const { flags, pos } = parseVerb("addWatch", args, { m: { type: "string", short: "m" }, c: { type: "string", short: "c" } }, { min: 1, max: 1, usage: this.usage });
    const path = checkPath("addWatch", pos[0]);
    const mode = String(flags.m ?? "persistent_recursive").toLowerCase().replace(/-/g, "_");
    if (mode !== "persistent" && mode !== "persistent_recursive") throw new UsageError(`addWatch: -m is persistent or persistent_recursive, not ${flags.m}`);
    const count = intOption("addWatch", "c", flags.c);
    return (ctx) => stream(ctx, path, mode === "persistent_recursive", count);
  },
};

const watch: Command = {
  name: "watch",
  usage: "[-R] [-c count] path",
  summary: "stream a node's events (-R its whole subtree) until Ctrl-C or count events",
  prepare(args) {
    const { flags, pos } = parseVerb("watch", args, { R: { type: "boolean", short: "R" }, c: { type: "string", short: "c" } }, { min: 1, max: 1, usage: this.usage });
    const path = checkPath("watch", pos[0]);
    const count = intOption("watch", "c", flags.c);
    return (ctx) => stream(ctx, path, !!flags.R, count);
  },
};

export const watchCommands: Command[] = [addWatch, watch];
