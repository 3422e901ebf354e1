import { NoNodeError, type CreateModeName, type EdgeKeeper } from "../../client/index.js";
import { parseAcl } from "../acl.js";
import { checkPath, intOption, parseVerb } from "../args.js";
import { dataFields, formatList, formatStat, UsageError } from "../output.js";
import { oneShotWatch, type Command, type Context } from "./context.js";

const join = (parent: string, child: string) => (parent === "/" ? `/${child}` : `${parent}/${child}`);

/** `path` and every node below it, parents before children (breadth first, one round trip per level). */
export async function subtree(zk: EdgeKeeper, root: string): Promise<string[]> {
  const all = [root];
  let level = [root];
  while (level.length > 0) {
    const kids = await Promise.all(level.map((p) => zk.getChildren(p).then((c) => c.map((k) => join(p, k)), (e) => (e instanceof NoNodeError && p !== root ? [] : Promise.reject(e)))));
    level = kids.flat();
    all.push(...level);
  }
  return all;
}

/** Data from the command line; `-` reads standard input in one-shot mode. */
async function dataArg(ctx: Context, arg: string | undefined): Promise<string | Uint8Array | undefined> {
  if (arg === "-" && ctx.readStdin) return ctx.readStdin();
  return arg;
}

const ls: Command = {
  name: "ls",
  usage: "[-s] [-R] [-w] path",
  summary: "list the children of a node (-s with its stat, -R the whole subtree, -w watch for a child change)",
  prepare(args) {
    const { flags, pos } = parseVerb("ls", args, { s: { type: "boolean", short: "s" }, R: { type: "boolean", short: "R" }, w: { type: "boolean", short: "w" } }, { min: 1, max: 1, usage: this.usage });
    const path = checkPath("ls", pos[0]);
    if (flags.R && flags.w) throw new UsageError("ls: -R and -w do not go together");
    return async (ctx) => {
      if (flags.R) {
        const paths = await subtree(ctx.zk, path);
        for (const p of paths) ctx.out.text(p);
        ctx.out.result({ path, paths });
        return 0;
      }
      const w = flags.w ? oneShotWatch(ctx) : undefined;
      const { children, stat } = await ctx.zk.getChildren2(path, { watch: w?.watcher });
      ctx.out.text(formatList(children));
      if (flags.s) ctx.out.text(formatStat(stat));
      ctx.out.result({ path, children, stat });
      return w ? w.settle() : 0;
    };
  },
};

const get: Command = {
  name: "get",
  usage: "[-s] [-w] path",
  summary: "print a node's data (-s with its stat, -w watch for a change)",
  prepare(args) {
    const { flags, pos } = parseVerb("get", args, { s: { type: "boolean", short: "s" }, w: { type: "boolean", short: "w" } }, { min: 1, max: 1, usage: this.usage });
    const path = checkPath("get", pos[0]);
    return async (ctx) => {
      const w = flags.w ? oneShotWatch(ctx) : undefined;
      const { data, stat } = await ctx.zk.getData(path, { watch: w?.watcher });
      const f = dataFields(data);
      ctx.out.text(f.data ?? `base64:${f.dataBase64}`);
      if (flags.s) ctx.out.text(formatStat(stat));
      ctx.out.result({ path, ...f, stat });
      return w ? w.settle() : 0;
    };
  },
};

const set: Command = {
  name: "set",
  usage: "[-s] [-v version] path data",
  summary: "set a node's data (-v only if at this version; data - reads stdin)",
  prepare(args) {
    const { flags, pos } = parseVerb("set", args, { s: { type: "boolean", short: "s" }, v: { type: "string", short: "v" } }, { min: 2, max: 2, usage: this.usage });
    const path = checkPath("set", pos[0]);
    const version = intOption("set", "v", flags.v);
    return async (ctx) => {
      const stat = await ctx.zk.setData(path, (await dataArg(ctx, pos[1])) ?? "", { version });
      if (flags.s) ctx.out.text(formatStat(stat));
      ctx.out.result({ path, stat });
      return 0;
    };
  },
};

const create: Command = {
  name: "create",
  usage: "[-s] [-e] [-c] [-t ttl] path [data] [acl]",
  summary: "create a node: -s sequential, -e ephemeral, -c container, -t ttl (ms); acl like world:anyone:cdrwa",
  prepare(args) {
    const { flags, pos } = parseVerb(
      "create",
      args,
      { s: { type: "boolean", short: "s" }, e: { type: "boolean", short: "e" }, c: { type: "boolean", short: "c" }, t: { type: "string", short: "t" } },
      { min: 1, max: 3, usage: this.usage },
    );
    const path = checkPath("create", pos[0]);
    const ttl = intOption("create", "t", flags.t);
    if (ttl !== undefined && ttl <= 0) throw new UsageError("create: -t takes a TTL in milliseconds > 0");
    if (flags.c && (flags.s || flags.e || ttl !== undefined)) throw new UsageError("create: -c (container) goes with no other mode flag");
    if (flags.e && ttl !== undefined) throw new UsageError("create: -e (ephemeral) and -t (TTL) do not go together");
    let mode: CreateModeName = "persistent";
    if (flags.c) mode = "container";
    else if (ttl !== undefined) mode = flags.s ? "persistent_sequential_ttl" : "persistent_ttl";
    else if (flags.e) mode = flags.s ? "ephemeral_sequential" : "ephemeral";
    else if (flags.s) mode = "persistent_sequential";
    let acl;
    try {
      acl = pos[2] === undefined ? undefined : parseAcl(pos[2]);
    } catch (e) {
      throw new UsageError(`create: ${(e as Error).message}`);
    }
    return async (ctx) => {
      const r = await ctx.zk.create2(path, await dataArg(ctx, pos[1]), { mode, acl, ttl });
      ctx.out.text(`Created ${r.path}`);
      ctx.out.result({ path: r.path, stat: r.stat });
      return 0;
    };
  },
};

