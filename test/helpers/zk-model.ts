/**
 * A model of one namespace with ZooKeeper 3.8 semantics, as docs/protocol.md specifies them
 * for the WebSocket protocol: it predicts the exact response (err, code, zxid, stat, data,
 * children, multi result vectors) of every request that passes the frame schema, and the
 * exact tree after it. It is written from ZooKeeper's rules (PrepRequestProcessor, DataTree,
 * PathUtils), not from edgekeeper's source, so a disagreement means one of the two is wrong.
 *
 * What it does not model: watches and events (the property test only checks their zxid
 * order), ctime/mtime (only checked for sanity), TTL expiry (TTL nodes are created with TTLs
 * far longer than a test) and ACL schemes other than `world:anyone`.
 *
 * The zxid is modelled exactly: every committed transaction (create, delete, setData, setACL,
 * a successful multi, session create and close, the removal of an emptied container) takes
 * the next one; reads and failed requests report the current one.
 */

export const NO_OWNER = "0000000000000000";

export const ERR = {
  OK: 0,
  RUNTIMEINCONSISTENCY: -2,
  CONNECTIONLOSS: -4,
  MARSHALLINGERROR: -5,
  UNIMPLEMENTED: -6,
  BADARGUMENTS: -8,
  NONODE: -101,
  NOAUTH: -102,
  BADVERSION: -103,
  NOCHILDRENFOREPHEMERALS: -108,
  NODEEXISTS: -110,
  NOTEMPTY: -111,
  SESSIONEXPIRED: -112,
  INVALIDACL: -114,
  THROTTLEDOP: -127,
} as const;

export const ERR_NAME: Record<number, string> = Object.fromEntries(Object.entries(ERR).map(([k, v]) => [v, k]));

const PERM = { READ: 1, WRITE: 2, CREATE: 4, DELETE: 8, ADMIN: 16, ALL: 31 } as const;

export interface Acl {
  perms: number;
  scheme: string;
  id: string;
}
const OPEN_ACL: Acl[] = [{ perms: PERM.ALL, scheme: "world", id: "anyone" }];
const READ_ACL: Acl[] = [{ perms: PERM.READ, scheme: "world", id: "anyone" }];

type Kind = "persistent" | "ephemeral" | "container" | "ttl";

export interface ModelNode {
  /** Base64, as the server sends it back. */
  data: string;
  dataLength: number;
  acl: Acl[];
  czxid: number;
  mzxid: number;
  pzxid: number;
  version: number;
  aversion: number;
  /** ZooKeeper's stored cversion: the number of child creates. Clients see 2 × creates − numChildren. */
  creates: number;
  owner: string;
  kind: Kind;
  children: Set<string>;
}

/** Markers for what the model cannot predict exactly. */
export const ANY_MESSAGE = Symbol("any non-empty message");
export const ABSENT = Symbol("absent");

/** A predicted Stat: every field exact except ctime/mtime (numbers, mtime ≥ ctime). */
export class StatExpect {
  constructor(readonly fields: Record<string, number | string>) {}
}

export type Predicted = Record<string, unknown>;

class ModelError extends Error {
  constructor(readonly code: number) {
    super(ERR_NAME[code]);
  }
}
const fail = (code: number): never => {
  throw new ModelError(code);
};

// ------------------------------------------------------------------ paths (PathUtils.validatePath)

/** ZooKeeper's path rules, per segment. */
export function isValidPath(path: string): boolean {
  if (path.length === 0 || path[0] !== "/") return false;
  if (path === "/") return true;
  if (path.endsWith("/")) return false;
  for (const seg of path.slice(1).split("/")) {
    if (seg === "" || seg === "." || seg === "..") return false;
    for (let i = 0; i < seg.length; i++) {
      const c = seg.charCodeAt(i);
      if (c === 0 || (c > 0 && c <= 0x1f) || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) || c >= 0xfff0) return false;
    }
  }
  return true;
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}
export const nameOf = (path: string) => path.slice(path.lastIndexOf("/") + 1);
export const join = (parent: string, name: string) => (parent === "/" ? "/" + name : parent + "/" + name);

// ------------------------------------------------------------------ modes

const MODES: Record<string, number> = {
  persistent: 0,
  ephemeral: 1,
  persistent_sequential: 2,
  ephemeral_sequential: 3,
  container: 4,
  persistent_ttl: 5,
  persistent_sequential_ttl: 6,
};
const MAX_TTL = 2 ** 40 - 1;
/** The longest path a request may carry (the frame schema's limit, docs/protocol.md). */
export const MAX_PATH_CHARS = 4096;

