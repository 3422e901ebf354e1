import { describe, expect, it } from "vitest";
import { keyedWorker, SECRET } from "../helpers/auth.js";

/**
 * The web explorer's static files (public/, docs/explorer.md) through the Worker: served first
 * by nothing but the Worker (run_worker_first), which keeps its own routes and the service gate.
 */
describe("the explorer's static files", () => {
  it("are served at / with their types; the service's routes and 404s are unchanged", async () => {
    const w = keyedWorker({ EDGEKEEPER_AUTH: "open" });
    const page = await w.fetch("/");
    expect(page.status).toBe(200);
    expect(page.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(page.headers.get("Content-Security-Policy")).toContain("default-src 'self'");
    expect(await page.text()).toContain("edgekeeper explorer");
    const css = await w.fetch("/explorer.css");
    expect(css.status).toBe(200);
    expect(css.headers.get("Content-Type")).toMatch(/^text\/css/);
    await css.body?.cancel();
    expect(await (await w.fetch("/healthz")).json()).toMatchObject({ service: "edgekeeper" });
    for (const [method, path] of [["GET", "/nope"], ["GET", "/v1/index.html"], ["POST", "/"], ["GET", "/.assetsignore"]]) {
      const res = await w.fetch(path, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await res.json()).toMatchObject({ code: "BADARGUMENTS" });
    }
  });

  it("with a token key the page loads without a token; the API still needs one", async () => {
    const w = keyedWorker({ EDGEKEEPER_JWT_SECRET: SECRET });
    const page = await w.fetch("/");
    expect(page.status).toBe(200);
    await page.body?.cancel();
    expect((await w.fetch("/v1/namespaces/x/nodes/a")).status).toBe(401);
  });

  it("with no key configured even the page is refused (secure by default)", async () => {
    const res = await keyedWorker({}).fetch("/");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: "AUTHFAILED" });
  });
});
