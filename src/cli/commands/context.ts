import type { EdgeKeeper, WatchEvent } from "../../client/index.js";
import type { GlobalOptions } from "../args.js";
import type { Output } from "../output.js";

/** What a command runs with. */
export interface Context {
  zk: EdgeKeeper;
  out: Output;
  /** In the interactive shell: watches print as they fire instead of holding the command. */
  interactive: boolean;
  namespace: string;
  /** Resolves when the user interrupts a one-shot command (SIGINT / SIGTERM); never in the shell. */
  interrupted: Promise<void>;
  /** Standard input, for data given as `-` (one-shot mode only). */
  readStdin?: () => Promise<Uint8Array>;
}

/** A verb: `prepare` checks the arguments before connecting and returns what to run. */
export interface Command {
  name: string;
  usage: string;
  summary: string;
  prepare(args: string[]): (ctx: Context) => Promise<number>;
  /** A verb that needs no session (tunnel): runs instead of connecting, from the command line only. */
  standalone?(args: string[], options: GlobalOptions, out: Output): Promise<number>;
}

/** A watch event as zkCli prints it, or one JSON line. */
export function printEvent(ctx: Context, e: WatchEvent): void {
  ctx.out.text(`WatchedEvent state:SyncConnected type:${e.type} path:${e.path} zxid:${e.zxid}`);
  ctx.out.result({ event: e.type, path: e.path, zxid: e.zxid });
}

/**
 * A one-shot watch for `-w`: in the shell the event prints when it fires; in one-shot mode the
 * command waits for it (or an interrupt) after printing its result, prints it and exits 0.
 */
export function oneShotWatch(ctx: Context): { watcher: (e: WatchEvent) => void; settle: () => Promise<number> } {
  let fired!: () => void;
  const done = new Promise<void>((r) => (fired = r));
  return {
    watcher: (e) => {
      printEvent(ctx, e);
      fired();
    },
    settle: async () => {
      if (!ctx.interactive) await Promise.race([done, ctx.interrupted, finalState(ctx)]);
      return 0;
    },
  };
}

/** Resolves when the client reaches a final state (expired, closed, authFailed): the wait is over. */
export function finalState(ctx: Context): Promise<void> {
  return ctx.zk.waitConnected().then(
    () => new Promise<void>((resolve) => {
      const off = ctx.zk.onState((s) => {
        if (s === "expired" || s === "closed" || s === "authFailed") (off(), resolve());
      });
    }),
    () => undefined,
  );
}
