/**
 * Neon's two serverless endpoints in front of a real Postgres, so
 * `@neondatabase/serverless` in the worker runs unchanged locally:
 * - `POST /sql`: the HTTP protocol of `neon()` (one query, or a batch in a transaction);
 * - `GET /v2?address=…` upgraded to a WebSocket: a byte relay to Postgres for `Pool` and `Client`.
 * The user, password and database come from the client's connection string; the
 * host and port are always this endpoint's backend.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { type AddressInfo, connect } from "node:net";
import pg from "pg";
import { WebSocketServer } from "ws";

export type NeonEndpointOptions = { backendHost: string; backendPort: number; port?: number };
export type NeonEndpoint = {
  /** For `neonConfig.fetchEndpoint`. */
  httpUrl: string;
  /** For `neonConfig.wsProxy`, without a scheme (`useSecureWebSocket` is false locally). */
  wsProxy: string;
  /** What the worker sent over HTTP: requests (subrequests) and the statements in them. */
  traffic(): PostgresTraffic;
  resetTraffic(): void;
  close(): Promise<void>;
};
export type PostgresTraffic = { requests: number; statements: number };

type Query = { query: string; params?: unknown[] };
const RAW_TEXT = { getTypeParser: () => (value: string) => value };
const ERROR_FIELDS = [
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
  "severity",
] as const;

/**
 * A client out of `pool` for one request, and how to put it back. A backend stopped while the
 * client is out and between statements (a test stopping PostgreSQL) reaches the client as an
 * `error` event, which the pool listens for only on idle clients: unheard, it would be an
 * uncaught exception in the process hosting the stand-in. It is heard here, and the client is
 * dropped when given back.
 */
export async function borrow(pool: pg.Pool): Promise<{ client: pg.PoolClient; giveBack(): void }> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error): void => {
    broken = error;
  };
  client.on("error", onError);
  return {
    client,
    giveBack: () => {
      client.off("error", onError);
      client.release(broken);
    },
  };
}

export async function startNeonEndpoint(options: NeonEndpointOptions): Promise<NeonEndpoint> {
  const pools = new Map<string, pg.Pool>();
  const poolFor = (connectionString: string): pg.Pool => {
    const url = new URL(connectionString);
    const key = `${url.username}:${url.password}@${url.pathname}`;
    let pool = pools.get(key);
    if (pool === undefined) {
      pool = new pg.Pool({
        host: options.backendHost,
        port: options.backendPort,
        user: decodeURIComponent(url.username) || "postgres",
        password: decodeURIComponent(url.password) || undefined,
        database: decodeURIComponent(url.pathname.slice(1)) || "postgres",
        max: 4,
        connectionTimeoutMillis: 3_000,
        idleTimeoutMillis: 10_000,
      });
      pool.on("error", () => {}); // a backend restart kills idle clients; the pool replaces them
      pools.set(key, pool);
    }
    return pool;
  };

  let traffic: PostgresTraffic = { requests: 0, statements: 0 };
  const server = createServer((req, res) => {
    void handleSql(req, res).catch((error: unknown) => sendError(res, error));
  });

  async function handleSql(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST" || !req.url?.startsWith("/sql")) return send(res, 404, { message: "not found" });
    const connectionString = req.headers["neon-connection-string"];
    if (typeof connectionString !== "string") return send(res, 400, { message: "missing Neon-Connection-String" });
    const body = JSON.parse(await readBody(req)) as Query | { queries: Query[] };
    traffic.requests += 1;
    traffic.statements += "queries" in body ? body.queries.length : 1;
    const { client, giveBack } = await borrow(poolFor(connectionString));
    try {
      if (!("queries" in body)) return send(res, 200, await run(client, body));
      await client.query(beginStatement(req.headers));
      try {
        const results = [];
        for (const query of body.queries) results.push(await run(client, query));
        await client.query("COMMIT");
        return send(res, 200, { results });
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        throw error;
      }
    } finally {
      giveBack();
    }
  }

  const sockets = new WebSocketServer({ server, path: "/v2" });
  sockets.on("connection", (ws) => {
    const tcp = connect(options.backendPort, options.backendHost);
    const pending: Buffer[] = [];
    tcp.on("connect", () => {
      for (const chunk of pending.splice(0)) tcp.write(chunk);
    });
    ws.on("message", (data: Buffer) => (tcp.connecting ? pending.push(data) : tcp.write(data)));
    tcp.on("data", (data) => ws.send(data));
    tcp.on("close", () => ws.close());
    tcp.on("error", () => ws.close());
    ws.on("close", () => tcp.destroy());
    ws.on("error", () => tcp.destroy());
  });

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    httpUrl: `http://127.0.0.1:${port}/sql`,
    wsProxy: `127.0.0.1:${port}/v2`,
    traffic: () => traffic,
    resetTraffic: () => {
      traffic = { requests: 0, statements: 0 };
    },
    close: async () => {
      for (const ws of sockets.clients) ws.terminate();
      sockets.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await Promise.all([...pools.values()].map((pool) => pool.end().catch(() => {})));
    },
  };
}

async function run(client: pg.PoolClient, { query, params = [] }: Query) {
  const result = await client.query({ text: query, values: params, rowMode: "array", types: RAW_TEXT });
  return {
    command: result.command,
    rowCount: result.rowCount,
    rows: result.rows,
    fields: result.fields.map((field) => ({ ...field })),
    rowAsArray: true,
  };
}

function beginStatement(headers: IncomingMessage["headers"]): string {
  const isolation = headers["neon-batch-isolation-level"];
  const parts = ["BEGIN"];
  if (typeof isolation === "string") parts.push(`ISOLATION LEVEL ${isolation.replace(/([a-z])([A-Z])/g, "$1 $2").toUpperCase()}`);
  if (headers["neon-batch-read-only"] === "true") parts.push("READ ONLY");
  if (headers["neon-batch-deferrable"] === "true") parts.push("DEFERRABLE");
  return parts.join(" ");
}

/** Postgres's own errors go back as Neon sends them (HTTP 400 with their fields); others as 503. */
function sendError(res: ServerResponse, error: unknown): void {
  const pgError = error as Record<string, unknown> & { message?: string };
  if (typeof pgError?.code === "string" && pgError.code.length === 5) {
    const body: Record<string, unknown> = { message: pgError.message };
    for (const field of ERROR_FIELDS) body[field] = pgError[field];
    send(res, 400, body);
    return;
  }
  send(res, 503, { message: `Postgres is unreachable: ${pgError?.message ?? String(error)}` });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
