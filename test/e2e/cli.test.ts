import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../src/client/index.js";
import { parseAcl, formatAcl } from "../../src/cli/acl.js";
import { splitWords } from "../../src/cli/args.js";
import { complete, loadHistory } from "../../src/cli/shell.js";
import { startServer, type LocalServer } from "./server.js";

/**
 * The command-line tool (docs/cli.md) end to end: the bundle `npm install` builds
 * (dist/edgekeeper-cli.mjs, run through bin/edgekeeper.mjs) as a child process against the
 * real local server, every verb, text and --json output, exit codes, the shell over a pipe.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = join(ROOT, "bin/edgekeeper.mjs");
const tmp = mkdtempSync(join(tmpdir(), "edgekeeper-cli-"));
const HISTORY = join(tmp, "history");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment for the CLI: no inherited EDGEKEEPER_* settings, a private history file. */
function cliEnv(url: string, namespace: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, EDGEKEEPER_URL: url, EDGEKEEPER_NAMESPACE: namespace, EDGEKEEPER_HISTORY: HISTORY, ...extra };
  if (!("EDGEKEEPER_TOKEN" in extra)) delete env.EDGEKEEPER_TOKEN;
  return env;
}

/** Starts the CLI; `lines` collects its stdout lines as they come. */
function start(args: string[], env: NodeJS.ProcessEnv, input?: string): { proc: ChildProcess; done: Promise<Run>; waitFor: (re: RegExp) => Promise<string> } {
  const proc = spawn(process.execPath, [BIN, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const waiters: Array<{ re: RegExp; resolve: (s: string) => void }> = [];
  proc.stdout!.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    for (const w of [...waiters]) {
      const m = w.re.exec(stdout);
      if (m) (waiters.splice(waiters.indexOf(w), 1), w.resolve(m[0]));
    }
  });
  proc.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  if (input !== undefined) proc.stdin!.end(input);
  const done = new Promise<Run>((r) => proc.on("close", (code) => r({ code, stdout, stderr })));
  const waitFor = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const m = re.exec(stdout);
      if (m) return resolve(m[0]);
      waiters.push({ re, resolve });
      void done.then((r) => reject(new Error(`exited ${r.code} before ${re}: ${r.stdout} ${r.stderr}`)));
    });
  return { proc, done, waitFor };
}

let server: LocalServer;
const NS = "cli";
const env = (extra: Record<string, string> = {}) => cliEnv(server.url, NS, extra);
/** Runs one CLI command to its end. */
const ek = (args: string[], input?: string, extra?: Record<string, string>) => start(args, env(extra), input ?? "").done;
const json = (r: Run) => r.stdout.trim().split("\n").map((l) => JSON.parse(l));

