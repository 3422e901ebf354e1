import { Code, ZkError } from "./errors.js";

/**
 * ZooKeeper path rules (org.apache.zookeeper.common.PathUtils.validatePath), applied to
 * every path that enters the core. Sequential creates validate the path with a sample
 * suffix appended, as ZooKeeper does, so "/a/" is a valid prefix for them.
 */
export function validatePath(path: unknown, isSequential = false): string {
  if (typeof path !== "string") throw bad("path must be a string");
  const check = isSequential ? path + "1" : path;
  if (check.length === 0) throw bad("path length must be > 0");
  if (check[0] !== "/") throw bad(`path must start with / character: ${path}`);
  if (check.length === 1) return path;
  if (check[check.length - 1] === "/") throw bad(`path must not end with / character: ${path}`);
  let last = "/";
  for (let i = 1; i < check.length; i++) {
    const c = check.charCodeAt(i);
    const ch = check[i];
    let reason: string | null = null;
    if (c === 0) reason = "null character not allowed";
    else if (ch === "/" && last === "/") reason = "empty node name specified";
    else if (ch === "." && last === "." && check[i - 2] === "/" && (i + 1 === check.length || check[i + 1] === "/"))
      reason = "relative paths not allowed";
    else if (ch === "." && check[i - 1] === "/" && (i + 1 === check.length || check[i + 1] === "/"))
      reason = "relative paths not allowed";
    else if ((c > 0x00 && c <= 0x1f) || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) || (c >= 0xfff0 && c <= 0xffff))
      reason = "invalid character";
    if (reason) throw bad(`Invalid path string "${path}" caused by ${reason} @${i}`);
    last = ch;
  }
  return path;
}

function bad(message: string): ZkError {
  return new ZkError(Code.BADARGUMENTS, message);
}

/** Parent of a valid, non-root path. parentOf("/a") === "/". */
export function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i === 0 ? "/" : path.slice(0, i);
}

/** Last segment of a valid path. nameOf("/a/b") === "b". */
export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

export function joinPath(parent: string, name: string): string {
  return parent === "/" ? "/" + name : parent + "/" + name;
}

/** True when `path` is `root` or lies below it. */
export function isWithin(path: string, root: string): boolean {
  if (root === "/") return true;
  return path === root || (path.startsWith(root) && path.charCodeAt(root.length) === 0x2f);
}

/** Ancestors of a path from its parent up to "/", nearest first. */
export function* ancestors(path: string): Generator<string> {
  let p = path;
  while (p !== "/") {
    p = parentOf(p);
    yield p;
  }
}
