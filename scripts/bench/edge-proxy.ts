/**
 * Upstash Global and Neon as a Worker far from them sees them: a proxy in front of the
 * local stand-ins that adds a round trip to every store call and counts what it
 * forwarded, so `npm run bench -- --edge` measures round trips instead of inferring
 * them from timings.
 * - Upstash REST: a call made only of reads (GET, MGET, HGETALL, EXISTS, EVAL_RO,
 *   EVALSHA_RO, …; a pipeline of nothing else) goes to a read replica; anything that
 *   writes, and every EVAL/EVALSHA, goes to the primary region. Told apart by parsing the
 *   REST body, as Upstash itself routes them.
 * - Neon: every HTTP query, and every message a WebSocket client sends, pays Neon's round trip.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";

export type Store = "primary" | "replica" | "neon";
export type Delays = Record<Store, number>;
/** One forwarded call: where it went, when it arrived and when it was answered (ms, `performance.now()` of this process). */
/** `from`: the process that made the call, as `EdgeProxy.as` named it ("" for one given the plain bindings). */
export type StoreCall = { store: Store; from: string; at: number; answeredAt: number | undefined; commands: string[] };

/** Upstash's reads: commands a replica may answer. */
const READS = new Set([
  "GET",
  "MGET",
  "HGET",
  "HMGET",
  "HGETALL",
  "EXISTS",
  "TTL",
  "PTTL",
  "STRLEN",
  "LLEN",
  "LRANGE",
  "SCARD",
  "SMEMBERS",
  "SISMEMBER",
  "ZCARD",
  "ZRANGE",
  "ZSCORE",
  "EVAL_RO",
  "EVALSHA_RO",
]);

/** Where Upstash Global sends one REST call, from its path and body. */
export function storeOf(path: string, body: string): { store: Store; commands: string[] } {
  let commands: string[];
  if (path === "/pipeline" || path === "/multi-exec") commands = (JSON.parse(body) as unknown[][]).map((command) => String(command[0]).toUpperCase());
  else if (path === "/" || path === "") commands = [String((JSON.parse(body) as unknown[])[0]).toUpperCase()];
  else commands = [decodeURIComponent(path.split("/")[1] ?? "").toUpperCase()];
  const reads = path !== "/multi-exec" && commands.length > 0 && commands.every((name) => READS.has(name));
  return { store: reads ? "replica" : "primary", commands };
}

export type EdgeProxy = {
  /** Worker bindings that send its store calls through the proxy. */
  bindings: Record<string, string>;
  /** The same, with the calls marked as `name`'s: one process's calls told from another's that lands in the same window. */
  as(name: string): Record<string, string>;
  delays: Delays;
  calls(): StoreCall[];
  reset(): void;
  close(): Promise<void>;
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function startEdgeProxy(
  stack: { UPSTASH_REDIS_REST_URL: string; NEON_HTTP_ENDPOINT: string; NEON_WS_PROXY: string },
  delays: Delays,
): Promise<EdgeProxy> {
  let calls: StoreCall[] = [];
  const record = (store: Store, from: string, commands: string[]): StoreCall => {
    const call: StoreCall = { store, from, at: performance.now(), answeredAt: undefined, commands };
    calls.push(call);
    return call;
  };
  const upstash = await listen(async (req, res) => {
    const body = await read(req);
    const { from, path } = caller(req.url);
    const { store, commands } = storeOf(path, body);
    const call = record(store, from, commands);
    await sleep(proxy.delays[store]);
    await forward(`${stack.UPSTASH_REDIS_REST_URL}${path}`, req, body, res);
    call.answeredAt = performance.now();
  });
  const neonHttp = new URL(stack.NEON_HTTP_ENDPOINT);
  const neon = await listen(async (req, res) => {
    const body = await read(req);
    const { from, path } = caller(req.url);
    const call = record("neon", from, ["SQL"]);
    await sleep(proxy.delays.neon);
    await forward(`${neonHttp.origin}${path}`, req, body, res);
    call.answeredAt = performance.now();
  });
  // Neon's WebSocket relay: each message the client sends waits a round trip before it goes on.
  const sockets = new WebSocketServer({ server: neon.server });
  sockets.on("connection", (client, request) => {
    const { from, path } = caller(request.url);
    const backend = new WebSocket(`ws://${stack.NEON_WS_PROXY.split("/")[0]}${path}`);
    let queue = Promise.resolve();
    const opened = new Promise((resolve, reject) => backend.once("open", resolve).once("error", reject));
    client.on("message", (data: Buffer) => {
      const call = record("neon", from, ["WS"]);
      queue = queue.then(async () => {
        await sleep(proxy.delays.neon);
        await opened;
        backend.send(data);
        call.answeredAt = performance.now(); // sent on: its answer is the backend's, not counted apart
      });
    });
    backend.on("message", (data: Buffer) => client.send(data));
    backend.on("close", () => client.close());
    backend.on("error", () => client.terminate());
    client.on("close", () => backend.close());
  });

  const bindingsAs = (prefix: string): Record<string, string> => ({
    UPSTASH_REDIS_REST_URL: `${upstash.url}${prefix}`,
    NEON_HTTP_ENDPOINT: `${neon.url}${prefix}${neonHttp.pathname}`,
    NEON_WS_PROXY: `${neon.url.replace("http://", "")}${prefix}/${stack.NEON_WS_PROXY.split("/").slice(1).join("/")}`,
  });
  const proxy: EdgeProxy = {
    bindings: bindingsAs(""),
    as: (name) => bindingsAs(`/as/${encodeURIComponent(name)}`),
    delays: { ...delays },
    calls: () => calls,
    reset: () => {
      calls = [];
    },
    async close() {
      sockets.close();
      await Promise.all([upstash.close(), neon.close()]);
    },
  };
  return proxy;
}

/** The process a call came from (the `/as/<name>` its bindings put first), and the path past it. */
export function caller(url = "/"): { from: string; path: string } {
  const marked = /^\/as\/([^/?]+)(.*)$/.exec(url);
  if (marked === null) return { from: "", path: url };
  const rest = marked[2]!;
  return { from: decodeURIComponent(marked[1]!), path: rest.startsWith("/") ? rest : `/${rest}` };
}

async function listen(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>) {
  const server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => {
      if (!res.headersSent) res.writeHead(502).end(error.message);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function read(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

async function forward(url: string, req: IncomingMessage, body: string, res: ServerResponse): Promise<void> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string" && name !== "host" && name !== "content-length") headers[name] = value;
  const answer = await fetch(url, { method: req.method ?? "POST", headers, ...(req.method === "GET" || req.method === "HEAD" ? {} : { body }) });
  const out: Record<string, string> = {};
  answer.headers.forEach((value, name) => {
    if (name !== "content-length" && name !== "content-encoding" && name !== "transfer-encoding") out[name] = value;
  });
  res.writeHead(answer.status, out).end(Buffer.from(await answer.arrayBuffer()));
}

/**
 * How many store round trips a request waited in a row: a call's depth is one more
 * than the deepest call answered before it arrived (one it could have waited for).
 * Returns each call's depth, in order.
 */
export function depths(calls: readonly StoreCall[]): number[] {
  const depth: number[] = [];
  for (const [i, call] of calls.entries()) {
    let deepest = 0;
    for (let j = 0; j < i; j++) {
      const answeredAt = calls[j]!.answeredAt;
      if (answeredAt !== undefined && answeredAt <= call.at) deepest = Math.max(deepest, depth[j]!);
    }
    depth.push(deepest + 1);
  }
  return depth;
}
