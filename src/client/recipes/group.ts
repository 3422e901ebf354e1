import type { EdgeKeeper } from "../client.js";
import { fromJson, json } from "../data.js";
import { NoNodeError, NodeExistsError } from "../errors.js";
import { joinPath, parentOf } from "../../core/paths.js";
import { ensurePath } from "./sequence.js";
import { TreeCache, type ChildData } from "./tree-cache.js";
import { retryOnLoss } from "./waiting.js";

/** Parses a member node's JSON payload; a foreign or malformed node yields undefined. */
function payloadOf<T>(node: ChildData): T | undefined {
  try {
    return node.data.length === 0 ? undefined : fromJson<T>(node.data);
  } catch {
    return undefined;
  }
}

/**
 * Creates the ephemeral node of a member. A NodeExists for a node this very session owns is
 * our own create repeated (after a lost reply); one owned by another session means the id is
 * taken — by another process, or by this process's previous session that has not expired yet.
 */
async function createMember(zk: EdgeKeeper, path: string, data: Uint8Array): Promise<void> {
  try {
    await zk.create(path, data, { mode: "ephemeral" });
  } catch (e) {
    if (e instanceof NoNodeError) {
      await ensurePath(zk, parentOf(path));
      return createMember(zk, path, data);
    }
    if (!(e instanceof NodeExistsError)) throw e;
    const stat = await retryOnLoss(zk, () => zk.exists(path));
    if (stat && stat.ephemeralOwner === zk.sessionId) return;
    if (!stat) return createMember(zk, path, data);
    throw new NodeExistsError(`member ${path} is held by another session`);
  }
}

async function deleteQuietly(zk: EdgeKeeper, path: string): Promise<void> {
  try {
    await retryOnLoss(zk, () => zk.delete(path));
  } catch (e) {
    if (!(e instanceof NoNodeError)) throw e;
  }
}

/**
 * Group membership (Curator's GroupMember): this process joins as the ephemeral node
 * `<group>/<id>` holding a JSON payload, and keeps a live view of all members through a
 * TreeCache on the group.
 *
 * Membership is the session: a member stays while its client stays connected or resumes
 * within the session timeout, and leaves when the client closes or the session expires.
 * Expiry ends membership for good — the expired client cannot act again, so the node is
 * NOT re-created; a process that wants to rejoin must connect a new client and start a new
 * GroupMember (Curator's PersistentNode re-creates on the new session of the same client;
 * here a session is a client).
 */
export class GroupMember<T = unknown> {
  readonly path: string;
  private readonly cache: TreeCache;

  constructor(
    readonly zk: EdgeKeeper,
    readonly groupPath: string,
    readonly id: string,
    private payload?: T,
  ) {
    if (id.includes("/") || id === "") throw new RangeError(`invalid member id: ${id}`);
    this.path = joinPath(groupPath, id);
    this.cache = new TreeCache(zk, groupPath);
  }

  /** Joins the group and loads the membership view. */
  async start(): Promise<void> {
    await ensurePath(this.zk, this.groupPath);
    await createMember(this.zk, this.path, json(this.payload ?? null));
    await this.cache.start();
  }

  /** Replaces this member's payload; the others see it through their caches. */
  async updatePayload(payload: T): Promise<void> {
    this.payload = payload;
    await this.zk.setData(this.path, json(payload));
  }

  /** Current members: id → payload (as last seen by the cache). */
  getCurrentMembers(): Map<string, T | undefined> {
    const out = new Map<string, T | undefined>();
    for (const name of this.cache.getChildren(this.groupPath) ?? []) {
      const node = this.cache.getCurrentData(joinPath(this.groupPath, name));
      if (node) out.set(name, payloadOf<T>(node));
    }
    return out;
  }

  /** Called whenever a member joins, leaves or changes its payload. */
  onChange(listener: () => void): () => void {
    return this.cache.listen((e) => {
      if (e.path !== this.groupPath) listener();
    });
  }

  /** Leaves the group (deletes this member's node) and stops the cache. */
  async close(): Promise<void> {
    await this.cache.close();
    await deleteQuietly(this.zk, this.path);
  }
}

