import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { connect as tcpConnect, type AddressInfo, type Socket } from "node:net";
import { framePacket, PacketSplitter } from "../../src/cli/zk-framing.js";

/**
 * A stand-in for the service's `/v1/namespaces/:ns/zk` route, for testing the tunnel on its
 * own: a minimal RFC 6455 WebSocket server (binary messages, close, ping; no extensions)
 * that carries each WebSocket to a real ZooKeeper over TCP with the wire contract of
 * docs/zookeeper-compat.md (one binary message = one packet without its length prefix).
 * zkCli.sh → tunnel → this bridge → ZooKeeper is then the same conversation as
 * zkCli.sh → ZooKeeper, so every client that works directly must work through the tunnel.
 */

export interface Upgrade {
  path: string;
  protocols: string[];
  authorization?: string;
}

export interface Bridge {
  readonly url: string;
  /** Every upgrade request seen, in order. */
  readonly upgrades: Upgrade[];
  /** WebSockets open now. */
  readonly open: number;
  /** Binary messages received from tunnels so far, and their sizes. */
  readonly messages: number[];
  close(): Promise<void>;
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Encodes one unmasked server frame. */
function frame(opcode: number, payload: Uint8Array): Buffer {
  const n = payload.byteLength;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (n >= 126 && n < 65536) (head[0] = 0x80 | opcode, (head[1] = 126), head.writeUInt16BE(n, 2));
  else if (n >= 65536) (head[0] = 0x80 | opcode, (head[1] = 127), head.writeBigUInt64BE(BigInt(n), 2));
  return Buffer.concat([head, payload]);
}

/** Reads client frames (masked) from a byte stream; calls back with complete messages. */
function frameReader(onMessage: (opcode: number, payload: Buffer) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  let fragments: Buffer[] = [];
  let fragOpcode = 0;
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const fin = (buf[0] & 0x80) !== 0;
      const opcode = buf[0] & 0x0f;
      const masked = (buf[1] & 0x80) !== 0;
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      const maskOff = off;
      if (masked) off += 4;
      if (buf.length < off + len) return;
      const payload = Buffer.from(buf.subarray(off, off + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[maskOff + (i & 3)];
      buf = buf.subarray(off + len);
      if (opcode >= 8) onMessage(opcode, payload);
      else if (opcode !== 0 && fin) onMessage(opcode, payload);
      else {
        if (opcode !== 0) fragOpcode = opcode;
        fragments.push(payload);
        if (fin) {
          onMessage(fragOpcode, Buffer.concat(fragments));
          fragments = [];
        }
      }
    }
  };
}

/** Starts the bridge on a free port of 127.0.0.1, forwarding every WebSocket to ZooKeeper at zkPort. */
export async function startBridge(zkPort: number): Promise<Bridge> {
  const upgrades: Upgrade[] = [];
  const messages: number[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => res.writeHead(426).end("WebSocket only\n"));
  server.on("upgrade", (req: IncomingMessage, sock: Socket) => {
    const protocols = String(req.headers["sec-websocket-protocol"] ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    upgrades.push({ path: req.url ?? "", protocols, authorization: req.headers.authorization });
    if (!/^\/v1\/namespaces\/[^/]+\/zk$/.test(req.url ?? "") || !protocols.includes("zookeeper")) {
      sock.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const accept = createHash("sha1").update(`${req.headers["sec-websocket-key"]}${GUID}`).digest("base64");
    sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: zookeeper\r\n\r\n`);
    sockets.add(sock);
    const zk = tcpConnect({ host: "127.0.0.1", port: zkPort });
    const splitter = new PacketSplitter();
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      sockets.delete(sock);
      if (!sock.destroyed) sock.end(frame(8, Buffer.from([0x03, 0xe8])));
      zk.destroy();
    };
    zk.on("data", (chunk: Buffer) => {
      for (const p of splitter.push(chunk)) sock.write(frame(2, p));
    });
    zk.on("close", close);
    zk.on("error", close);
    sock.on(
      "data",
      frameReader((opcode, payload) => {
        if (opcode === 2) {
          messages.push(payload.length);
          zk.write(framePacket(payload));
        } else if (opcode === 8) close();
        else if (opcode === 9) sock.write(frame(10, payload));
        else if (opcode === 1) close();
      }),
    );
    sock.on("close", close);
    sock.on("error", close);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    upgrades,
    messages,
    get open() {
      return sockets.size;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
