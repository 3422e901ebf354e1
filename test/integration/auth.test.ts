import { describe, expect, it } from "vitest";
import { exportJWK, exportSPKI, generateKeyPair } from "jose";
import { bearer, keyedWorker, SECRET, token } from "../helpers/auth.js";
import { freshNamespace, sleep } from "../helpers/raw-client.js";
import { SseReader } from "../helpers/http.js";

/**
 * Token verification in the edge Worker (src/auth): every key kind, every way a token can be
 * wrong, rights per namespace, secure by default, and what a WebSocket client is told.
 */

const hs = keyedWorker({ EDGEKEEPER_JWT_SECRET: SECRET });
const nodeUrl = (ns: string, path = "/a") => `/v1/namespaces/${ns}/nodes${path}`;
const hour = () => Math.floor(Date.now() / 1000) + 3600;

async function body(res: Response) {
  return (await res.json()) as { err: number; code: string; message: string };
}

/** Upgrades through `w` offering `protocols`; resolves with the accepted socket and its first message. */
async function upgrade(w: ReturnType<typeof keyedWorker>, ns: string, protocols: string[], headers: Record<string, string> = {}) {
  const res = await w.fetch(`/v1/namespaces/${ns}/ws`, { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": protocols.join(", "), ...headers } });
  return res;
}

function socketOf(res: Response) {
  const ws = res.webSocket!;
  const messages: any[] = [];
  let closed: { code: number; reason: string } | undefined;
  const waiters: Array<() => void> = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  ws.addEventListener("message", (e) => {
    const m = JSON.parse(e.data as string);
    messages.push(...(Array.isArray(m) ? m : [m]));
    wake();
  });
  ws.addEventListener("close", (e) => {
    closed = { code: e.code, reason: e.reason };
    wake();
  });
  ws.accept();
  const until = async (pred: () => boolean, ms = 5000) => {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out; messages: ${JSON.stringify(messages)} closed: ${JSON.stringify(closed)}`);
      await new Promise<void>((r) => (waiters.push(r), setTimeout(r, 50)));
    }
  };
  return {
    ws,
    messages,
    get closed() {
      return closed;
    },
    until,
    send: (m: unknown) => ws.send(JSON.stringify(m)),
  };
}

describe("tokens: HS256 with a shared secret", () => {
  it("a valid token naming the namespace reads and writes", async () => {
    const ns = freshNamespace("auth");
    const t = await token({ sub: "alice", ns: { [ns]: ["read", "write"] } });
    const put = await hs.fetch(nodeUrl(ns), { method: "PUT", headers: bearer(t), body: "x" });
    expect(put.status).toBe(201);
    const get = await hs.fetch(nodeUrl(ns), { headers: bearer(t) });
    expect(get.status).toBe(200);
    expect(await get.text()).toBe("x");
  });

  it("missing token: 401 AUTHFAILED with WWW-Authenticate, and nothing is created", async () => {
    const ns = freshNamespace("auth");
    const res = await hs.fetch(nodeUrl(ns), { method: "PUT", body: "x" });
    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer /);
    expect(await body(res)).toMatchObject({ err: -115, code: "AUTHFAILED" });
    const t = await token({ ns: { [ns]: ["read"] } });
    expect((await hs.fetch(nodeUrl(ns), { headers: bearer(t) })).status).toBe(404);
  });

  it("expired token: 401 saying it expired", async () => {
    const ns = freshNamespace("auth");
    const t = await token({ ns: { [ns]: ["read"] }, exp: Math.floor(Date.now() / 1000) - 120 });
    const res = await hs.fetch(nodeUrl(ns), { headers: bearer(t) });
    expect(res.status).toBe(401);
    expect((await body(res)).message).toMatch(/expired/);
  });

  it("a token without exp is refused (every token must expire)", async () => {
    const ns = freshNamespace("auth");
    const t = await token({ ns: { [ns]: ["read"] } }, { noExp: true });
    const res = await hs.fetch(nodeUrl(ns), { headers: bearer(t) });
    expect(res.status).toBe(401);
    expect((await body(res)).message).toMatch(/exp/);
  });

  it("wrong key: 401, signature does not verify", async () => {
    const ns = freshNamespace("auth");
    const t = await token({ ns: { [ns]: ["read"] } }, { key: new TextEncoder().encode("another-secret-another-secret-12345") });
    const res = await hs.fetch(nodeUrl(ns), { headers: bearer(t) });
    expect(res.status).toBe(401);
    expect((await body(res)).message).toMatch(/signature/);
  });

  it("garbage, a malformed Authorization header, and alg none are refused with 401", async () => {
    const ns = freshNamespace("auth");
    for (const h of ["Bearer not.a.jwt", "Basic dXNlcjpwdw==", "Bearer", "Bearer eyJhbGciOiJub25lIn0.eyJucyI6WyIqIl0sInJpZ2h0cyI6WyJyZWFkIl19."]) {
      const res = await hs.fetch(nodeUrl(ns), { headers: { Authorization: h } });
      expect(res.status, h).toBe(401);
      expect((await body(res)).code).toBe("AUTHFAILED");
    }
  });

  it("wrong namespace: 403 NOAUTH; prefix patterns and the most specific pattern win", async () => {
    const ns = freshNamespace("auth");
    const other = await token({ ns: { "someone-else": ["read", "write"] } });
    const res = await hs.fetch(nodeUrl(ns), { headers: bearer(other) });
    expect(res.status).toBe(403);
    expect(await body(res)).toMatchObject({ err: -102, code: "NOAUTH" });

    const prefixed = await token({ ns: { "auth-*": ["read", "write"], [ns]: ["read"] } });
    // The exact entry (read only) beats the prefix (read, write).
    expect((await hs.fetch(nodeUrl(ns), { method: "PUT", headers: bearer(prefixed), body: "x" })).status).toBe(403);
    expect((await hs.fetch(nodeUrl(freshNamespace("auth")), { method: "PUT", headers: bearer(prefixed), body: "x" })).status).toBe(201);
    // The list form with top-level rights.
    const listed = await token({ ns: ["*"], rights: ["read"] });
    expect((await hs.fetch(nodeUrl(ns), { headers: bearer(listed) })).status).toBe(404);
  });

  it("a read-only token can read but every write route answers 403 and changes nothing", async () => {
    const ns = freshNamespace("auth");
    const rw = await token({ ns: { [ns]: ["read", "write"] } });
    expect((await hs.fetch(nodeUrl(ns), { method: "PUT", headers: bearer(rw), body: "v1" })).status).toBe(201);
    const ro = await token({ ns: { [ns]: ["read"] } });
    const writes: Array<[string, string, string?]> = [
      ["PUT", nodeUrl(ns, "/b"), "x"],
      ["PATCH", nodeUrl(ns), "v2"],
      ["DELETE", nodeUrl(ns)],
      ["POST", `/v1/namespaces/${ns}/multi`, JSON.stringify({ ops: [{ op: "delete", path: "/a" }] })],
      ["POST", `/v1/namespaces/${ns}/leases`, JSON.stringify({ ttl: 5000 })],
      ["POST", `/v1/namespaces/${ns}/locks/acquire`, JSON.stringify({ name: "l", wait: 0 })],
    ];
    for (const [method, url, b] of writes) {
      const res = await hs.fetch(url, { method, headers: { ...bearer(ro), "Content-Type": "application/json" }, body: b });
      expect(res.status, `${method} ${url}`).toBe(403);
    }
    const get = await hs.fetch(nodeUrl(ns), { headers: bearer(ro) });
    expect(await get.text()).toBe("v1");
    expect((await hs.fetch(nodeUrl(ns, "/b"), { headers: bearer(ro) })).status).toBe(404);
  });

  it("the token's subject is the caller's token identity: a token ACL admits it and no one else", async () => {
    const ns = freshNamespace("auth");
    const alice = await token({ sub: "alice", ns: { [ns]: ["read", "write"] } });
    const bob = await token({ sub: "bob", ns: { [ns]: ["read", "write"] } });
    const put = await hs.fetch(nodeUrl(ns, "/private"), {
      method: "PUT",
      headers: { ...bearer(alice), "Content-Type": "application/json" },
      body: JSON.stringify({ text: "secret", acl: [{ scheme: "token", id: "alice", perms: 31 }] }),
    });
    expect(put.status).toBe(201);
    expect((await hs.fetch(nodeUrl(ns, "/private"), { headers: bearer(alice) })).status).toBe(200);
    const denied = await hs.fetch(nodeUrl(ns, "/private"), { headers: bearer(bob) });
    expect(denied.status).toBe(403);
    expect((await body(denied)).code).toBe("NOAUTH");
  });

  it("a super token passes every ACL", async () => {
    const ns = freshNamespace("auth");
    const alice = await token({ sub: "alice", ns: { [ns]: ["read", "write"] } });
    await hs.fetch(nodeUrl(ns, "/locked"), {
      method: "PUT",
      headers: { ...bearer(alice), "Content-Type": "application/json" },
      body: JSON.stringify({ text: "s", acl: [{ scheme: "token", id: "alice", perms: 1 }] }),
    });
    const op = await token({ sub: "operator", super: true, ns: { "*": ["read", "write", "admin"] } });
    expect((await hs.fetch(nodeUrl(ns, "/locked"), { headers: bearer(op) })).status).toBe(200);
    expect((await hs.fetch(nodeUrl(ns, "/locked"), { method: "DELETE", headers: bearer(op) })).status).toBe(200);
  });

  it("issuer and audience are checked when configured", async () => {
    const w = keyedWorker({ EDGEKEEPER_JWT_SECRET: SECRET, EDGEKEEPER_JWT_ISSUER: "https://issuer.test", EDGEKEEPER_JWT_AUDIENCE: "edgekeeper" });
    const ns = freshNamespace("auth");
    const good = await token({ iss: "https://issuer.test", aud: "edgekeeper", ns: { [ns]: ["read"] } });
    expect((await w.fetch(nodeUrl(ns), { headers: bearer(good) })).status).toBe(404);
    const wrongIss = await token({ iss: "https://evil.test", aud: "edgekeeper", ns: { [ns]: ["read"] } });
    expect((await w.fetch(nodeUrl(ns), { headers: bearer(wrongIss) })).status).toBe(401);
    const wrongAud = await token({ iss: "https://issuer.test", aud: "other", ns: { [ns]: ["read"] } });
    expect((await w.fetch(nodeUrl(ns), { headers: bearer(wrongAud) })).status).toBe(401);
  });
});

describe("tokens: ES256 and RS256 public keys, JWKS", () => {
  it("ES256 with a PEM public key; an HS256 token signed with the PEM text is refused (no algorithm confusion)", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    const pem = await exportSPKI(publicKey);
    const w = keyedWorker({ EDGEKEEPER_JWT_PUBLIC_KEY: pem });
    const ns = freshNamespace("auth");
    const t = await token({ ns: { [ns]: ["read"] } }, { key: privateKey, alg: "ES256" });
    expect((await w.fetch(nodeUrl(ns), { headers: bearer(t) })).status).toBe(404);
    const confused = await token({ ns: { [ns]: ["read"] } }, { key: new TextEncoder().encode(pem) });
    const res = await w.fetch(nodeUrl(ns), { headers: bearer(confused) });
    expect(res.status).toBe(401);
    expect((await body(res)).message).toMatch(/HS256/);
  });

  it("RS256 with a JWK public key; a token from another RSA key is refused", async () => {
    const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
    const other = await generateKeyPair("RS256", { extractable: true });
    const w = keyedWorker({ EDGEKEEPER_JWT_PUBLIC_KEY: JSON.stringify({ ...(await exportJWK(publicKey)), alg: "RS256" }) });
    const ns = freshNamespace("auth");
    expect((await w.fetch(nodeUrl(ns), { headers: bearer(await token({ ns: { [ns]: ["read"] } }, { key: privateKey, alg: "RS256" })) })).status).toBe(404);
    expect((await w.fetch(nodeUrl(ns), { headers: bearer(await token({ ns: { [ns]: ["read"] } }, { key: other.privateKey, alg: "RS256" })) })).status).toBe(401);
  });

  it("a JWKS picks the key by kid (rotation: old and new keys both verify); an unknown kid is refused", async () => {
    const k1 = await generateKeyPair("ES256", { extractable: true });
    const k2 = await generateKeyPair("RS256", { extractable: true });
    const jwks = { keys: [{ ...(await exportJWK(k1.publicKey)), kid: "old", alg: "ES256" }, { ...(await exportJWK(k2.publicKey)), kid: "new", alg: "RS256" }] };
    const w = keyedWorker({ EDGEKEEPER_JWKS: JSON.stringify(jwks) });
    const ns = freshNamespace("auth");
    const claims = { ns: { [ns]: ["read"] } };
    expect((await w.fetch(nodeUrl(ns), { headers: bearer(await token(claims, { key: k1.privateKey, alg: "ES256", kid: "old" })) })).status).toBe(404);
    expect((await w.fetch(nodeUrl(ns), { headers: bearer(await token(claims, { key: k2.privateKey, alg: "RS256", kid: "new" })) })).status).toBe(404);
    const stranger = await generateKeyPair("ES256");
    expect((await w.fetch(nodeUrl(ns), { headers: bearer(await token(claims, { key: stranger.privateKey, alg: "ES256", kid: "nope" })) })).status).toBe(401);
  });
});

describe("secure by default", () => {
  it("with no key configured every request is refused with a message saying how to configure it", async () => {
    const bare = keyedWorker({});
    for (const [method, url] of [["GET", "/healthz"], ["GET", nodeUrl("x")], ["PUT", nodeUrl("x")], ["GET", "/v1/namespaces/x/ws"], ["GET", "/v1/openapi.json"]]) {
      const res = await bare.fetch(url, { method });
      expect(res.status, url).toBe(503);
      const b = await body(res);
      expect(b.code).toBe("AUTHFAILED");
      expect(b.message).toMatch(/wrangler secret put EDGEKEEPER_JWT_SECRET/);
    }
  });

  it("open mode serves only local hosts: a public hostname is refused even with EDGEKEEPER_AUTH=open", async () => {
    const open = keyedWorker({ EDGEKEEPER_AUTH: "open" });
    expect((await open.fetch("http://edgekeeper.test/healthz")).status).toBe(200);
    expect((await open.fetch("http://127.0.0.1:8787/healthz")).status).toBe(200);
    expect((await open.fetch("http://localhost/healthz")).status).toBe(200);
    const pub = await open.fetch("https://edgekeeper.example.workers.dev/v1/namespaces/x/nodes/a");
    expect(pub.status).toBe(503);
    expect((await body(pub)).message).toMatch(/only local hosts/);
  });

  it("a configured key wins over EDGEKEEPER_AUTH=open", async () => {
    const both = keyedWorker({ EDGEKEEPER_AUTH: "open", EDGEKEEPER_JWT_SECRET: SECRET });
    expect((await both.fetch(nodeUrl(freshNamespace("auth")))).status).toBe(401);
  });

  it("healthz says which mode runs", async () => {
    const t = await hs.fetch("/healthz");
    expect(await t.json()).toMatchObject({ ok: true, auth: "tokens" });
  });
});

describe("WebSocket: the token in the subprotocol", () => {
  it("a browser-style upgrade with bearer.<jwt> is accepted and the server selects edgekeeper.v1", async () => {
    const ns = freshNamespace("auth");
    const t = await token({ sub: "alice", ns: { [ns]: ["read", "write"] } });
    const res = await upgrade(hs, ns, ["edgekeeper.v1", `bearer.${t}`]);
    expect(res.status).toBe(101);
    expect(res.headers.get("Sec-WebSocket-Protocol")).toBe("edgekeeper.v1");
    const s = socketOf(res);
    s.send({ type: "connect", v: 1, timeout: 10_000, lastZxid: 0 });
    await s.until(() => s.messages.some((m) => m.type === "connected"));
    s.send({ xid: 1, op: "whoAmI" });
    await s.until(() => s.messages.some((m) => m.xid === 1));
    expect(s.messages.find((m) => m.xid === 1).identities).toEqual(
      expect.arrayContaining([
        { scheme: "ip", id: "127.0.0.1" },
        { scheme: "token", id: "alice" },
      ]),
    );
    s.ws.close();
  });

  it("Authorization header works for non-browser clients", async () => {
    const ns = freshNamespace("auth");
    const t = await token({ ns: { [ns]: ["read"] } });
    const res = await upgrade(hs, ns, [], bearer(t));
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    res.webSocket!.close();
  });

  it("a refused token reaches a browser client in band: connect-error AUTHFAILED then close 4115, without touching the object", async () => {
    const ns = freshNamespace("auth");
    const expired = await token({ ns: { [ns]: ["read"] }, exp: Math.floor(Date.now() / 1000) - 120 });
    const s = socketOf(await upgrade(hs, ns, ["edgekeeper.v1", `bearer.${expired}`]));
    await s.until(() => s.closed !== undefined);
    expect(s.messages[0]).toMatchObject({ type: "connect-error", err: -115, code: "AUTHFAILED", status: 401 });
    expect(s.closed!.code).toBe(4115);
    // Without our subprotocol, the plain HTTP refusal.
    expect((await upgrade(hs, ns, [`bearer.${expired}`])).status).toBe(401);
  });

  it("a read-only connection gets NOAUTH for each write and keeps working", async () => {
    const ns = freshNamespace("auth");
    const t = await token({ ns: { [ns]: ["read"] } });
    const s = socketOf(await upgrade(hs, ns, ["edgekeeper.v1", `bearer.${t}`]));
    s.send({ type: "connect", v: 1, timeout: 10_000, lastZxid: 0 });
    await s.until(() => s.messages.some((m) => m.type === "connected"));
    const zxid = s.messages.find((m) => m.type === "connected").zxid;
    s.send([
      { xid: 1, op: "create", path: "/a", data: "" },
      { xid: 2, op: "setData", path: "/", data: "" },
      { xid: 3, op: "multi", ops: [{ op: "create", path: "/b" }] },
      { xid: 4, op: "exists", path: "/a" },
    ]);
    await s.until(() => s.messages.some((m) => m.xid === 4));
    for (const xid of [1, 2, 3]) expect(s.messages.find((m) => m.xid === xid)).toMatchObject({ err: -102 });
    expect(s.messages.find((m) => m.xid === 4)).toMatchObject({ err: 0, stat: null, zxid });
    s.ws.close();
  });

  it("an open connection whose token expires is told (token-expired) and closed with 4115; the session survives for a resume", async () => {
    const ns = freshNamespace("auth");
    const soon = Math.floor(Date.now() / 1000) + 2;
    const t = await token({ ns: { [ns]: ["read", "write"] }, exp: soon });
    const s = socketOf(await upgrade(hs, ns, ["edgekeeper.v1", `bearer.${t}`]));
    s.send({ type: "connect", v: 1, timeout: 30_000, lastZxid: 0 });
    await s.until(() => s.messages.some((m) => m.type === "connected"));
    const hello = s.messages.find((m) => m.type === "connected");
    s.send({ xid: 1, op: "create", path: "/eph", mode: "ephemeral" });
    await s.until(() => s.messages.some((m) => m.xid === 1));
    // Idle: the object's alarm closes it when the token expires.
    await s.until(() => s.closed !== undefined, 8000);
    expect(s.messages.at(-1)).toMatchObject({ type: "session", state: "token-expired", err: -115 });
    expect(s.closed!.code).toBe(4115);
    // A fresh token resumes the session: its ephemeral node is still there.
    const fresh = await token({ ns: { [ns]: ["read", "write"] } });
    const r = socketOf(await upgrade(hs, ns, ["edgekeeper.v1", `bearer.${fresh}`]));
    r.send({ type: "connect", v: 1, timeout: 30_000, lastZxid: hello.zxid, sessionId: hello.sessionId, secret: hello.secret });
    await r.until(() => r.messages.some((m) => m.type === "connected"));
    expect(r.messages.find((m) => m.type === "connected")).toMatchObject({ sessionId: hello.sessionId, resumed: true });
    r.send({ xid: 1, op: "exists", path: "/eph" });
    await r.until(() => r.messages.some((m) => m.xid === 1));
    expect(r.messages.find((m) => m.xid === 1).stat.ephemeralOwner).toBe(hello.sessionId);
    r.ws.close();
  });
});

describe("the object trusts only the Worker", () => {
  it("an upgrade that reaches the object without a grant is refused", async () => {
    const { env } = await import("cloudflare:workers");
    const stub = env.NAMESPACE.get(env.NAMESPACE.idFromName(freshNamespace("auth")));
    const res = await stub.fetch("http://edgekeeper.test/ws", { headers: { Upgrade: "websocket", "Edgekeeper-Grant": "{not json" } });
    expect(res.status).toBe(403);
  });

  it("a client cannot smuggle a grant header through the Worker", async () => {
    const ns = freshNamespace("auth");
    const ro = await token({ ns: { [ns]: ["read"] } });
    const forged = JSON.stringify({ read: true, write: true, admin: true, super: true });
    const res = await upgrade(hs, ns, ["edgekeeper.v1", `bearer.${ro}`], { "Edgekeeper-Grant": forged });
    const s = socketOf(res);
    s.send({ type: "connect", v: 1, timeout: 10_000, lastZxid: 0 });
    await s.until(() => s.messages.some((m) => m.type === "connected"));
    s.send([{ xid: 1, op: "create", path: "/x" }, { xid: 2, op: "whoAmI" }]);
    await s.until(() => s.messages.some((m) => m.xid === 2));
    expect(s.messages.find((m) => m.xid === 1).err).toBe(-102);
    expect(s.messages.find((m) => m.xid === 2).identities.map((i: { scheme: string }) => i.scheme)).not.toContain("super");
    s.ws.close();
    await sleep(10);
  });
});

describe("HTTP watches and tokens", () => {
  it("an SSE stream ends with an `expired` event when its token expires", async () => {
    const ns = freshNamespace("auth");
    const t = await token({ ns: { [ns]: ["read"] }, exp: Math.floor(Date.now() / 1000) + 2 });
    const res = await hs.fetch(`/v1/namespaces/${ns}/watch?path=/&recursive=true`, { headers: bearer(t) });
    expect(res.status).toBe(200);
    const sse = new SseReader(res);
    await sse.until((m) => m.event === "ready");
    const expired = await sse.until((m) => m.event === "expired", 8000);
    expect(JSON.parse(expired.data!)).toMatchObject({ err: -115, code: "AUTHFAILED" });
    await sse.close();
  });

  it("recursive HTTP watches withhold events of nodes the caller may not READ", async () => {
    const ns = freshNamespace("auth");
    const alice = await token({ sub: "alice", ns: { [ns]: ["read", "write"] } });
    const bob = await token({ sub: "bob", ns: { [ns]: ["read"] } });
    const sse = new SseReader(await hs.fetch(`/v1/namespaces/${ns}/watch?path=/&recursive=true`, { headers: bearer(bob) }));
    await sse.until((m) => m.event === "ready");
    const put = (path: string, acl?: unknown) =>
      hs.fetch(nodeUrl(ns, path), { method: "PUT", headers: { ...bearer(alice), "Content-Type": "application/json" }, body: JSON.stringify(acl ? { text: "x", acl } : { text: "x" }) });
    expect((await put("/hidden", [{ scheme: "token", id: "alice", perms: 31 }])).status).toBe(201);
    expect((await put("/shown")).status).toBe(201);
    await sse.until((m) => m.event === "message" && m.data!.includes("/shown"));
    expect(sse.events().map((e) => e.path)).toEqual(["/shown"]);
    await sse.close();
  });
});

describe("admin routes need the admin right", () => {
  it("mntr, metrics, sessions and watches: 401 without a token, 403 with read+write, 200 with admin", async () => {
    const ns = freshNamespace("auth");
    const rw = await token({ ns: { [ns]: ["read", "write"] } });
    const adm = await token({ ns: { [ns]: ["admin"] } });
    for (const cmd of ["ruok", "mntr", "metrics", "sessions", "watches", "watches_by_path"]) {
      const url = `/v1/namespaces/${ns}/admin/${cmd}`;
      expect((await hs.fetch(url)).status, cmd).toBe(401);
      expect((await hs.fetch(url, { headers: bearer(rw) })).status, cmd).toBe(403);
      expect((await hs.fetch(url, { headers: bearer(adm) })).status, cmd).toBe(200);
    }
  });
});