/** A registered instance of a service (after Curator's ServiceInstance). */
export interface ServiceInstance<T = unknown> {
  name: string;
  id: string;
  address?: string;
  port?: number;
  payload?: T;
  /** ms since epoch, when it registered. */
  registrationTime: number;
}

const randomId = () =>
  typeof crypto !== "undefined" && "randomUUID" in crypto ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

/**
 * Service discovery (Curator's ServiceDiscovery + ServiceCache): instances register as
 * ephemeral `<base>/<service name>/<instance id>` nodes holding the instance as JSON (base
 * defaults to `/services`), so an instance disappears when its client goes away. Queries are
 * answered from one TreeCache over the whole base path, kept current by its recursive watch;
 * `start()` must have resolved before querying.
 *
 * As with GroupMember, an instance registered by a client whose session expires is gone; a
 * new client must register it again.
 */
export class ServiceDiscovery<T = unknown> {
  readonly basePath: string;
  private readonly cache: TreeCache;
  private readonly registered = new Map<string, ServiceInstance<T>>();

  constructor(
    readonly zk: EdgeKeeper,
    opts: { basePath?: string } = {},
  ) {
    this.basePath = opts.basePath ?? "/services";
    this.cache = new TreeCache(zk, this.basePath);
  }

  /** Loads the instance cache. */
  async start(): Promise<void> {
    await ensurePath(this.zk, this.basePath);
    await this.cache.start();
  }

  /** Registers an instance (id generated if absent); returns it as stored. */
  async registerService(instance: Omit<ServiceInstance<T>, "id" | "registrationTime"> & { id?: string }): Promise<ServiceInstance<T>> {
    const full: ServiceInstance<T> = { ...instance, id: instance.id ?? randomId(), registrationTime: Date.now() };
    checkName(full.name);
    checkName(full.id);
    await createMember(this.zk, this.instancePath(full), json(full));
    this.registered.set(this.instancePath(full), full);
    return full;
  }

  /** Replaces a registered instance's data (address, port, payload). */
  async updateService(instance: ServiceInstance<T>): Promise<void> {
    await this.zk.setData(this.instancePath(instance), json(instance));
    this.registered.set(this.instancePath(instance), instance);
  }

  async unregisterService(instance: Pick<ServiceInstance<T>, "name" | "id">): Promise<void> {
    this.registered.delete(this.instancePath(instance));
    await deleteQuietly(this.zk, this.instancePath(instance));
  }

  /** Names of the services that have (or had) instances. */
  queryForNames(): string[] {
    return this.cache.getChildren(this.basePath) ?? [];
  }

  /** The live instances of a service, from the cache. */
  queryForInstances(name: string): ServiceInstance<T>[] {
    const servicePath = joinPath(this.basePath, name);
    const out: ServiceInstance<T>[] = [];
    for (const id of this.cache.getChildren(servicePath) ?? []) {
      const node = this.cache.getCurrentData(joinPath(servicePath, id));
      const instance = node && payloadOf<ServiceInstance<T>>(node);
      if (instance && typeof instance === "object") out.push(instance);
    }
    return out;
  }

  queryForInstance(name: string, id: string): ServiceInstance<T> | undefined {
    const node = this.cache.getCurrentData(joinPath(joinPath(this.basePath, name), id));
    return node && payloadOf<ServiceInstance<T>>(node);
  }

  /** Called with the service name whenever one of its instances appears, changes or goes. */
  onChange(listener: (service: string) => void): () => void {
    return this.cache.listen((e) => {
      const rel = e.path.slice(this.basePath === "/" ? 1 : this.basePath.length + 1).split("/");
      if (rel.length === 2) listener(rel[0]);
    });
  }

  /** Unregisters this client's instances and stops the cache. */
  async close(): Promise<void> {
    await this.cache.close();
    for (const path of [...this.registered.keys()]) await deleteQuietly(this.zk, path);
    this.registered.clear();
  }

  private instancePath(i: Pick<ServiceInstance<T>, "name" | "id">): string {
    return joinPath(joinPath(this.basePath, i.name), i.id);
  }
}

function checkName(s: string): void {
  if (!s || s.includes("/")) throw new RangeError(`invalid service name or id: ${JSON.stringify(s)}`);
}