beforeAll(async () => {
  const built = spawnSync(process.execPath, [join(ROOT, "scripts/build-cli.mjs"), "--quiet"], { cwd: ROOT, encoding: "utf8" });
  if (built.status !== 0) throw new Error(`build-cli failed: ${built.stderr}`);
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe("the edgekeeper CLI against the local server", () => {
  it("create (every mode), get, set, stat, ls (-s, -R), sync, getAllChildrenNumber, delete, deleteall: text, --json and exit codes", async () => {
    let r = await ek(["create", "/app", "hello"]);
    expect(r).toMatchObject({ code: 0, stdout: "Created /app\n" });
    r = await ek(["create", "/app", "again"]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^NODEEXISTS: /);
    r = await ek(["--json", "create", "/app"]);
    expect(r.code).toBe(5);
    expect(json(r)[0]).toMatchObject({ ok: false, err: -110, code: "NODEEXISTS" });

    const seq = await ek(["create", "-s", "/app/job-", "j"]);
    const [eph, cont, ttl, seqTtl] = await Promise.all([
      ek(["create", "-e", "/app/eph"]),
      ek(["create", "-c", "/cont"]),
      ek(["create", "-t", "60000", "/app/ttl", "t"]),
      ek(["--json", "create", "-s", "-t", "60000", "/app/st-"]),
    ]);
    expect(seq).toMatchObject({ code: 0, stdout: "Created /app/job-0000000000\n" });
    expect(eph).toMatchObject({ code: 0, stdout: "Created /app/eph\n" });
    expect(cont.code).toBe(0);
    expect(ttl.code).toBe(0);
    expect(json(seqTtl)[0]).toMatchObject({ ok: true, path: expect.stringMatching(/^\/app\/st-\d{10}$/) });
    expect((await ek(["create", "-e", "-t", "5", "/x"])).code).toBe(2);

    r = await ek(["get", "/app"]);
    expect(r).toMatchObject({ code: 0, stdout: "hello\n" });
    r = await ek(["get", "-s", "/app"]);
    expect(r.stdout).toMatch(/^hello\ncZxid = 0x[0-9a-f]+\nctime = .*\n[\s\S]*dataVersion = 0\naclVersion = 0\nephemeralOwner = 0x0\ndataLength = 5\nnumChildren = 3\n$/);
    r = await ek(["--json", "get", "/app"]);
    expect(json(r)[0]).toMatchObject({ ok: true, path: "/app", data: "hello", stat: { version: 0, dataLength: 5 } });

    expect((await ek(["set", "/app", "world"])).code).toBe(0);
    r = await ek(["set", "-v", "0", "/app", "stale"]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^BADVERSION/);
    r = await ek(["set", "-s", "-v", "1", "/app", "v2"]);
    expect(r.stdout).toMatch(/dataVersion = 2/);
    r = await ek(["set", "/app/ttl", "-"], "from stdin");
    expect(r.code).toBe(0);
    expect((await ek(["get", "/app/ttl"])).stdout).toBe("from stdin\n");

    r = await ek(["stat", "/app"]);
    expect(r.stdout).toMatch(/^cZxid = 0x[0-9a-f]+\n[\s\S]*dataVersion = 2\n[\s\S]*numChildren = 3\n$/);
    r = await ek(["stat", "/nope"]);
    expect(r).toMatchObject({ code: 4 });
    expect(r.stderr).toMatch(/NONODE.*\/nope/);
    r = await ek(["--json", "stat", "/nope"]);
    expect(json(r)[0]).toMatchObject({ ok: false, err: -101, code: "NONODE" });

    r = await ek(["ls", "/app"]);
    expect(r.stdout).toMatch(/^\[job-0000000000, st-\d{10}, ttl\]\n$/);
    r = await ek(["ls", "-s", "/app"]);
    expect(r.stdout).toMatch(/^\[job-0000000000, st-\d{10}, ttl\]\ncZxid = [\s\S]*numChildren = 3\n$/);
    r = await ek(["--json", "ls", "/app"]);
    expect(json(r)[0]).toMatchObject({ ok: true, path: "/app", children: ["job-0000000000", expect.any(String), "ttl"], stat: { numChildren: 3 } });
    expect((await ek(["create", "/app/ttl/deep"])).code).toBe(0);
    r = await ek(["ls", "-R", "/app"]);
    expect(r.stdout.trim().split("\n")).toEqual(["/app", "/app/job-0000000000", expect.stringMatching(/^\/app\/st-/), "/app/ttl", "/app/ttl/deep"]);
    r = await ek(["--json", "ls", "-R", "/app"]);
    expect(json(r)[0].paths).toHaveLength(5);

    expect(await ek(["sync", "/app"])).toMatchObject({ code: 0, stdout: "Sync is OK\n" });
    expect(await ek(["getAllChildrenNumber", "/app"])).toMatchObject({ code: 0, stdout: "4\n" });
    expect(json(await ek(["--json", "getAllChildrenNumber", "/app"]))[0]).toEqual({ ok: true, path: "/app", count: 4 });

    r = await ek(["delete", "/app"]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/^NOTEMPTY/);
    expect((await ek(["delete", "-v", "9", "/app/job-0000000000"])).code).toBe(6);
    expect(await ek(["delete", "-v", "0", "/app/job-0000000000"])).toMatchObject({ code: 0, stdout: "" });
    expect((await ek(["delete", "/app/job-0000000000"])).code).toBe(4);
    expect(json(await ek(["--json", "deleteall", "/app"]))[0]).toEqual({ ok: true, path: "/app", deleted: 4 });
    expect((await ek(["get", "/app"])).code).toBe(4);
  });

  it("usage errors exit 2 before connecting; an unreachable service exits 3", async () => {
    const dead = { EDGEKEEPER_URL: "http://127.0.0.1:9" };
    for (const args of [["frobnicate", "/"], ["get"], ["get", "relative"], ["ls", "-x", "/"], ["set", "-v", "one", "/a", "b"], ["setAcl", "/a", "world:anyone:xyz"], ["lock", "/l"], ["--timeout", "soon", "ls", "/"]]) {
      const r = await ek(args, "", dead);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).not.toBe("");
    }
    const usage = json(await ek(["--json", "get"], "", dead))[0];
    expect(usage).toMatchObject({ ok: false, code: "USAGE", message: expect.stringMatching(/usage: get/) });
    let r = await ek(["--timeout", "800", "ls", "/"], "", dead);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/cannot connect to http:\/\/127\.0\.0\.1:9/);
    r = await ek(["--help"], "", dead);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Exit codes:/);
  });

  it("getAcl, setAcl (-v, -R), addauth / --auth, whoami: digest, ip, auth and world ACLs", async () => {
    const hash = createHash("sha1").update("alice:secret").digest("base64");
    const digestAcl = `digest:alice:${hash}:cdrwa`;
    expect((await ek(["create", "/sec", "s", `${digestAcl},world:anyone:r`])).code).toBe(0);
    let r = await ek(["getAcl", "/sec"]);
    expect(r.stdout).toBe(`'digest,'alice:x\n: cdrwa\n'world,'anyone\n: r\n`); // hashes masked without ADMIN
    r = await ek(["--auth", "digest:alice:secret", "getAcl", "-s", "/sec"]);
    expect(r.stdout).toMatch(new RegExp(`^'digest,'alice:${hash.replace(/[+/=]/g, "\\$&")}\\n: cdrwa\\n'world,'anyone\\n: r\\ncZxid`));
    r = await ek(["--json", "getAcl", "/sec"]);
    expect(json(r)[0].acl).toEqual([
      { scheme: "digest", id: "alice:x", perms: "cdrwa" },
      { scheme: "world", id: "anyone", perms: "r" },
    ]);
    r = await ek(["set", "/sec", "nope"]);
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/^NOAUTH/);
    expect((await ek(["--auth", "digest:alice:secret", "set", "/sec", "yes"])).code).toBe(0);

    // setAcl with a version, and -R over a subtree; auth:: expands to the session's identities.
    expect((await ek(["--auth", "digest:alice:secret", "create", "/sec/a", "", "auth::cdrwa"])).code).toBe(0);
    expect((await ek(["--auth", "digest:alice:secret", "setAcl", "-v", "5", "/sec", "world:anyone:cdrwa"])).code).toBe(6);
    r = await ek(["--auth", "digest:alice:secret", "setAcl", "-s", "-v", "0", "/sec", "ip:127.0.0.1:cdrwa,ip:10.0.0.0/8:r"]);
    expect(r.stdout).toMatch(/aclVersion = 1/);
    expect((await ek(["getAcl", "/sec"])).stdout).toBe(`'ip,'127.0.0.1\n: cdrwa\n'ip,'10.0.0.0/8\n: r\n`);
    expect((await ek(["--auth", "digest:alice:secret", "setAcl", "-R", "/sec", "world:anyone:cdrwa"])).code).toBe(0);
    expect((await ek(["getAcl", "/sec/a"])).stdout).toBe(`'world,'anyone\n: cdrwa\n`);

    r = await ek(["--json", "--auth", "digest:alice:secret", "whoami"]);
    expect(json(r)[0].identities).toContainEqual({ scheme: "digest", id: `alice:${hash}` });
    r = await ek(["whoami"]);
    expect(r.stdout).toMatch(/^Auth scheme: User\nip: 127\.0\.0\.1\n$/);
    expect(await ek(["addauth", "digest", "bob:pw"])).toMatchObject({ code: 0, stdout: "" });
    r = await ek(["addauth", "kerberos", "x"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^AUTHFAILED/);
    expect((await ek(["--auth", "nocolon", "whoami"])).code).toBe(2);
  });

  it("watch streams events until its count, addWatch until interrupted; get -w / stat -w / ls -w wait for their event", async () => {
    const w = start(["--json", "watch", "-c", "2", "/w"], env());
    expect(JSON.parse(await w.waitFor(/.*"watching".*\n/))).toEqual({ ok: true, watching: "/w", mode: "persistent" });
    await ek(["create", "/w", "1"]);
    await ek(["set", "/w", "2"]);
    let r = await w.done;
    expect(r.code).toBe(0);
    expect(json(r).slice(1)).toEqual([
      { ok: true, event: "NodeCreated", path: "/w", zxid: expect.any(Number) },
      { ok: true, event: "NodeDataChanged", path: "/w", zxid: expect.any(Number) },
    ]);

    const rec = start(["addWatch", "-m", "PERSISTENT_RECURSIVE", "/w"], env());
    await new Promise<void>((ok) => rec.proc.stderr!.on("data", (d) => String(d).includes("watching /w") && ok()));
    await ek(["create", "/w/child"]);
    await rec.waitFor(/type:NodeCreated path:\/w\/child zxid:\d+\n/);
    rec.proc.kill("SIGINT");
    r = await rec.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^WatchedEvent state:SyncConnected type:NodeCreated path:\/w\/child zxid:\d+\n$/);
    expect((await ek(["addWatch", "-m", "sometimes", "/w"])).code).toBe(2);

    const g = start(["get", "-w", "/w"], env());
    await g.waitFor(/^2\n/);
    const s = start(["stat", "-w", "/later"], env());
    await s.waitFor(/Node does not exist: \/later\n/);
    const l = start(["ls", "-w", "/w"], env());
    await l.waitFor(/^\[child\]\n/);
    await ek(["set", "/w", "3"]);
    await ek(["create", "/later"]);
    await ek(["create", "/w/second"]);
    expect(await g.done).toMatchObject({ code: 0, stdout: expect.stringMatching(/^2\nWatchedEvent state:SyncConnected type:NodeDataChanged path:\/w zxid:\d+\n$/) });
    expect((await s.done).stdout).toMatch(/type:NodeCreated path:\/later/);
    expect((await l.done).stdout).toMatch(/type:NodeChildrenChanged path:\/w/);
  });

  it("lock runs the command with the fencing token in its environment, exits with its code, and times out with 9", async () => {
    const script = "console.log(process.env.EDGEKEEPER_LOCK_PATH, process.env.EDGEKEEPER_FENCING_TOKEN, process.env.EDGEKEEPER_LOCK_NODE); process.exit(7)";
    const first = await ek(["lock", "/locks/job", "--", process.execPath, "-e", script]);
    expect(first.code).toBe(7);
    const [path, token, node] = first.stdout.trim().split(" ");
    expect(path).toBe("/locks/job");
    expect(node).toMatch(/^\/locks\/job\/.*lock-\d{10}$/);
    expect(first.stderr).toMatch(`held (fencing token ${token})`);

    // A holder keeps the lock until it is told to go; a second lock with -t gives up with 9.
    const holder = start(["lock", "/locks/job", "--", process.execPath, "-e", "console.log('in', process.env.EDGEKEEPER_FENCING_TOKEN); process.stdin.once('data', () => process.exit(0))"], env());
    const line = await holder.waitFor(/in \d+\n/);
    expect(Number(line.split(" ")[1])).toBeGreaterThan(Number(token));
    const late = await ek(["--json", "lock", "-t", "300", "/locks/job", "--", "true"]);
    expect(late.code).toBe(9);
    expect(json(late)[0]).toMatchObject({ ok: false, message: expect.stringMatching(/not granted within 300 ms/) });
    const waiter = start(["lock", "/locks/job", "--", "true"], env(), "");
    await new Promise<void>((ok) => waiter.proc.stderr!.on("data", (d) => String(d).includes("waiting") && ok()));
    waiter.proc.kill("SIGINT"); // gives up waiting
    expect((await waiter.done).code).toBe(130);
    holder.proc.stdin!.end("go\n");
    expect((await holder.done).code).toBe(0);

    const after = await ek(["--json", "lock", "-t", "5000", "/locks/job", "--", "true"]);
    expect(after.code).toBe(0);
    expect(json(after)[0]).toMatchObject({ ok: true, path: "/locks/job", exitCode: 0, lost: false });
    expect((await ek(["getAllChildrenNumber", "/locks/job"])).stdout).toBe("0\n"); // released
    expect((await ek(["lock", "/locks/job", "--", "/nonexistent/command"])).code).toBe(127);
  });

  it("the shell: every verb from piped stdin, help, quit, errors that do not end it, history", async () => {
    rmSync(HISTORY, { force: true });
    const script = [
      "create /sh 'hello world'",
      "create -e /sh/eph",
      "getEphemerals",
      "getEphemerals /sh",
      "get /sh",
      "get /missing",
      "ls /sh",
      "bogus",
      "help",
      "quit",
      "get /sh",
    ].join("\n");
    const r = await ek([], script + "\n");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Created \/sh\nCreated \/sh\/eph\n\[\/sh\/eph\]\n\[\/sh\/eph\]\nhello world\n\[eph\]\nCommands:\n/);
    expect(r.stdout).toMatch(/getAllChildrenNumber path/);
    expect(r.stdout.match(/hello world/g)).toHaveLength(1); // nothing after quit
    expect(r.stderr).toMatch(/NONODE/);
    expect(r.stderr).toMatch(/unknown command bogus/);
    // The ephemeral went with the shell's session.
    expect((await ek(["stat", "/sh/eph"])).code).toBe(4);
    expect(readFileSync(HISTORY, "utf8").split("\n")[0]).toBe("create /sh 'hello world'");
    expect(loadHistory(HISTORY).slice(0, 2)).toEqual(["quit", "help"]); // newest first

    // Piped without quit: the exit code is the last command's; --json works in the shell too.
    const j = await ek(["--json"], "get /sh\nget /missing\n");
    expect(j.code).toBe(4);
    expect(json(j)).toEqual([expect.objectContaining({ ok: true, data: "hello world" }), expect.objectContaining({ ok: false, code: "NONODE" })]);

    // Watches in the shell print as they fire, between commands.
    const sh = start([], env());
    sh.proc.stdin!.write("addWatch /sh\n");
    await sh.waitFor(/watching \/sh \(persistent_recursive\)\n/);
    await ek(["set", "/sh", "changed"]);
    await sh.waitFor(/type:NodeDataChanged path:\/sh/);
    sh.proc.stdin!.end("get /sh\n");
    expect(await sh.done).toMatchObject({ code: 0, stdout: expect.stringMatching(/changed\n$/) });
  });

  it("tab completion lists verbs and the children of the path being typed", async () => {
    const zk = await connect(server.url, { namespace: NS });
    try {
      await zk.create("/tab");
      await Promise.all(["apple", "apricot", "banana"].map((c) => zk.create(`/tab/${c}`)));
      expect(await complete(zk, "get /tab/ap")).toEqual([["/tab/apple", "/tab/apricot"], "/tab/ap"]);
      expect(await complete(zk, "ls /ta")).toEqual([["/tab"], "/ta"]);
      expect(await complete(zk, "ls /tab/")).toEqual([["/tab/apple", "/tab/apricot", "/tab/banana"], "/tab/"]);
      expect(await complete(zk, "ls /nothing/he")).toEqual([[], "/nothing/he"]);
      expect((await complete(zk, "getA"))[0]).toEqual(["getAcl ", "getAllChildrenNumber "]);
      expect(await complete(zk, "get ")).toEqual([["/"], ""]);
    } finally {
      await zk.close();
    }
  });

  it("parsing: zkCli ACL syntax, shell quoting", () => {
    expect(parseAcl("world:anyone:cdrwa,digest:u:h/a=:rw,ip:10.0.0.0/8:r,auth::a,token:alice:r")).toEqual([
      { scheme: "world", id: "anyone", perms: 31 },
      { scheme: "digest", id: "u:h/a=", perms: 3 },
      { scheme: "ip", id: "10.0.0.0/8", perms: 1 },
      { scheme: "auth", id: "", perms: 16 },
      { scheme: "token", id: "alice", perms: 1 },
    ]);
    expect(() => parseAcl("world:anyone")).toThrow(/scheme:id:perms/);
    expect(formatAcl([{ scheme: "world", id: "anyone", perms: 31 }])).toBe("'world,'anyone\n: cdrwa");
    expect(splitWords(`set /a "two words" 'it''s' a\\ b ""`)).toEqual(["set", "/a", "two words", "its", "a b", ""]);
  });
});

