import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { DEFAULT_MAX_PACKET, framePacket, PacketSplitter } from "./zk-framing.js";
import { namespaceUrl } from "../client/index.js";
import { ZK_SUBPROTOCOL } from "../protocol/wire.js";

/**
 * The ZooKeeper tunnel (docs/zookeeper-compat.md): a local TCP listener; each accepted
 * connection gets its own WebSocket to `<url>/v1/namespaces/<ns>/zk` (subprotocol
 * `zookeeper`, plus `bearer.<jwt>` with a token). Each ZooKeeper packet from the TCP client
 * goes as one binary message, without its length prefix; each binary message from the
 * service is one packet, written with the prefix. Either side closing closes the other.
 */

export interface TunnelOptions {
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** The service: http(s):// or ws(s):// base URL. */
  url: string;
  namespace: string;
  token?: string;
  /** Largest packet in either direction (default 4 MiB); a larger one closes the connection. */
  maxPacket?: number;
  /** Pause reading from the TCP client while the WebSocket has more than this many bytes queued (default 1 MiB). */
  highWaterMark?: number;
  /** One line per event (connection opened / closed, errors). */
  log?: (line: string) => void;
}

export interface Tunnel {
  readonly host: string;
  readonly port: number;
  /** The WebSocket URL each connection opens. */
  readonly target: string;
  /** Connections open now. */
  readonly connections: number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}


/** `<url>/v1/namespaces/<ns>/zk` with the scheme turned into ws / wss (the URL's query and fragment dropped). */
export function tunnelTarget(url: string, namespace: string): string {
  const u = new URL(url);
  if (!["http:", "https:", "ws:", "wss:"].includes(u.protocol)) throw new Error(`--url: expected http(s):// or ws(s)://, not ${u.protocol}`);
  u.pathname = u.pathname.replace(/\/+$/, "");
  u.search = "";
  u.hash = "";
  return namespaceUrl(u.toString(), namespace, "zk");
}

/** Parses `host:port`, `[v6]:port` or a bare port. */
export function parseListen(spec: string): { host: string; port: number } {
  let host = "127.0.0.1";
  let portText = spec;
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(spec) ?? /^([^:]*):(\d+)$/.exec(spec);
  if (m) {
    host = m[1] || host;
    portText = m[2];
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new Error(`--listen takes host:port (e.g. 127.0.0.1:2181), not ${spec}`);
  return { host, port };
}

export async function startTunnel(opts: TunnelOptions): Promise<Tunnel> {
  const target = tunnelTarget(opts.url, opts.namespace);
  const protocols = [ZK_SUBPROTOCOL, ...(opts.token ? [`bearer.${opts.token}`] : [])];
  const maxPacket = opts.maxPacket ?? DEFAULT_MAX_PACKET;
  const highWater = opts.highWaterMark ?? 1 << 20;
  const log = opts.log ?? (() => {});
  const open = new Set<() => void>();
  let seq = 0;

  const server: Server = createServer((sock: Socket) => {
    const id = ++seq;
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    const splitter = new PacketSplitter(maxPacket);
    let ws: WebSocket;
    try {
      ws = new WebSocket(target, protocols);
    } catch (e) {
      log(`#${id} ${peer}: cannot open ${target}: ${(e as Error).message}`);
      sock.destroy();
      return;
    }
    ws.binaryType = "arraybuffer";
    log(`#${id} ${peer} connected → ${target}`);
    const started = Date.now();
    let up = 0;
    let down = 0;
    /** Packets from the client before the WebSocket is open. */
    const early: Uint8Array[] = [];
    let done = false;
    let paused = false;
    let poll: ReturnType<typeof setInterval> | undefined;

    const finish = (why: string) => {
      if (done) return;
      done = true;
      open.delete(kill);
      if (poll) clearInterval(poll);
      sock.destroy();
      try {
        if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(1000);
      } catch {
        // already closing
      }
      log(`#${id} ${peer} closed (${why}; ${up} packets up, ${down} down, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    };
    const kill = () => finish("tunnel stopping");
    open.add(kill);

    /** Pauses the TCP side while the WebSocket's send buffer is above the high-water mark. */
    const throttle = () => {
      if (paused || ws.bufferedAmount <= highWater) return;
      paused = true;
      sock.pause();
      poll = setInterval(() => {
        if (done || ws.bufferedAmount <= highWater / 2) {
          clearInterval(poll);
          poll = undefined;
          paused = false;
          if (!done) sock.resume();
        }
      }, 5);
    };

    sock.setNoDelay(true);
    sock.on("data", (chunk: Buffer) => {
      let packets: Uint8Array[];
      try {
        packets = splitter.push(chunk);
      } catch (e) {
        return finish(`client sent a bad packet: ${(e as Error).message}`);
      }
      for (const p of packets) {
        up++;
        if (ws.readyState === WebSocket.OPEN) ws.send(p);
        else early.push(p);
      }
      if (ws.readyState === WebSocket.OPEN) throttle();
    });
    sock.on("end", () => finish("client closed"));
    sock.on("close", () => finish("client closed"));
    sock.on("error", (e) => finish(`client error: ${e.message}`));

    ws.onopen = () => {
      if (done) return ws.close(1000);
      for (const p of early.splice(0)) ws.send(p);
      throttle();
    };
    ws.onmessage = (e: MessageEvent) => {
      if (done) return;
      if (typeof e.data === "string") return finish("service sent a text message");
      const payload = new Uint8Array(e.data as ArrayBuffer);
      if (payload.byteLength > maxPacket) return finish(`service sent a packet of ${payload.byteLength} bytes`);
      down++;
      sock.write(framePacket(payload));
    };
    ws.onerror = (e: Event) => {
      const msg = (e as Event & { message?: string; error?: Error }).error?.message ?? (e as { message?: string }).message ?? "error";
      finish(`websocket error: ${msg}`);
    };
    ws.onclose = (e: CloseEvent) => finish(`service closed${e.code ? ` ${e.code}` : ""}${e.reason ? ` ${e.reason}` : ""}`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return {
    host: addr.address,
    port: addr.port,
    target,
    get connections() {
      return open.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const kill of [...open]) kill();
        server.close(() => resolve());
      }),
  };
}