export function base64Length(b64: string): number {
  if (b64.length === 0) return 0;
  const pad = b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0;
  return (b64.length / 4) * 3 - pad;
}

// ------------------------------------------------------------------ the model

export interface ModelConfig {
  maxDataBytes: number;
  maxChildrenPage: number;
}

export class ZkModel {
  nodes = new Map<string, ModelNode>();
  zxid = 0;
  /** Live sessions, and the results of their idempotent creates (requestId → create result). */
  sessions = new Map<string, Map<string, Predicted>>();

  constructor(readonly config: ModelConfig) {
    const node = (acl = OPEN_ACL, aversion = 0, children: string[] = []): ModelNode => ({
      data: "", dataLength: 0, acl: acl.map((a) => ({ ...a })), czxid: 0, mzxid: 0, pzxid: 0, version: 0, aversion,
      creates: 0, owner: NO_OWNER, kind: "persistent", children: new Set(children),
    });
    // A fresh ZooKeeper tree: children present at start-up were never "created" (cversion -numChildren).
    this.nodes.set("/", node(OPEN_ACL, 0, ["zookeeper"]));
    this.nodes.set("/zookeeper", node(OPEN_ACL, 0, ["quota", "config"]));
    this.nodes.set("/zookeeper/quota", node());
    this.nodes.set("/zookeeper/config", node(READ_ACL, -1));
  }

  clone(): ZkModel {
    const m = new ZkModel(this.config);
    m.nodes = new Map([...this.nodes].map(([p, n]) => [p, { ...n, acl: n.acl.map((a) => ({ ...a })), children: new Set(n.children) }]));
    m.zxid = this.zxid;
    m.sessions = new Map([...this.sessions].map(([s, r]) => [s, new Map(r)]));
    return m;
  }

  // ---------------------------------------------------------------- observation

  statOf(path: string): StatExpect {
    const n = this.nodes.get(path)!;
    return new StatExpect({
      czxid: n.czxid,
      mzxid: n.mzxid,
      pzxid: n.pzxid,
      version: n.version,
      cversion: 2 * n.creates - n.children.size,
      aversion: n.aversion,
      ephemeralOwner: n.owner,
      dataLength: n.dataLength,
      numChildren: n.children.size,
    });
  }

  childrenOf(path: string): string[] {
    return [...this.nodes.get(path)!.children].sort(cmp);
  }

  /** Everything a full read of the tree shows, keyed by path (times aside). */
  snapshot(): Map<string, { data: string; stat: Record<string, number | string>; children: string[]; acl: Acl[] }> {
    const out = new Map<string, { data: string; stat: Record<string, number | string>; children: string[]; acl: Acl[] }>();
    for (const p of [...this.nodes.keys()].sort(cmp)) {
      const n = this.nodes.get(p)!;
      out.set(p, { data: n.data, stat: this.statOf(p).fields, children: this.childrenOf(p), acl: n.acl });
    }
    return out;
  }

  /** Containers that had children and have none left: the server removes them on its alarm. */
  emptiedContainers(): string[] {
    return [...this.nodes].filter(([, n]) => n.kind === "container" && n.children.size === 0 && n.creates > 0).map(([p]) => p).sort(cmp);
  }

  /** The alarm: removes emptied containers, one transaction each, cascading upwards. */
  runContainerAlarm(): number {
    let removed = 0;
    for (let c = this.emptiedContainers(); c.length > 0; c = this.emptiedContainers()) {
      if (c.length > 1) throw new Error(`model: several emptied containers at once (${c.join(", ")}): their removal order is not determined`);
      this.zxid++;
      this.removeNode(c[0], this.zxid);
      removed++;
    }
    return removed;
  }

  // ---------------------------------------------------------------- sessions

  openSession(id: string): number {
    this.sessions.set(id, new Map());
    return ++this.zxid;
  }

  closeSession(id: string): number {
    const zxid = ++this.zxid;
    for (const [p, n] of [...this.nodes]) if (n.owner === id) this.removeNode(p, zxid);
    this.sessions.delete(id);
    return zxid;
  }

  ephemeralsOf(id: string): string[] {
    return [...this.nodes].filter(([, n]) => n.owner === id).map(([p]) => p).sort(cmp);
  }

  // ---------------------------------------------------------------- requests

  /** A reply for a request the frame schema refuses (it never reaches the tree). */
  refused(xid: number | null, err: number): Predicted {
    return { xid, zxid: this.zxid, err, code: ERR_NAME[err], message: ANY_MESSAGE, results: ABSENT };
  }

