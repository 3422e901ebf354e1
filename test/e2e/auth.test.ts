import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT } from "jose";
import { connect } from "../../src/client/index.js";
import { freePort, startServer, type LocalServer } from "./server.js";

/**
 * Authentication end to end: the real local server (`wrangler dev`) configured with a key, the
 * real client over real sockets from Node (the token in the WebSocket subprotocol, as a
 * browser sends it), and the secure-by-default start: no key, no service.
 */

const SECRET = "e2e-secret-e2e-secret-e2e-secret-e2e!";
const sign = (claims: Record<string, unknown>, exp = "1h") =>
  new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject("e2e").setExpirationTime(exp).sign(new TextEncoder().encode(SECRET));

describe("a server with a token key", () => {
  let server: LocalServer;
  beforeAll(async () => {
    server = await startServer({ vars: { EDGEKEEPER_JWT_SECRET: SECRET } });
  });
  afterAll(() => server?.stop());

  it("the client connects with a token over a real WebSocket and works; its identity is the token's subject", async () => {
    const zk = await connect(server.url, { namespace: "e2e-auth", token: await sign({ ns: { "e2e-*": ["read", "write"] } }) });
    try {
      await zk.create("/hello", "world");
      expect(new TextDecoder().decode((await zk.getData("/hello")).data)).toBe("world");
      expect(await zk.whoAmI()).toContainEqual({ scheme: "token", id: "e2e" });
    } finally {
      await zk.close();
    }
  });

  it("without a token the client is refused with the server's reason (authFailed)", async () => {
    await expect(connect(server.url, { namespace: "e2e-auth", connectTimeout: 10_000 })).rejects.toThrow(/bearer token is required/);
  });

  it("HTTP: 401 without a token, 403 for another namespace, 200 with the right one", async () => {
    const url = `${server.url}/v1/namespaces/e2e-auth/nodes/hello`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { Authorization: `Bearer ${await sign({ ns: { other: ["read"] } })}` } })).status).toBe(403);
    const ok = await fetch(url, { headers: { Authorization: `Bearer ${await sign({ ns: { "e2e-auth": ["read"] } })}` } });
    expect(ok.status).toBe(200);
  });
});

describe("secure by default", () => {
  it("a server started with no key refuses every request and says how to configure one", async () => {
    const server = await startServer({ vars: { EDGEKEEPER_AUTH: "" } });
    try {
      for (const path of ["/healthz", "/v1/namespaces/x/nodes/a", "/v1/namespaces/x/ws"]) {
        const res = await fetch(server.url + path);
        expect(res.status, path).toBe(503);
        const body = (await res.json()) as { code: string; message: string };
        expect(body.code).toBe("AUTHFAILED");
        expect(body.message).toMatch(/wrangler secret put EDGEKEEPER_JWT_SECRET/);
      }
    } finally {
      await server.stop();
    }
  });

  it("`npm start` (scripts/start.mjs) runs open for local use and says so when it starts", async () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
    const port = await freePort();
    const persist = mkdtempSync(join(tmpdir(), "edgekeeper-start-"));
    const child = spawn(process.execPath, [join(root, "scripts/start.mjs"), "--port", String(port), "--persist-to", persist, "--inspector-port", String(await freePort()), "--show-interactive-dev-session=false"], {
      cwd: root,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_HIDE_BANNER: "true" },
    });
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    try {
      const deadline = Date.now() + 60_000;
      let health: { auth?: string } | undefined;
      while (!health && Date.now() < deadline) {
        health = await fetch(`http://127.0.0.1:${port}/healthz`)
          .then((r) => (r.ok ? (r.json() as Promise<{ auth?: string }>) : undefined))
          .catch(() => undefined);
        if (!health) await new Promise((r) => setTimeout(r, 200));
      }
      expect(health, output).toMatchObject({ ok: true, auth: "open" });
      expect(output).toMatch(/authentication is OFF/);
    } finally {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
      rmSync(persist, { recursive: true, force: true });
    }
  });
});