describe("the CLI with a server that requires tokens", () => {
  const SECRET = "cli-secret-cli-secret-cli-secret-cli!!";
  let secured: LocalServer;
  beforeAll(async () => {
    secured = await startServer({ vars: { EDGEKEEPER_JWT_SECRET: SECRET } });
  });
  afterAll(() => secured?.stop());

  it("--token or EDGEKEEPER_TOKEN authenticates; without one, or with a bad one, it exits 3 (AUTHFAILED)", async () => {
    const token = await new SignJWT({ ns: { "cli-*": ["read", "write"] } })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("ci")
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(SECRET));
    const run = (args: string[], extra: Record<string, string> = {}) => start(args, cliEnv(secured.url, "cli-auth", extra), "").done;
    let r = await run(["ls", "/"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/AUTHFAILED.*bearer token is required/);
    r = await run(["--json", "--token", "not-a-jwt", "ls", "/"]);
    expect(r.code).toBe(3);
    expect(json(r)[0]).toMatchObject({ ok: false, err: -115, code: "AUTHFAILED" });
    expect((await run(["--token", token, "create", "/t", "x"])).code).toBe(0);
    r = await run(["whoami"], { EDGEKEEPER_TOKEN: token });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^token: ci$/m);
    expect((await run(["-n", "other", "ls", "/"], { EDGEKEEPER_TOKEN: token })).code).toBe(3); // not this token's namespace
  });
});
