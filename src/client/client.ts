import type { ACL, Id } from "../core/acl.js";
import type { Stat } from "../core/stat.js";
import { decodeBase64, encodeBase64 } from "../protocol/base64.js";
import type { SocketShare } from "./shared-socket.js";
import { Connection, globalWebSocket, type RequestOptions, type SocketFactory, type State, type TokenSource } from "./connection.js";
import { fromJson, toBytes, utf8, type Data } from "./data.js";
import { ClosedError, NoWatcherError, OperationTimeoutError } from "./errors.js";
import { Transaction, type MultiResult, type WireOp } from "./transaction.js";
import { WatcherRegistry, type LocalWatchKind, type WatchEvent, type Watcher } from "./watchers.js";

export type { Stat, ACL, Id, State, WatchEvent, Watcher };

export type CreateModeName =
  | "persistent"
  | "ephemeral"
  | "persistent_sequential"
  | "ephemeral_sequential"
  | "container"
  | "persistent_ttl"
  | "persistent_sequential_ttl";

export interface ConnectOptions {
  /** The namespace to join (one Durable Object; 1-63 of [A-Za-z0-9._-]). */
  namespace: string;
  /** Requested session timeout (ms); the server clamps it. Default 30 000. */
  sessionTimeout?: number;
  /** Default per-request timeout (ms; 0 = none). Default 0. */
  requestTimeout?: number;
  /** How long `connect` waits for the first session before failing (ms). Default 15 000. */
  connectTimeout?: number;
  /** Reconnect backoff bounds (ms). Defaults 100 and 5 000. */
  backoff?: { baseMs?: number; maxMs?: number };
  /**
   * The bearer token (JWT) the service requires (docs/security.md): a string, or a function
   * that returns a fresh one — asked before every connection, so a long-lived client outlives
   * its tokens (the server closes a socket whose token expires; the client reconnects and
   * resumes its session with the next token).
   */
  token?: TokenSource;
  /**
   * Send the requests issued in one tick as one frame, applied in one storage commit
   * (default true). `false` sends one frame per request: only useful to measure the gain.
   */
  coalesce?: boolean;
  /** WebSocket factory; defaults to the global WebSocket. Tests pass fakes here. */
  WebSocket?: SocketFactory;
  /**
   * Carry this session over a WebSocket shared with the other sessions given the same
   * SocketShare (src/client/shared-socket.ts): their requests of one tick leave in one
   * message and are applied in one storage commit. For processes that hold many sessions.
   */
  share?: SocketShare;
}

/** Per-call options every operation accepts. */
export interface CallOptions {
  signal?: AbortSignal;
  timeout?: number;
}
export type WatchOption = { watch?: Watcher };

export interface CreateOptions extends CallOptions {
  mode?: CreateModeName;
  acl?: ACL[];
  /** TTL (ms) for the TTL modes. */
  ttl?: number;
}

export interface DataResult {
  data: Uint8Array;
  stat: Stat;
}
export interface ChildrenResult {
  children: string[];
  stat: Stat;
  /** Present when more children remain: pass it as `cursor` for the next page. */
  cursor?: string;
}

type StateListener = (state: State, previous: State) => void;

let seq = 0;
const requestId = () =>
  typeof crypto !== "undefined" && "randomUUID" in crypto ? crypto.randomUUID() : `${Date.now().toString(36)}-${(seq++).toString(36)}-${Math.random().toString(36).slice(2)}`;

/**
 * `http(s)://host` or `ws(s)://host` → the namespace's WebSocket URL: its `route` is `ws` (the
 * JSON protocol) or `zk` (ZooKeeper's binary protocol, for the CLI's tunnel).
 */
export function namespaceUrl(base: string, namespace: string, route: "ws" | "zk" = "ws"): string {
  const u = new URL(base);
  if (u.protocol === "http:") u.protocol = "ws:";
  if (u.protocol === "https:") u.protocol = "wss:";
  u.pathname = `${u.pathname.replace(/\/$/, "")}/v1/namespaces/${encodeURIComponent(namespace)}/${route}`;
  return u.toString();
}

/**
 * Connects to an edgekeeper namespace and resolves once a session is established.
 *
 * ```ts
 * const zk = await connect("https://coord.example.com", { namespace: "app" });
 * await zk.create("/jobs/job-", "payload", { mode: "persistent_sequential" });
 * ```
 */
export async function connect(url: string, options: ConnectOptions): Promise<EdgeKeeper> {
  const client = new EdgeKeeper(url, options);
  await client.ready;
  return client;
}

/**
 * A client with ZooKeeper's API. Requests issued in the same tick leave in one frame;
 * responses resolve in order; watch callbacks run before the response of any request that
 * reflects their change.
 */
