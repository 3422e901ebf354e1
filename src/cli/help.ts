import { commands } from "./commands/index.js";

/** The usage text: global options, verbs, exit codes (docs/cli.md has the details). */
export function helpText(shell = false): string {
  const verbs = commands.map((c) => `  ${(c.name + " " + c.usage).padEnd(48)} ${c.summary}`);
  if (shell) return ["Commands:", ...verbs, `  ${"help".padEnd(48)} this list`, `  ${"quit".padEnd(48)} leave (the session ends: its ephemeral nodes go)`].join("\n");
  return [
    "usage: edgekeeper [options] <verb> [args…]     run one command",
    "       edgekeeper [options]                    interactive shell",
    "",
    "Options (anywhere before a lone --):",
    "  --url URL            the service (env EDGEKEEPER_URL; default http://127.0.0.1:8787)",
    "  -n, --namespace NS   the namespace (env EDGEKEEPER_NAMESPACE; default \"default\")",
    "  --token JWT          bearer token (env EDGEKEEPER_TOKEN)",
    "  --auth SCHEME:AUTH   addauth right after connecting, e.g. digest:alice:secret (repeatable)",
    "  --json               one JSON object per result: {\"ok\":true,…} or {\"ok\":false,\"err\":…,\"code\":…}",
    "  --timeout MS         connect and request timeout (default 10000)",
    "  -h, --help           this text",
    "",
    "Verbs:",
    ...verbs,
    "",
    "Exit codes: 0 ok, 1 other server error, 2 usage, 3 connection/auth/session, 4 NONODE,",
    "5 NODEEXISTS, 6 BADVERSION, 7 NOTEMPTY, 8 NOAUTH, 9 lock not granted in time,",
    "130 interrupted; lock exits with its command's code. Docs: docs/cli.md",
  ].join("\n");
}
