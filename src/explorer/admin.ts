/**
 * The side panels: the namespace's metrics, sessions and watches from the admin routes
 * (docs/admin.md; they need the token's `admin` right), and its locks read from the tree
 * (docs/recipes.md: contenders are sequential children, the lowest holds, token = czxid).
 */
import type { EdgeKeeper, Stat } from "../client/index.js";
import { h, kvTable, table } from "./dom.js";
import { bytes, childPath, time } from "./format.js";
import type { Monitor, SessionList, WatchesByPath } from "../protocol/admin.js";
import { PREFIX, sortBySequence } from "../core/contenders.js";

export class AdminError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** GET /v1/namespaces/<ns>/admin/<cmd> with the page's token. */
export async function admin<T>(ns: string, cmd: string, token: string | undefined): Promise<T> {
  const res = await fetch(`/v1/namespaces/${encodeURIComponent(ns)}/admin/${cmd}`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    cache: "no-store",
  });
  if (res.ok) return (await res.json()) as T;
  const body = (await res.json().catch(() => null)) as { code?: string; message?: string } | null;
  const why = body?.message ?? res.statusText;
  if (res.status === 401 || res.status === 403)
    throw new AdminError(`Refused (${res.status} ${body?.code ?? ""}): this panel needs a token with the admin right on "${ns}". ${why}`, res.status);
  throw new AdminError(`${res.status} ${body?.code ?? ""}: ${why}`, res.status);
}

export async function metricsPanel(ns: string, token: string | undefined): Promise<Node> {
  // The mntr reply as the object defines it (a type only: nothing of it is bundled).
  const m = await admin<Monitor>(ns, "mntr", token);
  const lat = (k: "write" | "read") => m.latency?.[k];
  const rows: [string, string, string | number][] = [
    ["zxid", "last zxid", m.zxid],
    ["znode_count", "znodes", m.znode_count],
    ["ephemerals_count", "ephemeral znodes", m.ephemerals_count],
    ["data_bytes", "data", bytes(m.data_bytes)],
    ["approximate_data_size", "approximate data size", m.approximate_data_size],
    ["num_alive_connections", "open WebSockets", m.num_alive_connections],
    ["global_sessions", "sessions", m.global_sessions],
    ["sessions_connected", "… connected", m.sessions.connected],
    ["sessions_disconnected", "… disconnected", m.sessions.disconnected],
    ["sessions_leases", "… HTTP leases", m.sessions.leases],
    ["watch_count", "watches", m.watch_count],
    ["watches_kinds", "… data / child / persistent / recursive", `${m.watches.data} / ${m.watches.child} / ${m.watches.persistent} / ${m.watches.recursive}`],
    ["outstanding_requests", "outstanding requests", m.outstanding_requests],
    ["http_held_requests", "HTTP held / streams", `${m.http_held_requests} / ${m.http_streams}`],
    ["ws_frames", "WebSocket frames", m.ws_frames],
    ["avg_latency", "latency avg / min / max (ms)", `${m.avg_latency.toFixed(2)} / ${m.min_latency} / ${m.max_latency}`],
    ["latency_write", "write p50 / p99 (ms)", lat("write") ? `${lat("write")!.p50 ?? "—"} / ${lat("write")!.p99 ?? "—"} (${lat("write")!.count})` : "—"],
    ["latency_read", "read p50 / p99 (ms)", lat("read") ? `${lat("read")!.p50 ?? "—"} / ${lat("read")!.p99 ?? "—"} (${lat("read")!.count})` : "—"],
    ["changelog", "change log zxids (replayable from)", `${m.changelog.first_zxid}…${m.changelog.last_zxid} (${m.changelog.oldest_replayable_zxid})`],
    ["uptime", "instance up since", `${time(m.started_at)} (${Math.round(m.uptime / 1000)} s)`],
  ];
  const reqs = Object.entries(m.requests ?? {}).flatMap(([transport, ops]) =>
    Object.entries(ops).map(([op, c]) => [transport, op, c.count, c.errors] as (string | number)[]),
  );
  return h("div", {}, kvTable("metric", rows), h("h4", {}, "Requests since the instance started"), table(["transport", "op", "count", "errors"], reqs));
}

export async function sessionsPanel(ns: string, token: string | undefined, own: string | undefined): Promise<Node> {
  const r = await admin<SessionList>(ns, "sessions", token);
  return h(
    "div",
    {},
    h("p", { class: "muted" }, `${r.count} session(s)${r.truncated ? ", first 1000 shown" : ""}`),
    table(
      ["session", "kind", "state", "address", "identities", "timeout", "last heard", "expires", "watches", "ephemerals"],
      r.sessions.map((s) => [
        h("code", {}, s.session_id, s.session_id === own ? h("span", { class: "tag" }, "this page") : null),
        s.kind,
        s.state,
        s.remote_socket_address,
        s.identities.map((i) => `${i.scheme}:${i.id}`).join(" "),
        `${s.session_timeout} ms`,
        time(s.last_heard),
        time(s.expires_at),
        s.watches,
        s.ephemerals,
      ]),
      { "data-panel-table": "sessions" },
    ),
  );
}

