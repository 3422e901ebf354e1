import { afterEach, describe, expect, it } from "vitest";
import { connect, type EdgeKeeper } from "../../src/client/index.js";
import { keyedWorker, SECRET, token } from "../helpers/auth.js";
import { WorkerSocket } from "../helpers/worker-socket.js";
import { freshNamespace, sleep } from "../helpers/raw-client.js";

/** The real client against a Worker that requires tokens: the token rides in the subprotocol. */

const hs = keyedWorker({ EDGEKEEPER_JWT_SECRET: SECRET });
const clients: EdgeKeeper[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => {});
});

async function client(ns: string, tok: string | (() => Promise<string>), extra: Record<string, unknown> = {}) {
  const zk = await connect("http://edgekeeper.test", {
    namespace: ns,
    token: tok,
    sessionTimeout: 30_000,
    backoff: { baseMs: 10, maxMs: 50 },
    WebSocket: (url, protocols) => new WorkerSocket(url, protocols, hs),
    ...extra,
  });
  clients.push(zk);
  return zk;
}

describe("client authentication", () => {
  it("connects with a token; whoAmI shows the token identity", async () => {
    const ns = freshNamespace("cauth");
    const zk = await client(ns, await token({ sub: "alice", ns: { [ns]: ["read", "write"] } }));
    await zk.create("/a", "x");
    expect(await zk.whoAmI()).toContainEqual({ scheme: "token", id: "alice" });
  });

  it("a refused token ends the client in authFailed with the server's reason", async () => {
    const ns = freshNamespace("cauth");
    const bad = await token({ ns: { other: ["read"] } });
    await expect(client(ns, bad)).rejects.toThrow(/does not name namespace/);
  });

  it("a token provider is asked again on reconnect: an expired token's socket is closed and the session resumes with a fresh token", async () => {
    const ns = freshNamespace("cauth");
    let asked = 0;
    const provider = async () => {
      asked++;
      // The first token expires in 2 s; later ones last an hour.
      return token({ sub: "svc", ns: { [ns]: ["read", "write"] }, exp: Math.floor(Date.now() / 1000) + (asked === 1 ? 2 : 3600) });
    };
    const zk = await client(ns, provider);
    const session = zk.sessionId;
    await zk.create("/eph", "", { mode: "ephemeral" });
    const states: string[] = [];
    zk.onState((s) => states.push(s));
    for (let i = 0; i < 80 && asked < 2; i++) await sleep(100);
    await zk.waitConnected();
    expect(asked).toBeGreaterThanOrEqual(2);
    expect(states).toContain("suspended");
    expect(zk.sessionId).toBe(session);
    expect((await zk.exists("/eph"))?.ephemeralOwner).toBe(session);
  });

  it("a fixed token that expires ends the client in authFailed", async () => {
    const ns = freshNamespace("cauth");
    const zk = await client(ns, await token({ ns: { [ns]: ["read"] }, exp: Math.floor(Date.now() / 1000) + 2 }));
    for (let i = 0; i < 80 && zk.state !== "authFailed"; i++) await sleep(100);
    expect(zk.state).toBe("authFailed");
  });

  it("addAuth credentials are re-sent after a reconnect", async () => {
    const ns = freshNamespace("cauth");
    const zk = await client(ns, await token({ ns: { [ns]: ["read", "write"] } }));
    await zk.addAuth("digest", "alice:pw");
    await zk.create("/mine", "x", { acl: [{ scheme: "auth", id: "", perms: 31 }] });
    for (const s of [...WorkerSocket.all]) s.cut();
    await sleep(20);
    await zk.waitConnected();
    expect(new TextDecoder().decode((await zk.getData("/mine")).data)).toBe("x");
  });
});
