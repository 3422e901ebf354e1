import zookeeper from "node-zookeeper-client";
import { connect as ekConnect, Mutex, SocketShare, type EdgeKeeper } from "../../src/client/index.js";

/**
 * The two systems behind one small interface, so that every workload runs the same code on
 * both: edgekeeper through its own client (src/client), ZooKeeper through
 * node-zookeeper-client, a ZooKeeper client from npm.
 */

export type SystemName = "edgekeeper" | "zookeeper";
export type Mode = "persistent" | "ephemeral_sequential";

/** One session (one connection) of either system. */
export interface Session {
  create(path: string, data: Uint8Array, mode?: Mode): Promise<string>;
  setData(path: string, data: Uint8Array): Promise<unknown>;
  /** Reads a node; with a watcher, sets a one-shot data watch that calls it once. */
  getData(path: string, watcher?: () => void): Promise<unknown>;
  exists(path: string): Promise<boolean>;
  delete(path: string): Promise<unknown>;
  getChildren(path: string): Promise<string[]>;
  close(): Promise<void>;
}

export interface Target {
  readonly name: SystemName;
  connect(): Promise<Session>;
  /** Acquires the herd-free mutex at `base`; resolves with its release. */
  lock(session: Session, base: string): Promise<() => Promise<unknown>>;
  /** How the lock is implemented, for the report. */
  readonly lockImpl: string;
  /** The same server, another namespace (edgekeeper only: one Durable Object per namespace). */
  inNamespace?(namespace: string): Target;
}

/** Creates `path` (and ancestors) as persistent nodes if missing. */
export async function ensurePath(s: Session, path: string): Promise<void> {
  let at = "";
  for (const part of path.split("/").filter(Boolean)) {
    at += "/" + part;
    if (await s.exists(at)) continue;
    try {
      await s.create(at, new Uint8Array(0), "persistent");
    } catch (e) {
      if (!isNodeExists(e)) throw e;
    }
  }
}

function codeOf(e: unknown): number | undefined {
  if (e && typeof e === "object") {
    const o = e as { code?: unknown; getCode?: () => number };
    if (typeof o.getCode === "function") return o.getCode();
    if (typeof o.code === "number") return o.code;
  }
  return undefined;
}
export const isNoNode = (e: unknown) => codeOf(e) === -101;
export const isNodeExists = (e: unknown) => codeOf(e) === -110;

// ---------------------------------------------------------------- edgekeeper

class EkSession implements Session {
  constructor(readonly zk: EdgeKeeper) {}
  create(path: string, data: Uint8Array, mode: Mode = "persistent"): Promise<string> {
    return this.zk.create(path, data, { mode });
  }
  setData(path: string, data: Uint8Array): Promise<unknown> {
    return this.zk.setData(path, data);
  }
  getData(path: string, watcher?: () => void): Promise<unknown> {
    return this.zk.getData(path, watcher ? { watch: () => watcher() } : {});
  }
  async exists(path: string): Promise<boolean> {
    return (await this.zk.exists(path)) !== null;
  }
  delete(path: string): Promise<unknown> {
    return this.zk.delete(path);
  }
  getChildren(path: string): Promise<string[]> {
    return this.zk.getChildren(path);
  }
  close(): Promise<void> {
    return this.zk.close();
  }
}

/**
 * edgekeeper through its own client. `share`: the sessions of this target (of this bench
 * process) ride shared WebSockets (SocketShare, up to 200 sessions each), as a process that
 * holds many sessions would connect; off, every session has its own socket.
 */
export function edgekeeperTarget(baseUrl: string, namespace: string, coalesce = true, share = true): Target {
  const pool = share ? new SocketShare() : undefined;
  return {
    inNamespace: (suffix) => edgekeeperTarget(baseUrl, `${namespace}-${suffix}`, coalesce, share),
    name: "edgekeeper",
    lockImpl: "src/client/recipes/mutex.ts (Mutex)",
    async connect() {
      return new EkSession(await ekConnect(baseUrl, { namespace, sessionTimeout: 30_000, connectTimeout: 30_000, coalesce, share: pool }));
    },
    async lock(session, base) {
      const lease = await new Mutex((session as EkSession).zk, base).acquire();
      return () => lease.release();
    },
  };
}

// ---------------------------------------------------------------- ZooKeeper

