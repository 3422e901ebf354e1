import { afterEach } from "vitest";
import { connect, type ConnectOptions, type EdgeKeeper, type SocketLike } from "../../src/client/index.js";
import { WorkerSocket } from "./worker-socket.js";

/**
 * One client's network, for the recipe tests: cut its sockets (the client reconnects and
 * resumes), block reconnection (so that its session expires on the server), and count the
 * watch events the server delivers to it (to check that a recipe wakes no herd).
 */
export class Net {
  blocked = false;
  /** Every watch event delivered to this client, in order. */
  readonly events: Array<{ event: string; path: string }> = [];
  private readonly sockets = new Set<WorkerSocket>();

  readonly factory = (url: string): SocketLike => {
    if (this.blocked) throw new Error("network blocked by test");
    const s = new WorkerSocket(url);
    this.sockets.add(s);
    s.addEventListener("message", (ev: { data: unknown }) => {
      if (typeof ev.data !== "string" || ev.data === "pong") return;
      const parsed = JSON.parse(ev.data);
      for (const m of Array.isArray(parsed) ? parsed : [parsed]) if (m.type === "event") this.events.push({ event: m.event, path: m.path });
    });
    s.addEventListener("close", () => this.sockets.delete(s));
    return s;
  };

  /** Simulates a network failure on every open socket. */
  cut(): void {
    for (const s of [...this.sockets]) s.cut();
  }

  /** Cuts the sockets and keeps the client from reconnecting until `unblock()`. */
  partition(): void {
    this.blocked = true;
    this.cut();
  }

  unblock(): void {
    this.blocked = false;
  }
}

/** Connects a client to `namespace` over its own Net. */
export async function client(namespace: string, options: Partial<ConnectOptions> = {}): Promise<{ zk: EdgeKeeper; net: Net }> {
  const net = new Net();
  const zk = await connect("http://edgekeeper.test", { namespace, sessionTimeout: 10_000, backoff: { baseMs: 20, maxMs: 100 }, ...options, WebSocket: net.factory });
  return { zk, net };
}

/** Polls until `pred` holds (or throws after `ms`). */
export async function until(pred: () => boolean | Promise<boolean>, ms = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * For a test file: returns `open(ns, options?)`, which connects a client with its Net; every
 * client opened during a test is closed after it.
 */
export function useClients(): (namespace: string, options?: Partial<ConnectOptions>) => Promise<{ zk: EdgeKeeper; net: Net }> {
  const opened: EdgeKeeper[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((zk) => zk.close().catch(() => {})));
  });
  return async (namespace, options = {}) => {
    const c = await client(namespace, options);
    opened.push(c.zk);
    return c;
  };
}