  /**
   * Applies one request that passed the frame schema, from `session`, and returns the
   * predicted response (without events). `closes` is set when it ended the session.
   */
  apply(session: string, req: Record<string, any>): { response: Predicted; closes?: boolean } {
    const xid = req.xid as number;
    const ok = (fields: Predicted = {}, zxid = this.zxid): Predicted => ({ xid, zxid, err: 0, ...fields });
    try {
      switch (req.op) {
        case "create": {
          if (req.requestId !== undefined) {
            const prior = this.sessions.get(session)?.get(req.requestId);
            if (prior) return { response: ok(prior) };
          }
          const r = this.write(() => this.create(session, req, this.zxid + 1));
          if (req.requestId !== undefined) this.sessions.get(session)?.set(req.requestId, r);
          return { response: ok(r) };
        }
        case "delete":
          this.write(() => this.delete(req, this.zxid + 1));
          return { response: ok() };
        case "setData":
          return { response: ok(this.write(() => this.setData(req, this.zxid + 1))) };
        case "setACL":
          return { response: ok(this.write(() => this.setAcl(req))) };
        case "check":
          this.check(req);
          return { response: ok() };
        case "exists":
        case "getData":
        case "getChildren":
        case "getChildren2":
          return { response: ok(this.read(req)) };
        case "multiRead":
          return {
            response: ok({
              results: (req.ops as Record<string, any>[]).map((op) => {
                try {
                  return this.read(op);
                } catch (e) {
                  if (e instanceof ModelError) return { err: e.code, code: ERR_NAME[e.code], message: ANY_MESSAGE };
                  throw e;
                }
              }),
            }),
          };
        case "getACL": {
          this.validate(req.path);
          const n = this.mustGet(req.path);
          return { response: ok({ acl: n.acl, stat: this.statOf(req.path) }) };
        }
        case "sync":
          this.validate(req.path);
          return { response: ok({ path: req.path }) };
        case "getEphemerals": {
          const prefix = String(req.path ?? "/").trim();
          const all = this.ephemeralsOf(session);
          return { response: ok({ paths: prefix === "" || prefix === "/" ? all : all.filter((p) => p.startsWith(prefix)) }) };
        }
        case "getAllChildrenNumber": {
          this.validate(req.path);
          this.need(this.mustGet(req.path), PERM.READ);
          const below = req.path === "/" ? "/" : req.path + "/";
          return { response: ok({ count: [...this.nodes.keys()].filter((p) => p !== req.path && p.startsWith(below)).length }) };
        }
        case "multi":
          return { response: this.multi(session, xid, req.ops) };
        case "ping":
          return { response: ok() };
        case "close": {
          const zxid = this.closeSession(session);
          return { response: ok({}, zxid), closes: true };
        }
        default:
          throw new Error(`model: no rule for op ${req.op}`);
      }
    } catch (e) {
      if (e instanceof ModelError) return { response: { xid, zxid: this.zxid, err: e.code, code: ERR_NAME[e.code], message: ANY_MESSAGE } };
      throw e;
    }
  }

  /** Runs a write; on success it commits with the next zxid. `fn` throws before changing anything. */
  private write<T>(fn: () => T): T {
    const r = fn();
    this.zxid++;
    return r;
  }

