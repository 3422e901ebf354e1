/**
 * The web explorer (docs/explorer.md): a page served by the Worker that browses one
 * namespace's tree through the real client (src/client) over WebSocket. Plain DOM, no
 * framework. Live: every expanded node and the selected node carry a persistent watch, so a
 * change made elsewhere shows here.
 */
import { connect, ZooKeeperError, type CreateModeName, type EdgeKeeper, type Stat, type WatchEvent } from "../client/index.js";
import { admin, AdminError, locksPanel, metricsPanel, sessionsPanel, watchesPanel } from "./admin.js";
import { $, h, kvTable, table } from "./dom.js";
import { baseName, bytes, childPath, guessMode, parentOf, parse, permsString, render, time, type ViewMode } from "./format.js";

const NS_KEY = "edgekeeper.explorer.namespaces";
const TOKEN_KEY = "edgekeeper.explorer.token";
const LOCKS_KEY = "edgekeeper.explorer.locksRoot";
const PAGE = 1000;

let zk: EdgeKeeper | undefined;
let ns = "";
let token: string | undefined;
let selected: string | undefined;
let current: { path: string; data: Uint8Array; stat: Stat } | undefined;
let mode: ViewMode = "text";
let modeChosen = false;
let dirty = false;
let panel = "metrics";
let panelTimer: ReturnType<typeof setInterval> | undefined;

// ---- messages -------------------------------------------------------------------------

