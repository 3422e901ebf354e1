import { ZooKeeperError, type Stat } from "../client/index.js";

/**
 * Exit codes scripts can rely on (docs/cli.md). A ZooKeeper error without its own code exits 1;
 * `lock` exits with its command's code.
 */
export const Exit = {
  OK: 0,
  /** Any other ZooKeeper error the server reported (its code is in the message / JSON). */
  ERROR: 1,
  /** Bad command line: unknown verb or option, missing argument, bad ACL. */
  USAGE: 2,
  /** Could not connect or authenticate: unreachable, AUTHFAILED, expired, connection lost, timed out. */
  CONNECTION: 3,
  NONODE: 4,
  NODEEXISTS: 5,
  BADVERSION: 6,
  NOTEMPTY: 7,
  NOAUTH: 8,
  /** lock: not granted within `-t`. */
  LOCK_TIMEOUT: 9,
} as const;

const BY_CODE: Record<string, number> = {
  NONODE: Exit.NONODE,
  NODEEXISTS: Exit.NODEEXISTS,
  BADVERSION: Exit.BADVERSION,
  NOTEMPTY: Exit.NOTEMPTY,
  NOAUTH: Exit.NOAUTH,
  AUTHFAILED: Exit.CONNECTION,
  CONNECTIONLOSS: Exit.CONNECTION,
  SESSIONEXPIRED: Exit.CONNECTION,
  OPERATIONTIMEOUT: Exit.CONNECTION,
  SESSIONMOVED: Exit.CONNECTION,
};

/** A command-line mistake: exits 2 with the usage line. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The exit code and the JSON error body for anything a command threw. */
export function describeError(e: unknown): { exit: number; body: { ok: false; err?: number; code: string; message: string } } {
  if (e instanceof UsageError) return { exit: Exit.USAGE, body: { ok: false, code: "USAGE", message: e.message } };
  if (e instanceof ZooKeeperError) {
    const code = e.codeName;
    return { exit: BY_CODE[code] ?? Exit.ERROR, body: { ok: false, err: e.code, code, message: e.message } };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { exit: Exit.ERROR, body: { ok: false, code: "ERROR", message } };
}

/** Where a command writes: text as zkCli prints it, or one JSON object per result with --json. */
export interface Output {
  readonly json: boolean;
  /** A text line (ignored in JSON mode). */
  text(line: string): void;
  /** A JSON result (ignored in text mode); `ok: true` is added. */
  result(body: Record<string, unknown>): void;
  /** An error: text on stderr, or `{"ok":false,…}` on stdout. */
  error(e: unknown): number;
}

export function makeOutput(json: boolean, out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Output {
  return {
    json,
    text: (line) => {
      if (!json) out(line + "\n");
    },
    result: (body) => {
      if (json) out(JSON.stringify({ ok: true, ...body }) + "\n");
    },
    error: (e) => {
      const { exit, body } = describeError(e);
      if (json) out(JSON.stringify(body) + "\n");
      else err(`${body.code === "USAGE" || body.code === "ERROR" ? "" : body.code + ": "}${body.message}\n`);
      return exit;
    },
  };
}

const hex = (n: number) => "0x" + n.toString(16);
const date = (ms: number) => new Date(ms).toString();

/** zkCli's Stat printout. */
export function formatStat(s: Stat): string {
  return [
    `cZxid = ${hex(s.czxid)}`,
    `ctime = ${date(s.ctime)}`,
    `mZxid = ${hex(s.mzxid)}`,
    `mtime = ${date(s.mtime)}`,
    `pZxid = ${hex(s.pzxid)}`,
    `cversion = ${s.cversion}`,
    `dataVersion = ${s.version}`,
    `aclVersion = ${s.aversion}`,
    `ephemeralOwner = 0x${s.ephemeralOwner.replace(/^0+(?=.)/, "")}`,
    `dataLength = ${s.dataLength}`,
    `numChildren = ${s.numChildren}`,
  ].join("\n");
}

/** zkCli's list printout: `[a, b, c]`. */
export const formatList = (items: string[]): string => `[${items.join(", ")}]`;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Znode data for JSON: the text when it is UTF-8, else base64. */
export function dataFields(bytes: Uint8Array): { data: string | null; dataBase64?: string } {
  try {
    return { data: strictUtf8.decode(bytes) };
  } catch {
    return { data: null, dataBase64: Buffer.from(bytes).toString("base64") };
  }
}
