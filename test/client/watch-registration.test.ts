import { describe, expect, it } from "vitest";
import { connect, type WatchEvent } from "../../src/client/index.js";
import { freshNamespace } from "../helpers/raw-client.js";
import { workerSocket } from "../helpers/worker-socket.js";

const open = (namespace: string) => connect("http://edgekeeper.test", { namespace, WebSocket: workerSocket, sessionTimeout: 5000 });

/**
 * Requests issued in one tick leave in one frame, and the server answers with one message
 * in which the events a write causes follow the reply to an earlier watch-setting read. The
 * watcher must be registered as soon as that reply is read, not in a promise continuation
 * (which would run after the rest of the message, dropping the event).
 */
describe("watch registration vs. events in the same frame", () => {
  it("addWatch followed by a create in the same tick sees NodeCreated", async () => {
    const zk = await open(freshNamespace("wr"));
    const events: WatchEvent[] = [];
    await Promise.all([zk.addWatch("/x", (e) => events.push(e)), zk.create("/x")]);
    await zk.sync();
    expect(events.map((e) => e.type)).toEqual(["NodeCreated"]);
    await zk.close();
  });

  it("exists/getData/getChildren watches followed by a write in the same tick fire", async () => {
    const zk = await open(freshNamespace("wr"));
    await zk.create("/y", "0");
    const fired: string[] = [];
    await Promise.all([zk.exists("/nope", { watch: (e) => fired.push(`exists ${e.type}`) }), zk.create("/nope")]);
    await Promise.all([zk.getData("/y", { watch: (e) => fired.push(`data ${e.type}`) }), zk.setData("/y", "1")]);
    await Promise.all([zk.getChildren("/y", { watch: (e) => fired.push(`children ${e.type}`) }), zk.create("/y/c")]);
    await zk.sync();
    expect(fired).toEqual(["exists NodeCreated", "data NodeDataChanged", "children NodeChildrenChanged"]);
    await zk.close();
  });
});
