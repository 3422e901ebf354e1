import { authCommands } from "./auth.js";
import type { Command } from "./context.js";
import { lockCommands } from "./lock.js";
import { nodeCommands } from "./nodes.js";
import { tunnelCommands } from "./tunnel.js";
import { watchCommands } from "./watch.js";

export type { Command, Context } from "./context.js";

/** Every verb, in the order `help` lists them. */
export const commands: Command[] = [...nodeCommands, ...authCommands, ...watchCommands, ...lockCommands, ...tunnelCommands];

/** Verbs are matched case-insensitively (zkCli's getAcl, getacl, GETACL all work). */
export function findCommand(name: string): Command | undefined {
  const n = name.toLowerCase();
  return commands.find((c) => c.name.toLowerCase() === n);
}
