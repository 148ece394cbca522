/**
 * Serves the built worker in workerd (Miniflare) as its own process:
 * `node serve-router.ts '<bindings JSON>' [worker.js]` prints the URL.
 */
import { startRouter } from "../local/worker.ts";

const bindings = JSON.parse(process.argv[2] ?? "{}") as Record<string, string>;
const router = await startRouter(bindings, process.argv[3] ? { scriptPath: process.argv[3] } : {});
process.stdout.write(`${router.url}\n`);
const stop = (): void => void router.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