  private multi(session: string, xid: number, ops: Record<string, any>[]): Predicted {
    const saved = this.clone();
    const zxid = this.zxid + 1;
    const results: Predicted[] = [];
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      try {
        switch (op.op) {
          case "create":
            results.push({ op: "create", ...this.create(session, op, zxid) });
            break;
          case "delete":
            this.delete(op, zxid);
            results.push({ op: "delete" });
            break;
          case "setData":
            results.push({ op: "setData", ...this.setData(op, zxid) });
            break;
          case "check":
            this.check(op);
            results.push({ op: "check" });
            break;
          default:
            throw new Error(`model: no multi rule for ${op.op}`);
        }
      } catch (e) {
        if (!(e instanceof ModelError)) throw e;
        this.nodes = saved.nodes;
        const vector = ops.map((_, j) =>
          j < i ? { err: 0 } : j === i ? { err: e.code, code: ERR_NAME[e.code], message: ANY_MESSAGE } : { err: ERR.RUNTIMEINCONSISTENCY },
        );
        return { xid, zxid: this.zxid, err: e.code, code: ERR_NAME[e.code], message: ANY_MESSAGE, results: vector };
      }
    }
    this.zxid = zxid;
    return { xid, zxid, err: 0, results };
  }

  // ---------------------------------------------------------------- the operations

  private validate(path: string): void {
    if (!isValidPath(path)) fail(ERR.BADARGUMENTS);
  }

  private mustGet(path: string): ModelNode {
    return this.nodes.get(path) ?? fail(ERR.NONODE);
  }

  private need(node: ModelNode, perm: number): void {
    if (!node.acl.some((a) => a.scheme === "world" && a.id === "anyone" && (a.perms & perm) !== 0)) fail(ERR.NOAUTH);
  }

  private checkVersion(expected: number | undefined, actual: number): void {
    const v = expected ?? -1;
    if (v !== -1 && v !== actual) fail(ERR.BADVERSION);
  }

  /** PrepRequestProcessor.fixupACL for the schemes this model knows. */
  private fixupAcl(acl: Acl[] | undefined): Acl[] {
    const list = acl ?? OPEN_ACL;
    if (list.length === 0) fail(ERR.INVALIDACL);
    for (const a of list) {
      if (!["world", "auth", "digest", "ip", "token"].includes(a.scheme)) fail(ERR.INVALIDACL);
      if (a.scheme !== "world") throw new Error("model: only world ACLs are modelled");
      if (a.id !== "anyone") fail(ERR.INVALIDACL);
    }
    const seen = new Set<string>();
    return list
      .filter((a) => {
        const k = `${a.perms}|${a.scheme}|${a.id}`;
        return seen.has(k) ? false : (seen.add(k), true);
      })
      .map((a) => ({ perms: a.perms, scheme: a.scheme, id: a.id }));
  }

  private create(session: string, req: Record<string, any>, zxid: number): Predicted {
    const mode = typeof req.mode === "string" ? MODES[req.mode] : (req.mode ?? 0);
    const sequential = mode === 2 || mode === 3 || mode === 6;
    const ttlMode = mode === 5 || mode === 6;
    const path: string = req.path;
    // validatePath (with a sample suffix for sequential creates), then validateCreateRequest (TTL).
    if (!isValidPath(sequential ? path + "1" : path)) fail(ERR.BADARGUMENTS);
    if (ttlMode) {
      if (!Number.isInteger(req.ttl) || req.ttl <= 0 || req.ttl > MAX_TTL) fail(ERR.BADARGUMENTS);
    } else if (req.ttl !== undefined && req.ttl !== 0 && req.ttl !== -1) fail(ERR.BADARGUMENTS);
    const acl = this.fixupAcl(req.acl);
    const parentPath = parentOf(sequential && path.endsWith("/") ? path + "x" : path);
    const parent = this.mustGet(parentPath);
    this.need(parent, PERM.CREATE);
    const actual = sequential ? path + String(parent.creates).padStart(10, "0") : path;
    // No request can name a path longer than the frame schema's limit: such a node could never
    // be read, changed or deleted again, so it must not be created.
    if (actual.length > MAX_PATH_CHARS) fail(ERR.BADARGUMENTS);
    if (this.nodes.has(actual)) fail(ERR.NODEEXISTS);
    if (parent.owner !== NO_OWNER) fail(ERR.NOCHILDRENFOREPHEMERALS);
    const data: string = req.data ?? "";
    const dataLength = base64Length(data);
    if (dataLength > this.config.maxDataBytes) fail(ERR.BADARGUMENTS);
    const ephemeral = mode === 1 || mode === 3;
    this.nodes.set(actual, {
      data, dataLength, acl, czxid: zxid, mzxid: zxid, pzxid: zxid, version: 0, aversion: 0, creates: 0,
      owner: ephemeral ? session : NO_OWNER,
      kind: ephemeral ? "ephemeral" : mode === 4 ? "container" : ttlMode ? "ttl" : "persistent",
      children: new Set(),
    });
    parent.creates++;
    parent.children.add(nameOf(actual));
    parent.pzxid = zxid;
    return { path: actual, stat: this.statOf(actual) };
  }

  private delete(req: Record<string, any>, zxid: number): void {
    const path: string = req.path;
    this.validate(path);
    if (["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"].includes(path)) fail(ERR.BADARGUMENTS);
    this.need(this.mustGet(parentOf(path)), PERM.DELETE);
    const node = this.mustGet(path);
    this.checkVersion(req.version, node.version);
    if (node.children.size > 0) fail(ERR.NOTEMPTY);
    this.removeNode(path, zxid);
  }

  removeNode(path: string, zxid: number): void {
    const parent = this.nodes.get(parentOf(path))!;
    this.nodes.delete(path);
    parent.children.delete(nameOf(path));
    parent.pzxid = Math.max(parent.pzxid, zxid);
  }

  private setData(req: Record<string, any>, zxid: number): Predicted {
    const path: string = req.path;
    this.validate(path);
    const node = this.mustGet(path);
    this.need(node, PERM.WRITE);
    this.checkVersion(req.version, node.version);
    const data: string = req.data ?? "";
    const dataLength = base64Length(data);
    if (dataLength > this.config.maxDataBytes) fail(ERR.BADARGUMENTS);
    node.data = data;
    node.dataLength = dataLength;
    node.version++;
    node.mzxid = zxid;
    return { stat: this.statOf(path) };
  }

  private setAcl(req: Record<string, any>): Predicted {
    const path: string = req.path;
    this.validate(path);
    const acl = this.fixupAcl(req.acl);
    const node = this.mustGet(path);
    this.need(node, PERM.ADMIN);
    this.checkVersion(req.version, node.aversion);
    node.acl = acl;
    node.aversion++;
    return { stat: this.statOf(path) };
  }

  private check(req: Record<string, any>): void {
    this.validate(req.path);
    const node = this.mustGet(req.path);
    this.need(node, PERM.READ);
    this.checkVersion(req.version, node.version);
  }

  private read(req: Record<string, any>): Predicted {
    const path: string = req.path;
    this.validate(path);
    switch (req.op) {
      case "exists": {
        const node = this.nodes.get(path);
        if (node) this.need(node, PERM.READ);
        return { stat: node ? this.statOf(path) : null };
      }
      case "getData": {
        const node = this.mustGet(path);
        this.need(node, PERM.READ);
        return { data: node.data, stat: this.statOf(path) };
      }
      default: {
        const node = this.mustGet(path);
        this.need(node, PERM.READ);
        const limit = req.limit as number | undefined;
        if (limit !== undefined && (limit < 1 || limit > this.config.maxChildrenPage)) fail(ERR.BADARGUMENTS);
        let names = this.childrenOf(path);
        if (req.cursor !== undefined) names = names.filter((n) => n > req.cursor);
        if (limit !== undefined && names.length > limit) {
          const page = names.slice(0, limit);
          return { children: page, stat: this.statOf(path), cursor: page[page.length - 1] };
        }
        return { children: names, stat: this.statOf(path), cursor: ABSENT };
      }
    }
  }
}

