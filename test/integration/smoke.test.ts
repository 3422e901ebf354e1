import { describe, expect, it } from "vitest";
import { RawClient, b64, freshNamespace } from "../helpers/raw-client.js";

describe("smoke", () => {
  it("creates and reads a node", async () => {
    const c = await RawClient.connect(freshNamespace());
    const r = await c.request("create", { path: "/a", data: b64("hello") });
    expect(r.err).toBe(0);
    expect(r.path).toBe("/a");
    const g = await c.request("getData", { path: "/a" });
    expect(g.data).toBe(b64("hello"));
    expect(g.stat.version).toBe(0);
    c.close();
  });
});
