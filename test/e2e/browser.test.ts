import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type EdgeKeeper } from "../../src/client/index.js";
import { clientBundle } from "./client-bundle.js";
import { startServer, type LocalServer } from "./server.js";

/**
 * The client as a browser gets it: the shipped minified ESM bundle (dist/), loaded by a page in headless
 * Chromium (Debian's, driven by playwright-core), talking to the real local server.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = "test-results/browser";

let server: LocalServer;
let page: Page;
let browser: Browser;
let web: Server;
let webUrl: string;
let node: EdgeKeeper;


const PAGE = `<!doctype html><meta charset="utf-8"><title>edgekeeper browser test</title>
<body><h1>edgekeeper</h1><pre id="log"></pre>
<script type="module">
  import * as ek from "/edgekeeper-client.js";
  window.ek = ek;
  window.log = (line) => { document.getElementById("log").textContent += line + "\\n"; };
  window.ready = true;
</script></body>`;

// Outside CI a machine without Chromium skips this file; CI installs it (.ci/run) and must run it.
describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)("the client in a browser", () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServer();
    const js = readFileSync(clientBundle(), "utf8");
    web = createServer((req, res) => {
      if (req.url === "/edgekeeper-client.js") res.writeHead(200, { "content-type": "text/javascript" }).end(js);
      else res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
    });
    await new Promise<void>((r) => web.listen(0, "127.0.0.1", r));
    webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}/`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    page = await browser.newPage();
    await page.goto(webUrl);
    await page.waitForFunction(() => (window as any).ready === true);
    node = await connect(server.url, { namespace: "browser" });
  });

  afterAll(async () => {
    await node?.close();
    await browser?.close();
    await new Promise((r) => web?.close(r));
    await server?.stop();
  });

  it("connects, takes a lock with a fencing token, and receives watch events", async () => {
    const result = await page.evaluate(async (url) => {
      const { connect, Mutex } = (window as any).ek;
      const zk = await connect(url, { namespace: "browser" });
      const log = (window as any).log;
      log(`connected as session ${zk.sessionId}`);
      const events: string[] = [];
      await zk.create("/shared", "v0");
      await zk.getData("/shared", { watch: (e: any) => (events.push(`${e.type} ${e.path}`), log(`event ${e.type} ${e.path}`)) });
      (window as any).events = events;
      const lease = await new Mutex(zk, "/locks/browser").acquire({ timeout: 5000 });
      log(`holding /locks/browser with fencing token ${lease.token}`);
      (window as any).zk = zk;
      (window as any).lease = lease;
      return { session: zk.sessionId, token: lease.token, state: zk.state };
    }, server.url);
    expect(result.state).toBe("connected");
    expect(result.session).toMatch(/^[0-9a-f]{16}$/);
    expect(result.token).toBeGreaterThan(0);

    // A Node client changes the node: the browser's watch fires.
    await node.setData("/shared", "v1");
    await page.waitForFunction(() => (window as any).events.length > 0);
    expect(await page.evaluate(() => (window as any).events)).toEqual(["NodeDataChanged /shared"]);

    // The lock is really held: a Node contender waits, then gets it with a higher token.
    const waiting = new (await import("../../src/client/index.js")).Mutex(node, "/locks/browser").acquire({ timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 300));
    await page.evaluate(async () => {
      await (window as any).lease.release();
      (window as any).log("released");
    });
    const next = await waiting;
    expect(next).not.toBeNull();
    expect(next!.token).toBeGreaterThan(result.token);
    await next!.release();

    await page.screenshot({ path: `${ARTIFACTS}/lock-and-watch.png` });
    await page.evaluate(async () => (window as any).zk.close());
  });
});