/** Code-unit order, which is code-point order for valid ZooKeeper names (no surrogates). */
export const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

// ------------------------------------------------------------------ comparing responses

/**
 * Where `actual` departs from `expected`: a description, or null when it matches. Keys the
 * prediction does not mention are ignored (servers may add optional fields, docs/protocol.md
 * §8); `ABSENT` demands a key be missing.
 */
export function mismatch(actual: unknown, expected: unknown, at = "$"): string | null {
  if (expected === ANY_MESSAGE) return typeof actual === "string" && actual.length > 0 ? null : `${at}: expected a message, got ${show(actual)}`;
  if (expected === ABSENT) return actual === undefined ? null : `${at}: expected no such field, got ${show(actual)}`;
  if (expected instanceof StatExpect) {
    if (typeof actual !== "object" || actual === null) return `${at}: expected a stat, got ${show(actual)}`;
    const a = actual as Record<string, unknown>;
    for (const [k, v] of Object.entries(expected.fields)) if (a[k] !== v) return `${at}.${k}: expected ${show(v)}, got ${show(a[k])} (stat ${show(a)})`;
    if (typeof a.ctime !== "number" || typeof a.mtime !== "number" || a.mtime < a.ctime) return `${at}: bad ctime/mtime in ${show(a)}`;
    return null;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return `${at}: expected ${show(expected)}, got ${show(actual)}`;
    for (let i = 0; i < expected.length; i++) {
      const m = mismatch(actual[i], expected[i], `${at}[${i}]`);
      if (m) return m;
    }
    return null;
  }
  if (typeof expected === "object" && expected !== null) {
    if (typeof actual !== "object" || actual === null || Array.isArray(actual)) return `${at}: expected an object, got ${show(actual)}`;
    for (const [k, v] of Object.entries(expected)) {
      const m = mismatch((actual as Record<string, unknown>)[k], v, `${at}.${k}`);
      if (m) return m;
    }
    return null;
  }
  return Object.is(actual, expected) ? null : `${at}: expected ${show(expected)}, got ${show(actual)}`;
}

export function show(v: unknown, max = 400): string {
  const s = JSON.stringify(v, (_k, x) => (x instanceof StatExpect ? x.fields : typeof x === "symbol" ? String(x) : x));
  return s === undefined ? String(v) : s.length > max ? s.slice(0, max) + "…" : s;
}