export async function watchesPanel(ns: string, token: string | undefined, own: string | undefined): Promise<Node> {
  const r = await admin<WatchesByPath>(ns, "watches_by_path", token);
  const rows = Object.entries(r.path_to_session_ids).flatMap(([path, sessions]) =>
    Object.entries(sessions).map(([sid, kinds]) => [h("code", {}, path), h("code", {}, sid, sid === own ? h("span", { class: "tag" }, "this page") : null), kinds.join(", ")]),
  );
  return h(
    "div",
    {},
    h("p", { class: "muted" }, `${r.watch_count} watch(es) of WebSocket sessions${r.truncated ? ", first 1000 shown" : ""}; HTTP watches (SSE, long-poll) are counted under Metrics`),
    table(["path", "session", "kinds"], rows, { "data-panel-table": "watches" }),
  );
}

/** The read-write lock's contender prefixes (its contenders are ordered like the others'). */
const READ = "read-";
const WRITE = "write-";
const KINDS: Record<string, string> = {
  [PREFIX.lock]: "Mutex",
  [READ]: "ReadWriteLock",
  [WRITE]: "ReadWriteLock",
  [PREFIX.semaphore]: "Semaphore",
  [PREFIX.election]: "LeaderElection",
};
/** A contender name's prefix: all but its 10-character sequence suffix (ten digits, or a minus and nine). */
const prefixOf = (name: string): string => name.slice(0, -10);

interface Contender {
  name: string;
  prefix: string;
  stat: Stat;
  data: string;
}

/**
 * Locks under `root`: every node (to depth 3 below it, at most 200 listed) whose children are
 * recipe contenders. Holder rules per docs/recipes.md.
 */
export async function locksPanel(zk: EdgeKeeper, root: string): Promise<Node> {
  const bases: { path: string; contenders: Contender[] }[] = [];
  let frontier = [root];
  let listed = 0;
  for (let depth = 0; depth <= 3 && frontier.length > 0 && listed < 200; depth++) {
    const lists = await Promise.all(frontier.map((p) => zk.getChildren(p).then((c) => [p, c] as const, () => [p, [] as string[]] as const)));
    const next: string[] = [];
    for (const [path, children] of lists) {
      listed++;
      const seqs = sortBySequence(children).filter((c) => KINDS[prefixOf(c)] !== undefined);
      if (seqs.length > 0) {
        const got = await Promise.all(
          seqs.map((name) =>
            zk.getData(childPath(path, name)).then(
              (r) => ({ name, prefix: prefixOf(name), stat: r.stat, data: new TextDecoder().decode(r.data).slice(0, 120) }),
              () => undefined,
            ),
          ),
        );
        bases.push({ path, contenders: got.filter((c): c is Contender => c !== undefined) });
      }
      for (const c of children) if (!seqs.includes(c)) next.push(childPath(path, c));
    }
    frontier = next.slice(0, 200 - listed);
  }
  if (bases.length === 0) return h("p", { class: "muted" }, `No lock, semaphore or election contenders under ${root} (recipes' layout: docs/recipes.md).`);
  return h(
    "div",
    {},
    bases.map(({ path, contenders }) => {
      const kind = KINDS[contenders[0]?.prefix ?? ""] ?? "?";
      const holds = (c: Contender, i: number): string => {
        if (c.prefix === PREFIX.lock) return i === 0 ? "holder" : `waiting (${i})`;
        if (c.prefix === PREFIX.election) return i === 0 ? "leader" : `candidate (${i})`;
        if (c.prefix === WRITE) return i === 0 ? "holder (write)" : "waiting";
        if (c.prefix === READ) return contenders.slice(0, i).some((o) => o.prefix === WRITE) ? "waiting" : "holder (read)";
        return `rank ${i} (the N lowest hold)`;
      };
      return h(
        "section",
        { class: "lock", "data-lock": path },
        h("h4", {}, h("code", {}, path), ` — ${kind}, ${contenders.length} contender(s)`),
        table(
          ["contender", "role", "fencing token (czxid)", "owner session", "data"],
          contenders.map((c, i) => [h("code", {}, c.name), h("span", { class: holds(c, i).startsWith("holder") || holds(c, i) === "leader" ? "holder" : "" }, holds(c, i)), c.stat.czxid, h("code", {}, c.stat.ephemeralOwner), h("code", {}, c.data)]),
        ),
      );
    }),
  );
}