type ZkClient = ReturnType<typeof zookeeper.createClient>;

const MODES: Record<Mode, number> = {
  persistent: zookeeper.CreateMode.PERSISTENT,
  ephemeral_sequential: zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
};

class ZkSession implements Session {
  constructor(readonly c: ZkClient) {}
  create(path: string, data: Uint8Array, mode: Mode = "persistent"): Promise<string> {
    return new Promise((ok, fail) => this.c.create(path, Buffer.from(data.buffer, data.byteOffset, data.byteLength), MODES[mode], (e, p) => (e ? fail(e) : ok(p))));
  }
  setData(path: string, data: Uint8Array): Promise<unknown> {
    return new Promise((ok, fail) => this.c.setData(path, Buffer.from(data.buffer, data.byteOffset, data.byteLength), -1, (e, s) => (e ? fail(e) : ok(s))));
  }
  getData(path: string, watcher?: () => void): Promise<unknown> {
    return new Promise((ok, fail) => {
      const cb = (e: unknown, d: Buffer) => (e ? fail(e) : ok(d));
      if (watcher) this.c.getData(path, () => watcher(), cb);
      else this.c.getData(path, cb);
    });
  }
  exists(path: string): Promise<boolean> {
    return new Promise((ok, fail) => this.c.exists(path, (e, s) => (e ? fail(e) : ok(!!s))));
  }
  delete(path: string): Promise<unknown> {
    return new Promise<void>((ok, fail) => this.c.remove(path, -1, (e) => (e ? fail(e) : ok())));
  }
  getChildren(path: string): Promise<string[]> {
    return new Promise((ok, fail) => this.c.getChildren(path, (e, ch) => (e ? fail(e) : ok(ch))));
  }
  close(): Promise<void> {
    return new Promise((ok) => {
      const t = setTimeout(ok, 3000);
      this.c.once("disconnected", () => (clearTimeout(t), ok()));
      this.c.close();
    });
  }
}

const seqOf = (name: string) => Number(name.slice(-10));

/**
 * The herd-free mutex on ZooKeeper, by hand: the same requests, in the same order, as
 * edgekeeper's Mutex recipe (Curator's InterProcessMutex algorithm plus what the recipe adds):
 * exists(base); create EPHEMERAL_SEQUENTIAL base/lock-; getChildren(base); while not first:
 * getData(predecessor, watch), wait for its event, getChildren again; once granted, a
 * getData(own node, watch) that is not waited for (the recipe's lease watch).
 */
async function zkLock(s: ZkSession, base: string, data: Uint8Array): Promise<() => Promise<unknown>> {
  await s.exists(base);
  const me = await s.create(`${base}/lock-`, data, "ephemeral_sequential");
  const name = me.slice(base.length + 1);
  for (;;) {
    const sorted = (await s.getChildren(base)).filter((n) => /\d{10}$/.test(n)).sort((a, b) => seqOf(a) - seqOf(b));
    const i = sorted.indexOf(name);
    if (i < 0) throw new Error(`contender ${me} vanished`);
    if (i === 0) {
      s.getData(me, () => {}).catch(() => {});
      return () => s.delete(me);
    }
    let wake!: () => void;
    const fired = new Promise<void>((r) => (wake = r));
    try {
      await s.getData(`${base}/${sorted[i - 1]}`, wake);
    } catch (e) {
      if (isNoNode(e)) continue;
      throw e;
    }
    await fired;
  }
}

export function zookeeperTarget(connectString: string): Target {
  const lockData = new TextEncoder().encode(JSON.stringify({ owner: "bench", kind: "ws" }));
  return {
    name: "zookeeper",
    lockImpl: "bench/lib/targets.ts zkLock (the Mutex recipe's request sequence, by hand)",
    connect() {
      return new Promise((ok, fail) => {
        const c = zookeeper.createClient(connectString, { sessionTimeout: 30_000, spinDelay: 100, retries: 0 });
        const t = setTimeout(() => (c.close(), fail(new Error("ZooKeeper: no session within 30 s"))), 30_000);
        c.once("connected", () => (clearTimeout(t), ok(new ZkSession(c))));
        c.connect();
      });
    },
    lock(session, base) {
      return zkLock(session as ZkSession, base, lockData);
    },
  };
}