function describe(e: unknown): string {
  if (e instanceof ZooKeeperError) return `${e.codeName}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

function say(where: string, text: string, kind: "info" | "error" | "ok" = "info"): void {
  const el = $(where);
  el.textContent = text;
  el.className = `msg ${kind}`;
}

// ---- namespaces and token (browser storage) --------------------------------------------

function knownNamespaces(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(NS_KEY) ?? "[]");
    return Array.isArray(v) ? v.filter((x) => typeof x === "string") : [];
  } catch {
    return [];
  }
}

function remember(name: string): void {
  const list = [name, ...knownNamespaces().filter((n) => n !== name)].slice(0, 30);
  localStorage.setItem(NS_KEY, JSON.stringify(list));
  renderNamespaceList();
}

function forget(name: string): void {
  localStorage.setItem(NS_KEY, JSON.stringify(knownNamespaces().filter((n) => n !== name)));
  renderNamespaceList();
  if (panel === "namespaces") void showPanel();
}

function renderNamespaceList(): void {
  $("ns-list").replaceChildren(...knownNamespaces().map((n) => h("option", { value: n })));
}

// ---- connection -----------------------------------------------------------------------

async function open(name: string): Promise<void> {
  const input = $<HTMLInputElement>("token").value.trim();
  token = input || undefined;
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  const old = zk;
  zk = undefined;
  watches.clear();
  if (old) void old.close().catch(() => {});
  ns = name;
  selected = undefined;
  current = undefined;
  $("tree").replaceChildren();
  $("node").hidden = true;
  setState("connecting");
  say("conn-msg", `connecting to namespace "${name}"…`);
  const url = new URL(location.href);
  url.searchParams.set("ns", name);
  history.replaceState(null, "", url);
  document.title = `${name} — edgekeeper explorer`;
  try {
    const client = await connect(location.origin, { namespace: name, token, connectTimeout: 10_000 });
    if (ns !== name) return void client.close();
    zk = client;
    // Only the current client speaks: a replaced one still reports its "closed".
    client.onState((s) => zk === client && setState(s));
    client.onResync(() => zk === client && void refreshAll());
    setState(client.state);
    remember(name);
    say("conn-msg", `session ${client.sessionId}`, "ok");
    await buildTree();
    await select("/");
    void showPanel();
  } catch (e) {
    setState("authFailed");
    say("conn-msg", `could not connect: ${describe(e)}`, "error");
  }
}

function setState(state: string): void {
  const el = $("state");
  el.textContent = state;
  el.dataset.state = state;
}

// ---- persistent watches on expanded and selected nodes ---------------------------------

/** Why each path is watched ("expanded", "selected"); the watch goes when no reason is left. */
const watches = new Map<string, Set<string>>();

function onEvent(e: WatchEvent): void {
  // NodeChildrenChanged / NodeCreated / NodeDeleted change a listing; any event on the
  // selected node re-reads it.
  const row = rows.get(e.path);
  if (row?.expanded && e.type !== "NodeDataChanged") later(`children:${e.path}`, () => loadChildren(e.path));
  if (e.type === "NodeDeleted") later(`children:${parentOf(e.path)}`, () => (rows.get(parentOf(e.path))?.expanded ? loadChildren(parentOf(e.path)) : undefined));
  if (row && e.type !== "NodeDataChanged") later(`count:${e.path}`, () => refreshCount(e.path));
  if (e.path === selected) later(`node:${e.path}`, () => showNode(e.path, true));
  flash(e);
}

async function want(path: string, why: string): Promise<void> {
  const reasons = watches.get(path);
  if (reasons) return void reasons.add(why);
  watches.set(path, new Set([why]));
  try {
    await zk?.addWatch(path, onEvent);
  } catch (e) {
    watches.delete(path);
    say("tree-msg", `watch on ${path}: ${describe(e)}`, "error");
  }
}

async function unwant(path: string, why: string): Promise<void> {
  const reasons = watches.get(path);
  if (!reasons?.delete(why) || reasons.size > 0) return;
  watches.delete(path);
  await zk?.removeWatches(path, "persistent", onEvent).catch(() => {});
}

const pending = new Map<string, ReturnType<typeof setTimeout>>();
/** Coalesces bursts of events into one refresh per key. */
function later(key: string, fn: () => unknown): void {
  if (pending.has(key)) return;
  pending.set(
    key,
    setTimeout(() => {
      pending.delete(key);
      Promise.resolve(fn()).catch((e) => say("tree-msg", describe(e), "error"));
    }, 30),
  );
}

function flash(e: WatchEvent): void {
  const log = $("events");
  log.prepend(h("li", {}, h("code", {}, `${e.zxid}`), ` ${e.type} `, h("code", {}, e.path)));
  while (log.childElementCount > 50) log.lastElementChild!.remove();
}

// ---- the tree ---------------------------------------------------------------------------

interface Row {
  path: string;
  li: HTMLLIElement;
  toggle: HTMLButtonElement;
  count: HTMLSpanElement;
  list: HTMLUListElement;
  expanded: boolean;
}
const rows = new Map<string, Row>();

function makeRow(path: string, numChildren: number | undefined): Row {
  const toggle = h("button", { class: "toggle", title: "expand", "aria-label": `expand ${path}` }, "▸");
  const count = h("span", { class: "count" });
  const name = h("a", { class: "name", href: "#", "data-select": path }, baseName(path));
  const list = h("ul", { hidden: true });
  const li = h("li", { "data-path": path }, h("div", { class: "row" }, toggle, name, count), list);
  const row: Row = { path, li, toggle, count, list, expanded: false };
  setCount(row, numChildren);
  toggle.addEventListener("click", () => void (row.expanded ? collapse(row) : expand(row)));
  name.addEventListener("click", (ev) => {
    ev.preventDefault();
    void select(path);
  });
  rows.set(path, row);
  return row;
}

function setCount(row: Row, n: number | undefined): void {
  row.count.textContent = n ? String(n) : "";
  row.toggle.style.visibility = n === 0 && !row.expanded ? "hidden" : "visible";
}

async function buildTree(): Promise<void> {
  rows.clear();
  const stat = await zk!.exists("/");
  const root = makeRow("/", stat?.numChildren);
  $("tree").replaceChildren(root.li);
  await expand(root);
}

async function expand(row: Row): Promise<void> {
  row.expanded = true;
  row.toggle.textContent = "▾";
  row.list.hidden = false;
  await want(row.path, "expanded");
  await loadChildren(row.path);
}

async function collapse(row: Row): Promise<void> {
  row.expanded = false;
  row.toggle.textContent = "▸";
  row.list.hidden = true;
  for (const p of [...rows.keys()]) if (p !== row.path && p.startsWith(row.path === "/" ? "/" : row.path + "/")) await dropRow(p);
  row.list.replaceChildren();
  await unwant(row.path, "expanded");
}

async function dropRow(path: string): Promise<void> {
  const row = rows.get(path);
  if (!row) return;
  rows.delete(path);
  if (row.expanded) await unwant(path, "expanded");
}

async function loadChildren(path: string): Promise<void> {
  const row = rows.get(path);
  if (!zk || !row?.expanded) return;
  let listing: { children: string[]; stat: Stat; cursor?: string };
  try {
    listing = await zk.getChildren2(path, { limit: PAGE });
  } catch (e) {
    row.list.replaceChildren(h("li", { class: "msg error" }, describe(e)));
    return;
  }
  setCount(row, listing.stat.numChildren);
  const stats = await Promise.all(listing.children.map((c) => zk!.exists(childPath(path, c)).catch(() => null)));
  const keep = new Set(listing.children.map((c) => childPath(path, c)));
  for (const li of [...row.list.children] as HTMLElement[]) {
    const p = li.dataset.path;
    if (p === undefined || !keep.has(p)) {
      if (p !== undefined) for (const q of [...rows.keys()]) if (q === p || q.startsWith(p + "/")) await dropRow(q);
      li.remove();
    }
  }
  let before: Element | null = row.list.firstElementChild;
  listing.children.forEach((c, i) => {
    const p = childPath(path, c);
    let child = rows.get(p);
    if (!child) child = makeRow(p, stats[i]?.numChildren);
    else setCount(child, stats[i]?.numChildren);
    if (child.li !== before) row.list.insertBefore(child.li, before);
    before = child.li.nextElementSibling;
  });
  if (listing.cursor) row.list.append(h("li", { class: "muted" }, `… first ${PAGE} of ${listing.stat.numChildren} children shown`));
  markSelected();
}

async function refreshCount(path: string): Promise<void> {
  const row = rows.get(path);
  const stat = await zk?.exists(path);
  if (row && stat) setCount(row, stat.numChildren);
}

async function refreshAll(): Promise<void> {
  for (const row of rows.values()) if (row.expanded) await loadChildren(row.path);
  if (selected) await showNode(selected, true);
}

function markSelected(): void {
  for (const el of document.querySelectorAll("#tree .row.selected")) el.classList.remove("selected");
  if (selected) rows.get(selected)?.li.firstElementChild?.classList.add("selected");
}

/** Expands the ancestors of a path so it shows in the tree. */
async function reveal(path: string): Promise<void> {
  const parts = path.split("/").filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const p = i === 0 ? "/" : "/" + parts.slice(0, i).join("/");
    const row = rows.get(p);
    if (row && !row.expanded) await expand(row);
    else if (row) await loadChildren(p);
  }
}

// ---- the node view -------------------------------------------------------------------------

async function select(path: string): Promise<void> {
  if (!zk) return;
  if (selected && selected !== path) await unwant(selected, "selected");
  selected = path;
  dirty = false;
  modeChosen = false;
  say("node-msg", "");
  await want(path, "selected");
  markSelected();
  await showNode(path, false);
}

async function showNode(path: string, live: boolean): Promise<void> {
  if (!zk || path !== selected) return;
  $("node").hidden = false;
  $("node-path").textContent = path;
  let data: Uint8Array, stat: Stat;
  try {
    ({ data, stat } = await zk.getData(path));
  } catch (e) {
    say("node-msg", live ? `${path} is gone (${describe(e)})` : describe(e), "error");
    $("stat").replaceChildren();
    $<HTMLTextAreaElement>("data").value = "";
    current = undefined;
    return;
  }
  if (path !== selected) return;
  const changedElsewhere = live && current?.path === path && stat.mzxid !== current.stat.mzxid;
  current = { path, data, stat };
  if (!modeChosen) mode = guessMode(data);
  if (!dirty) {
    renderData();
    if (changedElsewhere) say("node-msg", `changed elsewhere: now version ${stat.version} (zxid ${stat.mzxid})`, "info");
  } else if (changedElsewhere) say("node-msg", `changed elsewhere: now version ${stat.version}. Your edit would fail; Reload to see it.`, "error");
  $("data-size").textContent = bytes(data.length);
  renderStat(stat);
  const [acl, total] = await Promise.all([zk.getACL(path).catch((e) => describe(e)), zk.getAllChildrenNumber(path).catch(() => undefined)]);
  if (path !== selected) return;
  $("acl").replaceChildren(
    typeof acl === "string"
      ? h("p", { class: "msg error" }, acl)
      : table(["scheme", "id", "perms"], acl.acl.map((a) => [a.scheme, h("code", {}, a.id), h("code", { title: "c d r w a" }, permsString(a.perms))])),
  );
  $("children-count").textContent = `${stat.numChildren} child(ren)${total !== undefined ? `, ${total} descendant(s) in all` : ""}`;
  $("delete").textContent = "Delete";
  $<HTMLButtonElement>("delete").disabled = path === "/" || path === "/zookeeper" || path.startsWith("/zookeeper/");
}

function renderData(): void {
  if (!current) return;
  const { text, fellBack } = render(current.data, mode);
  $<HTMLTextAreaElement>("data").value = text;
  for (const b of document.querySelectorAll<HTMLInputElement>("input[name=mode]")) b.checked = b.value === mode;
  dirty = false;
  if (fellBack) say("node-msg", "not valid JSON: shown as text", "error");
}

function renderStat(stat: Stat): void {
  const owner = stat.ephemeralOwner;
  const ownerNote = owner === "0000000000000000" ? "" : owner === zk?.sessionId ? " (this page)" : /^ff/.test(owner) ? " (container/TTL marker)" : " (ephemeral)";
  $("stat").replaceChildren(
    kvTable("stat", [
      ["czxid", "czxid", stat.czxid],
      ["mzxid", "mzxid", stat.mzxid],
      ["pzxid", "pzxid", stat.pzxid],
      ["ctime", "ctime", time(stat.ctime)],
      ["mtime", "mtime", time(stat.mtime)],
      ["version", "version", stat.version],
      ["cversion", "cversion", stat.cversion],
      ["aversion", "aversion", stat.aversion],
      ["ephemeralOwner", "ephemeralOwner", owner + ownerNote],
      ["dataLength", "dataLength", stat.dataLength],
      ["numChildren", "numChildren", stat.numChildren],
    ]),
  );
}

async function save(): Promise<void> {
  if (!zk || !current) return;
  let data: Uint8Array;
  try {
    data = parse($<HTMLTextAreaElement>("data").value, mode);
  } catch (e) {
    return say("node-msg", describe(e), "error");
  }
  try {
    const stat = await zk.setData(current.path, data, { version: current.stat.version });
    current = { path: current.path, data, stat };
    dirty = false;
    renderStat(stat);
    say("node-msg", `saved: version ${stat.version}`, "ok");
  } catch (e) {
    say("node-msg", `not saved: ${describe(e)}`, "error");
  }
}

async function remove(): Promise<void> {
  const button = $<HTMLButtonElement>("delete");
  if (!zk || !current) return;
  if (button.textContent !== "Really delete?") {
    button.textContent = "Really delete?";
    setTimeout(() => (button.textContent = "Delete"), 4000);
    return;
  }
  const path = current.path;
  try {
    await zk.delete(path, { version: current.stat.version });
    say("node-msg", `deleted ${path}`, "ok");
    await select(parentOf(path));
  } catch (e) {
    button.textContent = "Delete";
    say("node-msg", `not deleted: ${describe(e)}`, "error");
  }
}

async function create(): Promise<void> {
  if (!zk || !selected) return;
  const name = $<HTMLInputElement>("create-name").value.trim().replace(/^\/+/, "");
  const modeName = $<HTMLSelectElement>("create-mode").value as CreateModeName;
  const ttl = Number($<HTMLInputElement>("create-ttl").value) || undefined;
  if (!name) return say("create-msg", "name the new node", "error");
  const path = name.startsWith("/") ? name : childPath(selected, name);
  try {
    const created = await zk.create(path, $<HTMLTextAreaElement>("create-data").value, { mode: modeName, ttl: modeName.endsWith("_ttl") ? ttl : undefined });
    say("create-msg", `created ${created}`, "ok");
    $<HTMLInputElement>("create-name").value = "";
    $<HTMLTextAreaElement>("create-data").value = "";
    await reveal(created);
    await select(created);
  } catch (e) {
    say("create-msg", `not created: ${describe(e)}`, "error");
  }
}

// ---- panels ---------------------------------------------------------------------------

async function showPanel(): Promise<void> {
  for (const b of document.querySelectorAll<HTMLButtonElement>("#tabs button")) b.classList.toggle("active", b.dataset.panel === panel);
  const body = $("panel");
  $("locks-form").hidden = panel !== "locks";
  try {
    let content: Node;
    if (panel === "namespaces") content = namespacesPanel();
    else if (!zk) content = h("p", { class: "muted" }, "connect to a namespace first");
    else if (panel === "metrics") content = await metricsPanel(ns, token);
    else if (panel === "sessions") content = await sessionsPanel(ns, token, zk.sessionId);
    else if (panel === "watches") content = await watchesPanel(ns, token, zk.sessionId);
    else content = await locksPanel(zk, $<HTMLInputElement>("locks-root").value.trim() || "/");
    body.replaceChildren(content);
    body.dataset.loaded = panel;
  } catch (e) {
    body.replaceChildren(h("p", { class: `msg error ${e instanceof AdminError ? "refused" : ""}` }, describe(e)));
    body.dataset.loaded = panel;
  }
  $("panel-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

function namespacesPanel(): Node {
  const list = knownNamespaces();
  return h(
    "div",
    {},
    h("p", { class: "muted" }, "Namespaces opened in this browser (kept in localStorage; the service keeps no list). Type any name above to open another."),
    list.length
      ? h(
          "ul",
          { class: "ns" },
          list.map((n) =>
            h(
              "li",
              {},
              h("a", { href: `?ns=${encodeURIComponent(n)}`, onclick: (ev: Event) => (ev.preventDefault(), ($<HTMLInputElement>("ns").value = n), void open(n)) }, n),
              n === ns ? h("span", { class: "tag" }, "open") : null,
              h("button", { class: "small", onclick: () => forget(n) }, "forget"),
            ),
          ),
        )
      : h("p", { class: "muted" }, "none yet"),
  );
}

function autoRefresh(): void {
  if (panelTimer) clearInterval(panelTimer);
  panelTimer = setInterval(() => {
    if ($<HTMLInputElement>("live").checked && document.visibilityState === "visible" && panel !== "namespaces") void showPanel();
  }, 5000);
}

// ---- wiring -----------------------------------------------------------------------------

async function main(): Promise<void> {
  renderNamespaceList();
  const params = new URLSearchParams(location.search);
  const nsInput = $<HTMLInputElement>("ns");
  const tokenInput = $<HTMLInputElement>("token");
  tokenInput.value = sessionStorage.getItem(TOKEN_KEY) ?? "";
  nsInput.value = params.get("ns") ?? knownNamespaces()[0] ?? "demo";
  $<HTMLInputElement>("locks-root").value = localStorage.getItem(LOCKS_KEY) ?? "/locks";

  $("connect-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (nsInput.value.trim()) void open(nsInput.value.trim());
  });
  $("save").addEventListener("click", () => void save());
  $("reload").addEventListener("click", () => {
    dirty = false;
    say("node-msg", "");
    if (selected) void showNode(selected, false);
  });
  $("delete").addEventListener("click", () => void remove());
  $("create-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    void create();
  });
  $("create-mode").addEventListener("change", () => ($<HTMLInputElement>("create-ttl").hidden = !$<HTMLSelectElement>("create-mode").value.endsWith("_ttl")));
  $("data").addEventListener("input", () => (dirty = true));
  for (const b of document.querySelectorAll<HTMLInputElement>("input[name=mode]"))
    b.addEventListener("change", () => {
      if (dirty && current) {
        try {
          current = { ...current, data: parse($<HTMLTextAreaElement>("data").value, mode) };
        } catch (e) {
          b.checked = false;
          for (const o of document.querySelectorAll<HTMLInputElement>("input[name=mode]")) o.checked = o.value === mode;
          return say("node-msg", `fix the data first: ${describe(e)}`, "error");
        }
      }
      const wasDirty = dirty;
      mode = b.value as ViewMode;
      modeChosen = true;
      renderData();
      dirty = wasDirty;
    });
  for (const b of document.querySelectorAll<HTMLButtonElement>("#tabs button"))
    b.addEventListener("click", () => {
      panel = b.dataset.panel!;
      void showPanel();
    });
  $("panel-refresh").addEventListener("click", () => void showPanel());
  $("locks-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    localStorage.setItem(LOCKS_KEY, $<HTMLInputElement>("locks-root").value.trim());
    void showPanel();
  });
  autoRefresh();

  // The service says whether it wants tokens (/healthz needs none).
  const health = (await fetch("/healthz").then((r) => r.json(), () => null)) as { auth?: string } | null;
  $("auth-mode").textContent = health?.auth === "open" ? "auth: open (local)" : "auth: tokens";
  const ready = params.has("ns") || (health?.auth === "open" && knownNamespaces().length > 0) || tokenInput.value !== "";
  if (ready) await open(nsInput.value.trim());
  else say("conn-msg", "enter a namespace (and a token for a deployed service), then Connect");
}

void main();
(globalThis as { explorer?: unknown }).explorer = { get zk() { return zk; }, admin };
