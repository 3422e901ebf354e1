import type { ACL } from "../../client/index.js";
import { formatAcl, formatPerms, parseAcl } from "../acl.js";
import { checkPath, intOption, parseVerb } from "../args.js";
import { formatStat, UsageError } from "../output.js";
import type { Command } from "./context.js";
import { subtree } from "./nodes.js";

const aclJson = (acl: ACL[]) => acl.map((a) => ({ scheme: a.scheme, id: a.id, perms: formatPerms(a.perms) }));

const getAcl: Command = {
  name: "getAcl",
  usage: "[-s] path",
  summary: "print a node's ACL (-s with its stat)",
  prepare(args) {
    const { flags, pos } = parseVerb("getAcl", args, { s: { type: "boolean", short: "s" } }, { min: 1, max: 1, usage: this.usage });
    const path = checkPath("getAcl", pos[0]);
    return async (ctx) => {
      const { acl, stat } = await ctx.zk.getACL(path);
      ctx.out.text(formatAcl(acl));
      if (flags.s) ctx.out.text(formatStat(stat));
      ctx.out.result({ path, acl: aclJson(acl), stat });
      return 0;
    };
  },
};

const setAcl: Command = {
  name: "setAcl",
  usage: "[-s] [-v version] [-R] path acl",
  summary: "set a node's ACL, e.g. digest:alice:<hash>:cdrwa,world:anyone:r (-R the whole subtree)",
  prepare(args) {
    const { flags, pos } = parseVerb(
      "setAcl",
      args,
      { s: { type: "boolean", short: "s" }, v: { type: "string", short: "v" }, R: { type: "boolean", short: "R" } },
      { min: 2, max: 2, usage: this.usage },
    );
    const path = checkPath("setAcl", pos[0]);
    const version = intOption("setAcl", "v", flags.v);
    let acl: ACL[];
    try {
      acl = parseAcl(pos[1]);
    } catch (e) {
      throw new UsageError(`setAcl: ${(e as Error).message}`);
    }
    return async (ctx) => {
      if (flags.R) {
        const paths = await subtree(ctx.zk, path);
        await Promise.all(paths.map((p) => ctx.zk.setACL(p, acl, { version: p === path ? version : -1 })));
        ctx.out.result({ path, paths });
        return 0;
      }
      const stat = await ctx.zk.setACL(path, acl, { version });
      if (flags.s) ctx.out.text(formatStat(stat));
      ctx.out.result({ path, stat });
      return 0;
    };
  },
};

const addauth: Command = {
  name: "addauth",
  usage: "scheme auth",
  summary: "add credentials to the session, e.g. addauth digest alice:secret",
  prepare(args) {
    const { pos } = parseVerb("addauth", args, {}, { min: 2, max: 2, usage: this.usage });
    return async (ctx) => {
      await ctx.zk.addAuth(pos[0], pos[1]);
      ctx.out.result({ scheme: pos[0] });
      return 0;
    };
  },
};

const whoami: Command = {
  name: "whoami",
  usage: "",
  summary: "the session's identities (ip, token subject, digests, super)",
  prepare(args) {
    parseVerb("whoami", args, {}, { min: 0, max: 0, usage: this.usage });
    return async (ctx) => {
      const ids = await ctx.zk.whoAmI();
      ctx.out.text("Auth scheme: User");
      for (const i of ids) ctx.out.text(`${i.scheme}: ${i.id}`);
      ctx.out.result({ identities: ids });
      return 0;
    };
  },
};

export const authCommands: Command[] = [getAcl, setAcl, addauth, whoami];
