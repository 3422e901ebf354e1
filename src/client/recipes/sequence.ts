import { NodeExistsError } from "../errors.js";
import type { EdgeKeeper } from "../client.js";

/**
 * Shared pieces of the sequential-node recipes (docs/recipes.md): how a recipe's base path
 * comes to exist. (How contender nodes are ordered is core's, src/core/contenders.ts, shared
 * with the server; waiting is in waiting.ts and lock-internals.ts.)
 */

/** Creates `path` and any missing ancestors as persistent nodes (or containers). */
export async function ensurePath(zk: EdgeKeeper, path: string, mode: "persistent" | "container" = "persistent"): Promise<void> {
  if (path === "/" || (await zk.exists(path))) return;
  const parts = path.split("/").filter(Boolean);
  let at = "";
  for (const part of parts) {
    at += "/" + part;
    try {
      await zk.create(at, undefined, { mode });
    } catch (e) {
      if (!(e instanceof NodeExistsError)) throw e;
    }
  }
}
