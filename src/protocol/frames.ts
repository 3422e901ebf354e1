import * as v from "valibot";
import { CreateMode } from "../core/create-mode.js";
import { Code, ZkError } from "../core/errors.js";
import { WatcherType, type Request, type WatchSet } from "../core/requests.js";
import { decodeBase64 } from "./base64.js";
import { authIdentities } from "./digest.js";

/**
 * Schemas of the client's JSON frames (docs/protocol.md) and their decoding into the core's
 * requests. Everything a client sends passes through here: a frame that does not fit gets an
 * error with a ZooKeeper code and never reaches the core.
 */

export const PROTOCOL_VERSION = 1;

const Int = v.pipe(v.number(), v.integer());
const Xid = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
const Zxid = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
const Path = v.pipe(v.string(), v.maxLength(4096));
const Version = v.optional(v.pipe(Int, v.minValue(-1), v.maxValue(2 ** 31 - 1)), -1);
const Data = v.pipe(
  v.optional(v.nullable(v.string()), ""),
  v.transform((s) => s ?? ""),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    try {
      return decodeBase64(dataset.value);
    } catch {
      addIssue({ message: "data must be base64" });
      return NEVER;
    }
  }),
);

const MODE_NAMES: Record<string, CreateMode> = {
  persistent: CreateMode.PERSISTENT,
  ephemeral: CreateMode.EPHEMERAL,
  persistent_sequential: CreateMode.PERSISTENT_SEQUENTIAL,
  ephemeral_sequential: CreateMode.EPHEMERAL_SEQUENTIAL,
  container: CreateMode.CONTAINER,
  persistent_ttl: CreateMode.PERSISTENT_WITH_TTL,
  persistent_sequential_ttl: CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL,
};
const Mode = v.pipe(
  v.optional(v.union([v.picklist(Object.keys(MODE_NAMES)), v.pipe(Int, v.minValue(0), v.maxValue(6))]), 0),
  v.transform((m): CreateMode => (typeof m === "string" ? MODE_NAMES[m] : (m as CreateMode))),
);
const AclSchema = v.pipe(
  v.array(v.strictObject({ perms: Int, scheme: v.pipe(v.string(), v.maxLength(64)), id: v.pipe(v.string(), v.maxLength(1024)) })),
  v.maxLength(64),
);
const PathList = v.optional(v.pipe(v.array(Path), v.maxLength(100_000)));
export const WatchSetSchema = v.strictObject({
  data: PathList,
  exist: PathList,
  child: PathList,
  persistent: PathList,
  persistentRecursive: PathList,
});

const Credentials = v.pipe(v.string(), v.maxLength(1024));
const AuthList = v.optional(v.pipe(v.array(v.strictObject({ scheme: v.pipe(v.string(), v.maxLength(64)), auth: Credentials })), v.maxLength(16)));

const req = <T extends v.ObjectEntries>(op: string, entries: T) => v.object({ xid: Xid, op: v.literal(op), ...entries });

const multiCreate = { path: Path, data: Data, acl: v.optional(AclSchema), mode: Mode, ttl: v.optional(Int) };
const create = { ...multiCreate, requestId: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(64))) };
const del = { path: Path, version: Version };
const setData = { path: Path, data: Data, version: Version };
const check = { path: Path, version: Version };
const withWatch = { path: Path, watch: v.optional(v.boolean(), false) };
const children = { ...withWatch, limit: v.optional(Int), cursor: v.optional(v.pipe(v.string(), v.maxLength(4096))) };
const op = <T extends v.ObjectEntries>(name: string, entries: T) => v.object({ op: v.literal(name), ...entries });
const WatcherTypeSchema = v.union([
  v.picklist(Object.keys(WatcherType) as Array<keyof typeof WatcherType>),
  v.pipe(Int, v.minValue(1), v.maxValue(5)),
]);

const SCHEMAS = {
  create: req("create", create),
  delete: req("delete", del),
  exists: req("exists", withWatch),
  getData: req("getData", withWatch),
  setData: req("setData", setData),
  getChildren: req("getChildren", children),
  getChildren2: req("getChildren2", children),
  getACL: req("getACL", { path: Path }),
  setACL: req("setACL", { path: Path, acl: AclSchema, version: Version }),
  check: req("check", check),
  multi: req("multi", {
    ops: v.pipe(
      v.array(v.variant("op", [v.strictObject({ op: v.literal("create"), ...multiCreate }), op("delete", del), op("setData", setData), op("check", check)])),
      v.maxLength(1000),
    ),
  }),
  multiRead: req("multiRead", {
    ops: v.pipe(
      v.array(v.variant("op", [op("getData", { path: Path }), op("getChildren", { path: Path }), op("exists", { path: Path })])),
      v.maxLength(1000),
    ),
  }),
  sync: req("sync", { path: Path }),
  getEphemerals: req("getEphemerals", { path: v.optional(Path, "/") }),
  getAllChildrenNumber: req("getAllChildrenNumber", { path: Path }),
  whoAmI: req("whoAmI", {}),
  addAuth: req("addAuth", { scheme: v.pipe(v.string(), v.maxLength(64)), auth: Credentials }),
  addWatch: req("addWatch", {
    path: Path,
    mode: v.union([v.picklist(["persistent", "persistentRecursive"]), v.picklist([0, 1])]),
  }),
  removeWatches: req("removeWatches", { path: Path, type: WatcherTypeSchema }),
  checkWatches: req("checkWatches", { path: Path, type: WatcherTypeSchema }),
  setWatches: req("setWatches", { lastZxid: Zxid, watches: WatchSetSchema }),
  ping: req("ping", {}),
  close: req("close", {}),
} as const;

