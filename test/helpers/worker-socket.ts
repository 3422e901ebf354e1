import { exports } from "cloudflare:workers";
import type { SocketFactory, SocketLike } from "../../src/client/index.js";

type Listener = (ev: any) => void;

/**
 * A SocketFactory for the real client inside workerd: it upgrades through the Worker's own
 * fetch handler (so requests take the same path as in production) and adapts the accepted
 * WebSocket to the client's SocketLike, including a `cut()` to simulate a network failure.
 */
export class WorkerSocket implements SocketLike {
  readyState = 0;
  private ws: WebSocket | undefined;
  private readonly listeners = new Map<string, Set<Listener>>();
  private ended = false;

  /** `worker` answers the upgrade: the test Worker by default, or one with another env (auth tests). */
  constructor(url: string, protocols: string[] = [], worker: { fetch(input: string, init: RequestInit): Promise<Response> } = (exports as unknown as { default: Fetcher }).default) {
    const path = new URL(url).pathname;
    const headers: Record<string, string> = { Upgrade: "websocket" };
    if (protocols.length > 0) headers["Sec-WebSocket-Protocol"] = protocols.join(", ");
    worker
      .fetch(`http://edgekeeper.test${path}`, { headers })
      .then((res) => {
        const ws = res.webSocket;
        if (!ws) throw new Error(`upgrade failed: ${res.status}`);
        if (this.ended) return ws.close(1000);
        ws.accept();
        this.ws = ws;
        this.readyState = 1;
        ws.addEventListener("message", (e) => this.emit("message", { data: e.data }));
        ws.addEventListener("close", (e) => this.end(e.code, e.reason));
        ws.addEventListener("error", () => this.end(1006, "error"));
        this.emit("open", {});
      })
      .catch(() => this.end(1006, "connect failed"));
    WorkerSocket.all.add(this);
  }

  /** Every socket made, so tests can cut them. */
  static readonly all = new Set<WorkerSocket>();

  addEventListener(type: string, l: Listener): void {
    let s = this.listeners.get(type);
    if (!s) this.listeners.set(type, (s = new Set()));
    s.add(l);
  }

  private emit(type: string, ev: unknown) {
    for (const l of this.listeners.get(type) ?? []) l(ev);
  }

  private end(code: number, reason: string) {
    if (this.ended) return;
    this.ended = true;
    this.readyState = 3;
    WorkerSocket.all.delete(this);
    this.emit("close", { code, reason });
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("socket not open");
    this.ws!.send(data);
  }

  close(code = 1000, reason = ""): void {
    try {
      this.ws?.close(code, reason);
    } catch {
      // already closed
    }
    this.end(code, reason);
  }

  /** Simulates a network failure: the client sees the socket die; the server sees it close. */
  cut(): void {
    this.close(4999, "cut by test");
  }
}

export const workerSocket: SocketFactory = (url, protocols) => new WorkerSocket(url, protocols);
