/**
 * The web explorer's static files (docs/explorer.md), from the ASSETS binding: Workers static
 * assets under `wrangler dev` and when deployed, a workerd disk service under `npm run serve`.
 * The page holds no data — it asks for a token and sends it with every WebSocket and admin
 * call — so it is served without one; the service gate (no key configured) still refuses it.
 */
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  map: "application/json; charset=utf-8",
  json: "application/json; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
};

/** The service's own paths: never looked up among the static files. */
export function isServicePath(pathname: string): boolean {
  return pathname === "/healthz" || pathname === "/v1" || pathname.startsWith("/v1/");
}

/** A static file of the explorer, or undefined (no ASSETS binding, another method, no such file). */
export async function explorerAsset(request: Request, env: Env): Promise<Response | undefined> {
  const assets = (env as Env & { ASSETS?: Fetcher }).ASSETS;
  if (!assets || (request.method !== "GET" && request.method !== "HEAD")) return undefined;
  const url = new URL(request.url);
  if (url.pathname === "/") url.pathname = "/index.html";
  if (url.pathname.split("/").some((part) => part.startsWith("."))) return undefined;
  const res = await assets.fetch(new Request(url, { method: request.method, headers: request.headers }));
  if (res.status !== 200 && res.status !== 304) return undefined;
  const headers = new Headers(res.headers);
  const type = TYPES[url.pathname.slice(url.pathname.lastIndexOf(".") + 1)];
  const given = headers.get("Content-Type");
  if (type && (!given || given.startsWith("application/octet-stream"))) headers.set("Content-Type", type);
  if (!headers.has("Cache-Control")) headers.set("Cache-Control", "no-cache");
  headers.set("X-Content-Type-Options", "nosniff");
  if (url.pathname.endsWith(".html")) {
    headers.set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    headers.set("Referrer-Policy", "no-referrer");
  }
  return new Response(request.method === "HEAD" ? null : res.body, { status: res.status, headers });
}
