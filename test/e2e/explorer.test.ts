import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SignJWT } from "jose";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, Mutex } from "../../src/client/index.js";
import { startServer, type LocalServer } from "./server.js";

/**
 * The web explorer (docs/explorer.md) as a person uses it: served by the real local server
 * (`wrangler dev`, static assets through the Worker), two pages in Debian's headless Chromium
 * (driven by playwright-core). A node created in one page appears in the other through its
 * watch; an edit there changes the data and the stat version on the other page.
 * Screenshots: test-results/explorer/.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = "test-results/explorer";
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const NS = "explorer-e2e";

let browser: Browser;
const errors: string[] = [];

async function openExplorer(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && errors.push(`console: ${m.text()}`));
  await page.goto(url);
  return page;
}

const connected = (page: Page) => page.waitForSelector('#state[data-state="connected"]');
const statValue = (page: Page, field: string) => page.locator(`#stat [data-stat="${field}"] td`);

// Outside CI a machine without Chromium skips this file; CI installs it (.ci/run) and must run it.
describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)("the web explorer", () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // The page's script as shipped (public/explorer.js, built by `npm run build:explorer`).
    execFileSync(process.execPath, [join(ROOT, "scripts/build-explorer.mjs"), "--quiet"], { cwd: ROOT, stdio: "inherit" });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  describe("on an open local server", () => {
    let server: LocalServer;
    // One context (its own window) per page: a background tab would be throttled.
    let contexts: BrowserContext[] = [];
    beforeAll(async () => {
      server = await startServer();
      contexts = await Promise.all([1, 2].map(() => browser.newContext({ viewport: { width: 1500, height: 950 } })));
    });
    afterAll(async () => {
      for (const c of contexts) await c.close();
      await server?.stop();
    });

    it("creates a node seen live by a second page, edits it, and shows stat, ACL and panels", async () => {
      const page1 = await openExplorer(contexts[0], `${server.url}/?ns=${NS}`);
      const page2 = await openExplorer(contexts[1], `${server.url}/?ns=${NS}`);
      await Promise.all([connected(page1), connected(page2)]);
      await page2.waitForSelector('#tree li[data-path="/zookeeper"]');

      // Page 1 creates /greeting under the root (selected on connect).
      await page1.fill("#create-name", "greeting");
      await page1.fill("#create-data", "hello");
      await page1.click("#create");
      await expect.poll(() => page1.textContent("#node-path")).toBe("/greeting");
      expect(await page1.textContent("#create-msg")).toBe("created /greeting");

      // Page 2 sees it through the persistent watch on the expanded root.
      const row2 = page2.locator('#tree li[data-path="/greeting"]');
      await row2.waitFor();
      await page2.screenshot({ path: `${ARTIFACTS}/1-created-seen-in-page2.png` });
      await row2.locator(".name").first().click();
      await expect.poll(() => page2.inputValue("#data")).toBe("hello");
      expect(await statValue(page2, "version").textContent()).toBe("0");
      expect(await statValue(page2, "dataLength").textContent()).toBe("5");
      expect(await page2.locator("#acl td").allTextContents()).toEqual(["world", "anyone", "cdrwa"]);

      // Page 1 edits the data; page 2 shows the new data and version without a click.
      await page1.fill("#data", "hello, world");
      await page1.click("#save");
      await expect.poll(() => page1.textContent("#node-msg")).toBe("saved: version 1");
      await expect.poll(() => page2.inputValue("#data")).toBe("hello, world");
      await expect.poll(() => statValue(page2, "version").textContent()).toBe("1");
      await page2.screenshot({ path: `${ARTIFACTS}/2-edit-seen-in-page2.png` });

      // A change made elsewhere (a Node client): JSON, shown pretty-printed; then as hex.
      const zk = await connect(server.url, { namespace: NS });
      try {
        await zk.setData("/greeting", '{"a":1}');
        await zk.create("/greeting/child", "x");
      } finally {
        await zk.close();
      }
      await expect.poll(() => page2.inputValue("#data")).toBe('{\n  "a": 1\n}');
      await expect.poll(() => statValue(page2, "version").textContent()).toBe("2");
      await expect.poll(() => statValue(page2, "numChildren").textContent()).toBe("1");
      await page2.check('input[name=mode][value="hex"]');
      expect(await page2.inputValue("#data")).toBe("7b 22 61 22 3a 31 7d");

      // Panels: metrics numbers, both pages' sessions, the watches they hold.
      await page1.click('#tabs button[data-panel="metrics"]');
      const znodes = page1.locator('#panel [data-metric="znode_count"] td');
      // /, /zookeeper, /zookeeper/quota, /zookeeper/config, /greeting, /greeting/child
      await expect.poll(async () => Number(await znodes.textContent())).toBeGreaterThanOrEqual(6);
      expect(Number(await page1.locator('#panel [data-metric="num_alive_connections"] td').textContent())).toBeGreaterThanOrEqual(2);
      await page1.screenshot({ path: `${ARTIFACTS}/3-metrics.png` });
      await page1.click('#tabs button[data-panel="sessions"]');
      await expect.poll(() => page1.locator('#panel [data-panel-table="sessions"] tbody tr').count()).toBeGreaterThanOrEqual(2);
      await page1.click('#tabs button[data-panel="watches"]');
      await expect.poll(() => page1.locator('#panel [data-panel-table="watches"] tbody tr', { hasText: "/greeting" }).count()).toBeGreaterThanOrEqual(2);

      // Locks: a Node client holds a Mutex (docs/recipes.md layout); the panel names the holder and its fencing token.
      const holder = await connect(server.url, { namespace: NS });
      try {
        const lease = await new Mutex(holder, "/locks/report").acquire();
        await page1.click('#tabs button[data-panel="locks"]');
        const lock = page1.locator('#panel [data-lock="/locks/report"] tbody tr');
        await lock.first().waitFor();
        expect(await lock.first().locator("td").allTextContents()).toEqual([
          "lock-0000000000",
          "holder",
          String(lease!.token),
          holder.sessionId,
          expect.stringContaining('"owner"'),
        ]);
        await page1.screenshot({ path: `${ARTIFACTS}/3b-locks.png` });
      } finally {
        await holder.close();
      }

      // Delete (two clicks) in page 1: the node leaves page 2's tree.
      await page2.locator('#tree li[data-path="/greeting"] > .row .toggle').click();
      await page2.locator('#tree li[data-path="/greeting/child"]').waitFor();
      await page1.locator('#tree li[data-path="/greeting"] > .row .name').click();
      await expect.poll(() => page1.textContent("#node-path")).toBe("/greeting");
      await page1.fill("#create-name", "child");
      await page1.click("#create");
      await expect.poll(() => page1.textContent("#create-msg")).toMatch(/NODEEXISTS/);
      await page1.locator('#tree li[data-path="/greeting"] > .row .toggle').click();
      await page1.locator('#tree li[data-path="/greeting/child"] > .row .name').click();
      await expect.poll(() => page1.textContent("#node-path")).toBe("/greeting/child");
      await page1.click("#delete");
      await page1.click("#delete");
      await page2.locator('#tree li[data-path="/greeting/child"]').waitFor({ state: "detached" });
      await page2.screenshot({ path: `${ARTIFACTS}/4-deleted-seen-in-page2.png` });

      // The namespaces panel lists what this browser opened.
      await page1.click('#tabs button[data-panel="namespaces"]');
      expect(await page1.locator("#panel ul.ns li a").allTextContents()).toContain(NS);
      expect(errors).toEqual([]);
    });
  });

  describe("on a server with a token key", () => {
    const SECRET = "explorer-e2e-secret-explorer-e2e-secret!";
    const sign = (ns: Record<string, string[]>) =>
      new SignJWT({ ns }).setProtectedHeader({ alg: "HS256" }).setSubject("explorer").setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));
    let server: LocalServer;
    let context: BrowserContext;
    beforeAll(async () => {
      server = await startServer({ vars: { EDGEKEEPER_JWT_SECRET: SECRET } });
      context = await browser.newContext({ viewport: { width: 1500, height: 950 } });
    });
    afterAll(async () => {
      await context?.close();
      await server?.stop();
    });

    it("serves the page without a token, connects with one, and says when a panel needs the admin right", async () => {
      expect((await fetch(`${server.url}/`)).status).toBe(200);
      expect((await fetch(`${server.url}/v1/namespaces/${NS}/nodes/`)).status).toBe(401);
      const page = await openExplorer(context, `${server.url}/?ns=${NS}`);
      await page.waitForSelector('#state[data-state="authFailed"]');
      expect(await page.textContent("#conn-msg")).toMatch(/token/);
      await page.fill("#token", await sign({ [NS]: ["read", "write"] }));
      await page.click("#connect");
      await connected(page);
      await page.locator('#tree li[data-path="/zookeeper"]').waitFor();
      await page.click('#tabs button[data-panel="metrics"]');
      await expect.poll(() => page.textContent("#panel")).toMatch(/needs a token with the admin right/);
      await page.fill("#token", await sign({ [NS]: ["read", "write", "admin"] }));
      await page.click("#connect");
      await connected(page);
      await page.locator('#panel [data-metric="znode_count"]').waitFor();
      await page.screenshot({ path: `${ARTIFACTS}/5-with-token.png` });
      expect(errors.filter((e) => !/401|403|Unauthorized|Forbidden/.test(e))).toEqual([]);
    });
  });
});
