import { describe, expect, it } from "vitest";
import { connect, NoNodeError, type WatchEvent } from "../../src/client/index.js";
import { freshNamespace } from "../helpers/raw-client.js";
import { workerSocket } from "../helpers/worker-socket.js";

const open = (namespace: string) => connect("http://edgekeeper.test", { namespace, WebSocket: workerSocket, sessionTimeout: 5000 });

describe("client smoke", () => {
  it("creates, reads, watches and closes", async () => {
    const ns = freshNamespace("c");
    const a = await open(ns);
    const b = await open(ns);
    expect(a.state).toBe("connected");
    await a.create("/x", "one");
    const events: WatchEvent[] = [];
    const { data } = await b.getString("/x", { watch: (e) => events.push(e) });
    expect(data).toBe("one");
    const stat = await a.setData("/x", "two");
    expect(stat.version).toBe(1);
    await b.sync();
    expect(events.map((e) => e.type)).toEqual(["NodeDataChanged"]);
    await expect(a.getData("/missing")).rejects.toBeInstanceOf(NoNodeError);
    await a.close();
    await b.close();
    expect(a.state).toBe("closed");
  });
});