export class EdgeKeeper {
  private readonly conn: Connection;
  private readonly watchers = new WatcherRegistry();
  private readonly stateListeners = new Set<StateListener>();
  private readonly resyncListeners = new Set<() => void>();
  /** Resolves when the first session is established. */
  readonly ready: Promise<void>;

  constructor(url: string, readonly options: ConnectOptions) {
    const socket: SocketFactory = options.share?.socket ?? options.WebSocket ?? globalWebSocket;
    this.conn = new Connection({
      url: namespaceUrl(url, options.namespace),
      sessionTimeout: options.sessionTimeout ?? 30_000,
      requestTimeout: options.requestTimeout ?? 0,
      backoffBaseMs: options.backoff?.baseMs ?? 100,
      backoffMaxMs: options.backoff?.maxMs ?? 5_000,
      coalesce: options.coalesce ?? true,
      socket,
      token: options.token,
      auth: () => this.credentials,
      watches: () => this.watchers.watchSet(),
      onEvent: (e) => this.dispatch(e),
      onState: (s, prev) => {
        for (const l of this.stateListeners) l(s, prev);
      },
      onResync: () => {
        for (const l of this.resyncListeners) l();
      },
    });
    const connectTimeout = options.connectTimeout ?? 15_000;
    this.ready = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        reject(new OperationTimeoutError(`no session within ${connectTimeout} ms`));
        void this.close();
      }, connectTimeout);
      this.conn.start().then(
        () => (clearTimeout(t), resolve()),
        (e) => (clearTimeout(t), reject(e)),
      );
    });
    this.ready.catch(() => {});
  }

  // ------------------------------------------------------------------ state

  get state(): State {
    return this.conn.state;
  }
  get sessionId(): string | undefined {
    return this.conn.sessionId;
  }
  /** The session timeout the server granted (ms). */
  get sessionTimeout(): number {
    return this.conn.negotiatedTimeout;
  }
  /** The highest zxid this client has seen. */
  get lastZxid(): number {
    return this.conn.lastZxid;
  }

  /** Listens to connection state changes; returns a function that removes the listener. */
  onState(listener: StateListener): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /**
   * Called when the server could not replay everything missed during a disconnection (the
   * change log was compacted): caches built on persistent watches must re-read.
   */
  onResync(listener: () => void): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  /** Resolves when the client is (again) connected; rejects if it reaches a final state. */
  waitConnected(): Promise<void> {
    if (this.state === "connected") return Promise.resolve();
    return new Promise((resolve, reject) => {
      const off = this.onState((s) => {
        if (s === "connected") (off(), resolve());
        else if (s === "expired" || s === "closed" || s === "authFailed") (off(), reject(new ClosedError(`client is ${s}`)));
      });
    });
  }

  private dispatch(e: WatchEvent): void {
    for (const w of this.watchers.materialize(e)) {
      try {
        w(e);
      } catch (err) {
        console.error("edgekeeper: watcher threw", err);
      }
    }
  }

  private call(frame: Record<string, unknown>, opts: CallOptions & RequestOptions = {}) {
    return this.conn.request(frame, opts);
  }

  // ------------------------------------------------------------------ data operations

  /** Creates a node and returns its path (with the sequence suffix for sequential modes). */
  async create(path: string, data?: Data, opts: CreateOptions = {}): Promise<string> {
    return (await this.create2(path, data, opts)).path;
  }

  /**
   * Creates a node and returns its path and Stat. Safe to retry across a lost connection:
   * each create carries a request id, so the server applies it at most once.
   */
  async create2(path: string, data?: Data, opts: CreateOptions = {}): Promise<{ path: string; stat: Stat }> {
    const r = await this.call(
      { op: "create", path, data: encodeBase64(toBytes(data)), mode: opts.mode ?? "persistent", acl: opts.acl, ttl: opts.ttl, requestId: requestId() },
      { ...opts, retry: true },
    );
    return { path: r.path, stat: r.stat };
  }

  async delete(path: string, opts: CallOptions & { version?: number } = {}): Promise<void> {
    await this.call({ op: "delete", path, version: opts.version ?? -1 }, opts);
  }

  /** The node's Stat, or null if it does not exist. A watcher fires on its creation, change or deletion. */
  async exists(path: string, opts: CallOptions & WatchOption = {}): Promise<Stat | null> {
    const watch = opts.watch;
    const r = await this.call({ op: "exists", path, watch: !!watch }, { ...opts, onResult: watch && ((m) => this.watchers.add(m.stat ? "data" : "exist", path, watch)) });
    return r.stat;
  }

  async getData(path: string, opts: CallOptions & WatchOption = {}): Promise<DataResult> {
    const watch = opts.watch;
    const r = await this.call({ op: "getData", path, watch: !!watch }, { ...opts, onResult: watch && (() => this.watchers.add("data", path, watch)) });
    return { data: decodeBase64(r.data), stat: r.stat };
  }

  /** getData, decoded as UTF-8. */
  async getString(path: string, opts: CallOptions & WatchOption = {}): Promise<{ data: string; stat: Stat }> {
    const r = await this.getData(path, opts);
    return { data: utf8(r.data), stat: r.stat };
  }

  /** getData, parsed as JSON. */
  async getJSON<T = unknown>(path: string, opts: CallOptions & WatchOption = {}): Promise<{ data: T; stat: Stat }> {
    const r = await this.getData(path, opts);
    return { data: fromJson<T>(r.data), stat: r.stat };
  }

  async setData(path: string, data: Data, opts: CallOptions & { version?: number } = {}): Promise<Stat> {
    const r = await this.call({ op: "setData", path, data: encodeBase64(toBytes(data)), version: opts.version ?? -1 }, opts);
    return r.stat;
  }

  /** Children names, sorted. */
  async getChildren(path: string, opts: CallOptions & WatchOption = {}): Promise<string[]> {
    return (await this.getChildren2(path, opts)).children;
  }

  /** Children with the parent's Stat; with `limit`, one page (continue with `cursor`). */
  async getChildren2(path: string, opts: CallOptions & WatchOption & { limit?: number; cursor?: string } = {}): Promise<ChildrenResult> {
    const watch = opts.watch;
    const r = await this.call(
      { op: "getChildren", path, watch: !!watch, limit: opts.limit, cursor: opts.cursor },
      { ...opts, onResult: watch && (() => this.watchers.add("child", path, watch)) },
    );
    return r.cursor === undefined ? { children: r.children, stat: r.stat } : { children: r.children, stat: r.stat, cursor: r.cursor };
  }

  /** Every child of a large parent, fetched page by page. */
  async *children(path: string, opts: CallOptions & { pageSize?: number } = {}): AsyncGenerator<string> {
    let cursor: string | undefined;
    do {
      const page = await this.getChildren2(path, { ...opts, limit: opts.pageSize ?? 1000, cursor });
      yield* page.children;
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  async getACL(path: string, opts: CallOptions = {}): Promise<{ acl: ACL[]; stat: Stat }> {
    const r = await this.call({ op: "getACL", path }, opts);
    return { acl: r.acl, stat: r.stat };
  }

  async setACL(path: string, acl: ACL[], opts: CallOptions & { version?: number } = {}): Promise<Stat> {
    const r = await this.call({ op: "setACL", path, acl, version: opts.version ?? -1 }, opts);
    return r.stat;
  }

  /** A transaction builder: `await zk.transaction().create(...).setData(...).commit()`. */
  transaction(): Transaction {
    return new Transaction((ops, opts) => this.multi(ops, opts));
  }

  /** Applies ops atomically (one zxid). On failure throws the failing op's error, with `results`. */
  async multi(ops: WireOp[], opts: CallOptions = {}): Promise<MultiResult[]> {
    const r = await this.call({ op: "multi", ops }, opts);
    return r.results;
  }

  /** Reads several nodes at one zxid; each result is independent (`err` set on failure). */
  async multiRead(
    ops: Array<{ op: "getData" | "getChildren" | "exists"; path: string }>,
    opts: CallOptions = {},
  ): Promise<Array<{ err?: number; message?: string; data?: Uint8Array; children?: string[]; stat?: Stat | null }>> {
    const r = await this.call({ op: "multiRead", ops }, opts);
    return r.results.map((x: Record<string, any>) => (typeof x.data === "string" ? { ...x, data: decodeBase64(x.data) } : x));
  }

  /** Waits until everything committed before it is visible (always true here: reads are linearizable). */
  async sync(path = "/", opts: CallOptions = {}): Promise<void> {
    await this.call({ op: "sync", path }, opts);
  }

  /** Paths of this session's ephemeral nodes (optionally those starting with `prefix`). */
  async getEphemerals(prefix = "/", opts: CallOptions = {}): Promise<string[]> {
    return (await this.call({ op: "getEphemerals", path: prefix }, opts)).paths;
  }

  /** Number of nodes below `path`, at any depth. */
  async getAllChildrenNumber(path: string, opts: CallOptions = {}): Promise<number> {
    return (await this.call({ op: "getAllChildrenNumber", path }, opts)).count;
  }

  /** addAuth credentials, re-sent with every reconnect's handshake. */
  private credentials: Array<{ scheme: string; auth: string }> = [];

  /**
   * Proves an identity for ACLs, as ZooKeeper's addAuthInfo: `addAuth("digest", "user:password")`
   * gives this connection `digest:user:<hash>`. Kept and sent again after every reconnect.
   */
  async addAuth(scheme: string, auth: string, opts: CallOptions = {}): Promise<void> {
    await this.call({ op: "addAuth", scheme, auth }, opts);
    if (!this.credentials.some((c) => c.scheme === scheme && c.auth === auth)) this.credentials.push({ scheme, auth });
  }

  async whoAmI(opts: CallOptions = {}): Promise<Id[]> {
    return (await this.call({ op: "whoAmI" }, opts)).identities;
  }

  // ------------------------------------------------------------------ watches

  /** Adds a persistent (optionally recursive) watch; the watcher stays until removed. */
  async addWatch(path: string, watcher: Watcher, opts: CallOptions & { recursive?: boolean } = {}): Promise<void> {
    const kind: LocalWatchKind = opts.recursive ? "persistentRecursive" : "persistent";
    await this.call({ op: "addWatch", path, mode: opts.recursive ? "persistentRecursive" : "persistent" }, { ...opts, onResult: () => this.watchers.add(kind, path, watcher) });
  }

  /**
   * Removes watchers of a kind at a path (a given one, or all). The server forgets the watch
   * once no local watcher of that kind remains. Throws NoWatcherError if there was none.
   */
  async removeWatches(
    path: string,
    type: "children" | "data" | "any" | "persistent" | "persistentRecursive",
    watcher?: Watcher,
    opts: CallOptions = {},
  ): Promise<void> {
    const kinds: LocalWatchKind[] = {
      children: ["child"],
      data: ["data", "exist"],
      any: ["child", "data", "exist", "persistent", "persistentRecursive"],
      persistent: ["persistent"],
      persistentRecursive: ["persistentRecursive"],
    }[type] as LocalWatchKind[];
    const removedKinds = kinds.filter((k) => this.watchers.remove(k, path, watcher));
    if (removedKinds.length === 0) throw new NoWatcherError(`no ${type} watcher on ${path}`);
    const serverType = (k: LocalWatchKind) => (k === "child" ? "children" : k === "exist" ? "data" : k);
    // The server keeps one watch per type (data and exist watches are both its data watch):
    // remove it only if a watcher was removed from it and no local watcher still needs it.
    const allKinds: LocalWatchKind[] = ["data", "exist", "child", "persistent", "persistentRecursive"];
    const stillNeeded = (t: string) => allKinds.some((k) => serverType(k) === t && this.watchers.has(k, path));
    const gone = [...new Set(removedKinds.map(serverType))].filter((t) => !stillNeeded(t));
    for (const t of gone) {
      try {
        await this.call({ op: "removeWatches", path, type: t }, opts);
      } catch (e) {
        if (!(e instanceof NoWatcherError)) throw e;
      }
    }
  }

  /**
   * Watch events as an async iterator, on a persistent (or recursive) watch that is removed
   * when the loop ends: `for await (const e of zk.watch("/config", { recursive: true })) …`.
   */
  watch(path: string, opts: CallOptions & { recursive?: boolean } = {}): AsyncIterable<WatchEvent> {
    const client = this;
    return {
      [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
        const buffered: WatchEvent[] = [];
        let wake: (() => void) | undefined;
        let done = false;
        let failure: unknown;
        const watcher: Watcher = (e) => {
          buffered.push(e);
          wake?.();
        };
        const off = client.onState((s) => {
          if (s === "expired" || s === "closed" || s === "authFailed") {
            done = true;
            wake?.();
          }
        });
        const added = client.addWatch(path, watcher, opts).catch((e) => {
          failure = e;
          done = true;
        });
        const finish = async () => {
          done = true;
          off();
          await added;
          if (failure === undefined && client.state === "connected")
            await client.removeWatches(path, opts.recursive ? "persistentRecursive" : "persistent", watcher).catch(() => {});
        };
        return {
          async next() {
            await added;
            for (;;) {
              if (failure !== undefined) throw failure;
              if (buffered.length > 0) return { value: buffered.shift()!, done: false };
              if (done) return { value: undefined, done: true };
              await new Promise<void>((r) => (wake = r));
              wake = undefined;
            }
          },
          async return() {
            await finish();
            return { value: undefined, done: true };
          },
        };
      },
    };
  }

  // ------------------------------------------------------------------ lifecycle

  /** Ends the session (its ephemeral nodes are deleted) and closes the socket. */
  close(): Promise<void> {
    return this.conn.close();
  }

  /**
   * Drops the current socket without ending the session, as a network failure would; the
   * client then reconnects and resumes. Useful for tests and for apps that know they went
   * offline.
   */
  dropConnection(): void {
    this.conn.dropSocket();
  }
}
