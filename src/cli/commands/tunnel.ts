import type { GlobalOptions } from "../args.js";
import { parseVerb } from "../args.js";
import { Exit, UsageError, type Output } from "../output.js";
import { parseListen, startTunnel } from "../tunnel.js";
import type { Command } from "./context.js";

const USAGE = "--listen host:port  (with --url, --namespace, --token)";

/**
 * `tunnel --listen 127.0.0.1:2181`: ZooKeeper clients (zkCli.sh, kazoo, Curator, …) connect to
 * the local port; each connection is carried over its own WebSocket to the service's
 * `/v1/namespaces/<ns>/zk` (docs/zookeeper-compat.md). Runs until Ctrl-C / SIGTERM. Needs no
 * session of its own, so it runs outside the shell.
 */
const tunnel: Command = {
  name: "tunnel",
  usage: "--listen host:port",
  summary: "serve ZooKeeper's TCP protocol on a local port, one WebSocket per connection (zkCli.sh -server host:port)",
  prepare() {
    throw new UsageError("tunnel runs from the command line, not the shell: edgekeeper tunnel --listen 127.0.0.1:2181");
  },
  async standalone(args: string[], options: GlobalOptions, out: Output): Promise<number> {
    const { flags } = parseVerb("tunnel", args, { listen: { type: "string", short: "l" }, "max-packet": { type: "string" } }, { min: 0, max: 0, usage: USAGE });
    if (typeof flags.listen !== "string") throw new UsageError(`usage: tunnel ${USAGE}`);
    let listen;
    try {
      listen = parseListen(flags.listen);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    let maxPacket: number | undefined;
    if (typeof flags["max-packet"] === "string") {
      maxPacket = Number(flags["max-packet"]);
      if (!Number.isInteger(maxPacket) || maxPacket <= 0) throw new UsageError("tunnel: --max-packet takes a positive number of bytes");
    }
    const log = (line: string) => {
      if (out.json) process.stdout.write(JSON.stringify({ ok: true, log: line, time: new Date().toISOString() }) + "\n");
      else process.stderr.write(`${new Date().toISOString()} ${line}\n`);
    };
    let t;
    try {
      t = await startTunnel({ host: listen.host, port: listen.port, url: options.url, namespace: options.namespace, token: options.token, maxPacket, log });
    } catch (e) {
      out.error(new Error(`tunnel: cannot listen on ${flags.listen}: ${(e as Error).message}`));
      return Exit.CONNECTION;
    }
    const where = `${t.host.includes(":") ? `[${t.host}]` : t.host}:${t.port}`;
    out.text(`tunnel listening on ${where} → ${t.target} (zkCli.sh -server ${where}); Ctrl-C to stop`);
    out.result({ listening: where, target: t.target });
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    await t.close();
    return 0;
  },
};

export const tunnelCommands: Command[] = [tunnel];