type OpName = keyof typeof SCHEMAS;
const isOp = (s: unknown): s is OpName => typeof s === "string" && Object.hasOwn(SCHEMAS, s);

export const ConnectSchema = v.object({
  type: v.literal("connect"),
  v: Int,
  timeout: v.pipe(Int, v.minValue(0)),
  sessionId: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/))),
  secret: v.optional(v.pipe(v.string(), v.maxLength(128))),
  lastZxid: v.optional(Zxid, 0),
  watches: v.optional(WatchSetSchema),
  /** addAuth credentials applied with the handshake (a client re-sends them on every reconnect). */
  auth: AuthList,
});
export type ConnectFrame = v.InferOutput<typeof ConnectSchema>;

function describe(issues: readonly v.BaseIssue<unknown>[]): string {
  const i = issues[0];
  const where = i.path?.map((p) => String(p.key)).join(".");
  return where ? `${where}: ${i.message}` : i.message;
}

/** A decoded request, or the error to answer it with (with its xid when one could be read). */
export type Decoded = { xid: number; request: Request } | { xid: number | null; error: ZkError };

/** The xid of a malformed request, if it has a usable one. */
function xidOf(raw: unknown): number | null {
  const x = (raw as { xid?: unknown } | null)?.xid;
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0 ? x : null;
}

export function decodeRequest(raw: unknown): Decoded {
  const xid = xidOf(raw);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    return { xid, error: new ZkError(Code.BADARGUMENTS, "a request must be a JSON object") };
  const name = (raw as { op?: unknown }).op;
  if (typeof name !== "string") return { xid, error: new ZkError(Code.BADARGUMENTS, name === undefined ? "missing op" : "op must be a string") };
  if (!isOp(name)) return { xid, error: new ZkError(Code.UNIMPLEMENTED, `unknown op "${name.slice(0, 64)}"`) };
  const parsed = v.safeParse(SCHEMAS[name], raw);
  if (!parsed.success) {
    const message = `${name}: ${describe(parsed.issues)}`;
    const dataIssue = parsed.issues.some((i) => i.message === "data must be base64");
    return { xid, error: new ZkError(dataIssue ? Code.MARSHALLINGERROR : Code.BADARGUMENTS, message) };
  }
  try {
    return { xid: parsed.output.xid, request: toRequest(name, parsed.output as Record<string, unknown>) };
  } catch (e) {
    if (e instanceof ZkError) return { xid: parsed.output.xid, error: e };
    throw e;
  }
}

function toRequest(name: OpName, o: Record<string, unknown>): Request {
  const { xid: _xid, ...rest } = o;
  switch (name) {
    case "getChildren2":
      return { ...(rest as object), op: "getChildren" } as Request;
    case "addWatch":
      return { op: "addWatch", path: o.path as string, mode: o.mode === 0 || o.mode === "persistent" ? "persistent" : "persistentRecursive" };
    case "removeWatches":
    case "checkWatches": {
      const t = o.type as keyof typeof WatcherType | number;
      return { op: name, path: o.path as string, type: (typeof t === "number" ? t : WatcherType[t]) as WatcherType };
    }
    case "setWatches":
      return { op: "setWatches", lastZxid: o.lastZxid as number, watches: o.watches as WatchSet };
    case "addAuth":
      return { op: "addAuth", identities: authIdentities(o.scheme as string, o.auth as string) };
    default:
      return rest as unknown as Request;
  }
}

/** Parses a connect frame; throws ZkError when it is not one we accept. */
export function decodeConnect(raw: unknown): ConnectFrame {
  const parsed = v.safeParse(ConnectSchema, raw);
  if (!parsed.success) throw new ZkError(Code.BADARGUMENTS, `connect: ${describe(parsed.issues)}`);
  if (parsed.output.v !== PROTOCOL_VERSION)
    throw new ZkError(Code.BADARGUMENTS, `protocol version ${parsed.output.v} is not supported (this server speaks ${PROTOCOL_VERSION})`);
  if (parsed.output.sessionId !== undefined && parsed.output.secret === undefined)
    throw new ZkError(Code.BADARGUMENTS, "connect: resuming a session needs its secret");
  return parsed.output;
}
