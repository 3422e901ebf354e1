import { spawn } from "node:child_process";
import { constants } from "node:os";
import { Mutex } from "../../client/index.js";
import { checkPath, intOption } from "../args.js";
import { Exit, UsageError } from "../output.js";
import type { Command } from "./context.js";

/**
 * `lock [-t timeout] path -- command args…`: takes the Mutex at `path` (the recipe of
 * docs/recipes.md, so other clients and the HTTP lock API share it), runs the command with
 * EDGEKEEPER_FENCING_TOKEN / EDGEKEEPER_LOCK_PATH / EDGEKEEPER_LOCK_NODE in its environment,
 * releases the lock when it exits and exits with its code. If the lease is lost meanwhile the
 * command gets SIGTERM and lock exits 3.
 */
const lock: Command = {
  name: "lock",
  usage: "[-t timeout] path -- command [args…]",
  summary: "run a command while holding a lock; its fencing token is in EDGEKEEPER_FENCING_TOKEN",
  prepare(args) {
    const sep = args.indexOf("--");
    const head = sep < 0 ? args : args.slice(0, sep);
    const command = sep < 0 ? [] : args.slice(sep + 1);
    let timeout: number | undefined;
    const pos: string[] = [];
    for (let i = 0; i < head.length; i++) {
      if (head[i] === "-t") timeout = intOption("lock", "t", head[++i] ?? "");
      else if (head[i].startsWith("-")) throw new UsageError(`lock: unknown option ${head[i]}\nusage: lock ${this.usage}`);
      else pos.push(head[i]);
    }
    if (pos.length !== 1 || command.length === 0) throw new UsageError(`usage: lock ${this.usage}`);
    if (timeout !== undefined && timeout < 0) throw new UsageError("lock: -t takes milliseconds >= 0");
    const path = checkPath("lock", pos[0]);
    return async (ctx) => {
      if (ctx.interactive) throw new UsageError("lock runs a command: use it from the command line, not the shell");
      const ac = new AbortController();
      void ctx.interrupted.then(() => ac.abort(new Error("interrupted")));
      let lease;
      if (!ctx.out.json) process.stderr.write(`lock ${path}: waiting\n`);
      try {
        lease = await new Mutex(ctx.zk, path).acquire(timeout === undefined ? { signal: ac.signal } : { timeout, signal: ac.signal });
      } catch (e) {
        if (ac.signal.aborted) return 130;
        throw e;
      }
      if (!lease) {
        ctx.out.error(new Error(`lock: ${path} not granted within ${timeout} ms`));
        return Exit.LOCK_TIMEOUT;
      }
      if (!ctx.out.json) process.stderr.write(`lock ${path} held (fencing token ${lease.token})\n`);
      const child = spawn(command[0], command.slice(1), {
        stdio: "inherit",
        env: { ...process.env, EDGEKEEPER_FENCING_TOKEN: String(lease.token), EDGEKEEPER_LOCK_PATH: path, EDGEKEEPER_LOCK_NODE: lease.path },
      });
      // Ctrl-C reaches the command from the terminal (same process group); signals sent to
      // lock alone are passed on.
      const onTerm = () => child.kill("SIGTERM");
      const onHup = () => child.kill("SIGHUP");
      process.on("SIGTERM", onTerm);
      process.on("SIGHUP", onHup);
      let lost = false;
      void lease.lost.then((why) => {
        lost = true;
        process.stderr.write(`lock ${path} lost (${why.message}): stopping the command\n`);
        child.kill("SIGTERM");
      });
      const code = await new Promise<number>((resolve) => {
        child.once("error", (e) => {
          process.stderr.write(`lock: cannot run ${command[0]}: ${e.message}\n`);
          resolve(127);
        });
        child.once("exit", (c, sig) => resolve(c ?? 128 + (sig ? (constants.signals[sig] ?? 0) : 0)));
      });
      process.off("SIGTERM", onTerm);
      process.off("SIGHUP", onHup);
      await lease.release().catch(() => {});
      ctx.out.result({ path, node: lease.path, token: lease.token, exitCode: code, lost });
      return lost ? Exit.CONNECTION : code;
    };
  },
};

export const lockCommands: Command[] = [lock];