const del: Command = {
  name: "delete",
  usage: "[-v version] path",
  summary: "delete a node without children (-v only if at this version)",
  prepare(args) {
    const { flags, pos } = parseVerb("delete", args, { v: { type: "string", short: "v" } }, { min: 1, max: 1, usage: this.usage });
    const path = checkPath("delete", pos[0]);
    const version = intOption("delete", "v", flags.v);
    return async (ctx) => {
      await ctx.zk.delete(path, { version });
      ctx.out.result({ path });
      return 0;
    };
  },
};

const deleteall: Command = {
  name: "deleteall",
  usage: "path",
  summary: "delete a node and everything below it",
  prepare(args) {
    const { pos } = parseVerb("deleteall", args, {}, { min: 1, max: 1, usage: this.usage });
    const path = checkPath("deleteall", pos[0]);
    if (path === "/") throw new UsageError("deleteall: not the root");
    return async (ctx) => {
      const paths = await subtree(ctx.zk, path);
      // Deepest first; a level's deletes leave in one frame.
      const byDepth = new Map<number, string[]>();
      for (const p of paths) {
        const d = p.split("/").length;
        byDepth.set(d, [...(byDepth.get(d) ?? []), p]);
      }
      for (const d of [...byDepth.keys()].sort((a, b) => b - a))
        await Promise.all(byDepth.get(d)!.map((p) => ctx.zk.delete(p).catch((e) => (e instanceof NoNodeError ? undefined : Promise.reject(e)))));
      ctx.out.result({ path, deleted: paths.length });
      return 0;
    };
  },
};

const stat: Command = {
  name: "stat",
  usage: "[-w] path",
  summary: "print a node's stat (-w watch for a change, its creation if missing)",
  prepare(args) {
    const { flags, pos } = parseVerb("stat", args, { w: { type: "boolean", short: "w" } }, { min: 1, max: 1, usage: this.usage });
    const path = checkPath("stat", pos[0]);
    return async (ctx) => {
      const w = flags.w ? oneShotWatch(ctx) : undefined;
      const s = await ctx.zk.exists(path, { watch: w?.watcher });
      if (!s && !w) throw new NoNodeError(`Node does not exist: ${path}`);
      if (s) ctx.out.text(formatStat(s));
      else ctx.out.text(`Node does not exist: ${path}`);
      ctx.out.result({ path, stat: s });
      return w ? w.settle() : 0;
    };
  },
};

const sync: Command = {
  name: "sync",
  usage: "path",
  summary: "wait until every write before it is visible (reads are linearizable anyway)",
  prepare(args) {
    const { pos } = parseVerb("sync", args, {}, { min: 1, max: 1, usage: this.usage });
    const path = checkPath("sync", pos[0]);
    return async (ctx) => {
      await ctx.zk.sync(path);
      ctx.out.text("Sync is OK");
      ctx.out.result({ path });
      return 0;
    };
  },
};

const getEphemerals: Command = {
  name: "getEphemerals",
  usage: "[path]",
  summary: "this session's ephemeral nodes (under a path prefix)",
  prepare(args) {
    const { pos } = parseVerb("getEphemerals", args, {}, { min: 0, max: 1, usage: this.usage });
    const path = checkPath("getEphemerals", pos[0] ?? "/");
    return async (ctx) => {
      const paths = await ctx.zk.getEphemerals(path);
      ctx.out.text(formatList(paths));
      ctx.out.result({ paths });
      return 0;
    };
  },
};

const getAllChildrenNumber: Command = {
  name: "getAllChildrenNumber",
  usage: "path",
  summary: "how many nodes are below a node, at any depth",
  prepare(args) {
    const { pos } = parseVerb("getAllChildrenNumber", args, {}, { min: 1, max: 1, usage: this.usage });
    const path = checkPath("getAllChildrenNumber", pos[0]);
    return async (ctx) => {
      const count = await ctx.zk.getAllChildrenNumber(path);
      ctx.out.text(String(count));
      ctx.out.result({ path, count });
      return 0;
    };
  },
};

export const nodeCommands: Command[] = [ls, get, set, create, del, deleteall, stat, sync, getEphemerals, getAllChildrenNumber];
