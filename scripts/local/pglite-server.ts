/**
 * The embedded Postgres of the local stack, as a child process: PGlite with its data
 * in `--db`, on the wire protocol at `--port` (through `pglite-socket`), each client
 * in a session of its own (pglite-sessions.ts), and on `--control-port` one route:
 * `POST /dump`, a plain-SQL `pg_dump` of the database made in-process by PGlite's own
 * pg_dump (`@electric-sql/pglite-tools`, built for the same Postgres as PGlite: the
 * system's `pg_dump` 15 refuses a server of 18). `npm run backup` calls it.
 */
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { pgDump } from "@electric-sql/pglite-tools/pg_dump";
import { isolateSessions } from "./pglite-sessions.ts";

/** What a dump holds: DROP ... IF EXISTS before each CREATE, so a restore replaces what is there; no owners or grants. */
export const DUMP_ARGS = ["--clean", "--if-exists", "--no-owner", "--no-privileges"];

const { values } = parseArgs({
  options: { db: { type: "string" }, port: { type: "string" }, "control-port": { type: "string" }, "max-connections": { type: "string", default: "16" } },
});
if (values.db === undefined || values.port === undefined || values["control-port"] === undefined) {
  console.error("usage: pglite-server.ts --db DIR --port N --control-port N [--max-connections N]");
  process.exit(2);
}

const db = new PGlite(values.db);
await db.waitReady;
const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: Number(values.port), maxConnections: Number(values["max-connections"]) });
const sessions = isolateSessions(db, server);

const control = createServer((request, response) => {
  if (request.method !== "POST" || request.url !== "/dump") {
    response.writeHead(404).end();
    return;
  }
  sessions
    .exclusive(() => pgDump({ pg: db, args: DUMP_ARGS }))
    .then(async (file) => response.writeHead(200, { "content-type": "application/sql" }).end(await file.text()))
    .catch((error: Error) => response.writeHead(500, { "content-type": "text/plain" }).end(error.message));
});

await server.start();
await new Promise<void>((resolve) => control.listen(Number(values["control-port"]), "127.0.0.1", resolve));

const stop = async (): Promise<void> => {
  control.close();
  await server.stop();
  await db.close();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
