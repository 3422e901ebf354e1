// The bundle's entry (scripts/build-cli.mjs → dist/edgekeeper-cli.mjs; bin/edgekeeper.mjs runs it).
import { main } from "./main.js";

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Sockets and timers of a closed client must not hold the process.
setTimeout(() => process.exit(code), 50).unref();
