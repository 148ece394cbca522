/**
 * `npm run bench -- --edge [--quick]`: the router as a Worker far from its stores sees
 * them. The built router runs on workerd with the Upstash and Neon stand-ins behind
 * edge-proxy.ts (5 ms to a Redis replica, 80 ms to the primary, 60 ms to Neon; EDGE_*_MS
 * to change them), and each path is sent one request at a time, first with no delay and
 * then with it. Per path: the store round trips before the answer's first byte and after
 * it (counted by the proxy), and the latency they add, p50 and p99.
 */
import { randomBytes } from "node:crypto";
import { startStackOnMachineServers } from "../local/stack.ts";
import { type Delays, depths, type StoreCall, startEdgeProxy } from "./edge-proxy.ts";
import { percentiles } from "./load.ts";
import { ADMIN_KEY, AUDIT_KEY, chatBody as chat, JSON_HEADERS as json, makeKey as makeKeyAt, NEVER_REACHED, PROMPT, PROVIDER_KEY } from "./requests.ts";
import { startFakeProvider, startRouterProcess, type Target } from "./targets.ts";

export type EdgePath = {
  path: string;
  requests: number;
  /** Round trips per request, by store, before the first byte of the answer and after it. */
  before: Record<"primary" | "replica" | "neon", number>;
  after: Record<"primary" | "replica" | "neon", number>;
  /** Round trips waited in a row before the first byte, per request: all of them, and those that reached the primary (edge-proxy.ts `depths`). */
  inARow: { all: number; primary: number };
  /** What each store call before the first byte carried, per request (e.g. "primary EVALSHA"). */
  beforeCalls: Record<string, number>;
  statuses: Record<string, number>;
  addedMs: { p50: number; p99: number };
  /** Calls other processes made while this path's requests waited for their first byte, with the delays and without, in all: not counted above. */
  elsewhere: number;
};
export type EdgeResults = { date: string; commit: string; delays: Delays; paths: EdgePath[] };

type Request = { url: string; init: RequestInit };
type Path = { name: string; prepare?: () => Promise<void>; request: (i: number) => Promise<Request> };

const DELAYS: Delays = {
  primary: Number(process.env.EDGE_PRIMARY_MS ?? 80),
  replica: Number(process.env.EDGE_REPLICA_MS ?? 5),
  neon: Number(process.env.EDGE_NEON_MS ?? 60),
};
const ZERO: Delays = { primary: 0, replica: 0, neon: 0 };

export async function measureEdge(options: { quick: boolean; commit: string; log: (line: string) => void }): Promise<EdgeResults> {
  const n = options.quick ? 5 : 40;
  const fresh = options.quick ? 2 : 8;
  const running: Target[] = [];
  const started = async (target: Promise<Target>): Promise<Target> => {
    running.push(await target);
    return running.at(-1)!;
  };
  const stack = await startStackOnMachineServers("tg_bench_edge");
  const proxy = await startEdgeProxy(stack.bindings as Parameters<typeof startEdgeProxy>[0], ZERO);
  try {
    const fake = await started(startFakeProvider());
    const bindings = {
      ...stack.bindings,
      ...proxy.bindings,
      KEY_PREFIX: `edge${randomBytes(3).toString("hex")}`,
      AUDIT_HMAC_KEY: AUDIT_KEY,
      ADMIN_API_KEY: ADMIN_KEY,
      REQUIRE_API_KEY: "false",
      OPENROUTER_BASE_URL: fake.url,
      OPENROUTER_API_KEY: PROVIDER_KEY,
      GROQ_BASE_URL: fake.url,
      GROQ_API_KEY: PROVIDER_KEY,
    };
    // Each process's store calls are marked with its name (its URL, below): a request is charged only its own process's.
    const names = new Map<string, string>();
    const startNamed = async (name: string, extra: Record<string, string> = {}): Promise<Target> => {
      const target = await startRouterProcess({ ...bindings, ...proxy.as(name), ...extra });
      names.set(new URL(target.url).origin, name);
      return target;
    };
    const router = await started(startNamed("router"));
    // An isolate cache of one entry, asked two answers in turn: every hit comes from Redis.
    const redisRouter = await started(startNamed("redis router", { CACHE_LOCAL_MAX_ENTRIES: "1" }));
    const makeKey = (fields: Record<string, unknown>): Promise<string> => makeKeyAt(router.url, fields);
    const key = await makeKey(NEVER_REACHED);
    const limited = await makeKey({ rpm: 1 });
    const broke = await makeKey({ daily_budget_usd: 0.000001 });
    // Every miss is a real one: a prompt never asked, looked up in the cache first.
    const keyed = (k: string) => ({ ...json, authorization: `Bearer ${k}` });
    const cachedHeaders = keyed(key);
    const stamp = Date.now();
    const post = (url: string, body: string, headers: Record<string, string>): Promise<Request> =>
      Promise.resolve({ url, init: { method: "POST", headers, body } });
    const send = async (request: Request): Promise<void> => {
      await (await fetch(request.url, request.init)).arrayBuffer();
    };

    const chatAt = (target: Target) => `${target.url}/v1/chat/completions`;
    /** A response stored through `first`, and the request that continues it through `then`. */
    const continuation = async (first: Target, then: Target, label: string): Promise<Request> => {
      const stored = await fetch(`${first.url}/v1/responses`, {
        method: "POST",
        headers: keyed(key),
        body: JSON.stringify({ model: "auto", input: `${PROMPT} (stored ${label})` }),
      });
      const { id } = (await stored.json()) as { id: string };
      // The first response's own after-work (its row among it) is done before the continuation is counted.
      await new Promise((resolve) => setTimeout(resolve, 100 + 3 * Math.max(proxy.delays.primary, proxy.delays.neon)));
      return post(`${then.url}/v1/responses`, JSON.stringify({ model: "auto", input: "And then?", previous_response_id: id }), keyed(key));
    };
    const paths: Path[] = [
      { name: "no key, miss", request: (i) => post(chatAt(router), chat(`${PROMPT} (no key ${stamp} ${i})`), json) },
      { name: "keyed miss", request: (i) => post(chatAt(router), chat(`${PROMPT} (keyed ${stamp} ${i})`), keyed(key)) },
      {
        name: "keyed hit from Redis",
        prepare: async () => {
          for (const which of ["A", "B"]) await send(await post(chatAt(redisRouter), chat(`${PROMPT} (redis ${which} ${stamp})`), cachedHeaders));
        },
        request: (i) => post(chatAt(redisRouter), chat(`${PROMPT} (redis ${i % 2 === 0 ? "A" : "B"} ${stamp})`), cachedHeaders),
      },
      {
        name: "keyed hit from the isolate",
        prepare: async () => send(await post(chatAt(router), chat(`${PROMPT} (isolate ${stamp})`), cachedHeaders)),
        request: () => post(chatAt(router), chat(`${PROMPT} (isolate ${stamp})`), cachedHeaders),
      },
      { name: "keyed /v1/route", request: (i) => post(`${router.url}/v1/route`, chat(`${PROMPT} (route ${i})`), keyed(key)) },
      { name: "keyed stream (to first byte)", request: (i) => post(chatAt(router), chat(`${PROMPT} (stream ${stamp} ${i})`, { stream: true }), keyed(key)) },
      {
        name: "refused: over its rpm",
        prepare: async () => send(await post(chatAt(router), chat(`${PROMPT} (rpm)`), keyed(limited))),
        request: (i) => post(chatAt(router), chat(`${PROMPT} (rpm ${i})`), keyed(limited)),
      },
      { name: "refused: budget spent", request: (i) => post(chatAt(router), chat(`${PROMPT} (budget ${i})`), keyed(broke)) },
      // A stored response continued by the isolate that saved it, and by another: the history is read from the isolate's
      // copy (checked at a replica) or Redis's, not from Neon, and the row is written after the answer (target: no Neon call
      // before the first byte). Each continues a response of its own, made first; that one's after-work is done before.
      {
        name: "keyed Responses continuation, warm",
        request: async (i) => continuation(router, router, `${stamp} ${i}`),
      },
      {
        name: "keyed Responses continuation, another isolate",
        request: async (i) => continuation(router, redisRouter, `elsewhere ${stamp} ${i}`),
      },
    ];

    const results: EdgePath[] = [];
    for (const path of paths) {
      options.log(`edge: ${path.name}`);
      await path.prepare?.();
      // Numbered on: a miss with the delays is not a hit on a prompt the run without them asked.
      const zero = await run(proxy, names, ZERO, n, path.request);
      const edge = await run(proxy, names, DELAYS, n, (i) => path.request(n + i));
      results.push(summary(path.name, zero, edge));
      const { before } = results.at(-1)!;
      if (path.name.includes("Responses"))
        options.log(`  before the first byte: ${before.neon} Neon calls (target 0), ${before.primary} at Redis's primary, ${before.replica} at a replica`);
    }

    // A fresh isolate each time: a router process started for one request, with a key made on another.
    options.log(`edge: the first request of a key in a fresh isolate (${fresh} processes)`);
    const cold = { zero: [] as Sample[], edge: [] as Sample[] };
    for (let i = 0; i < 2 * fresh; i++) {
      const delays = i % 2 === 0 ? ZERO : DELAYS;
      const newKey = await makeKey(NEVER_REACHED);
      const isolate = await startNamed(`fresh ${i}`);
      try {
        const [sample] = await run(proxy, names, delays, 1, () => post(chatAt(isolate), chat(`${PROMPT} (cold ${stamp} ${i})`), keyed(newKey)));
        (delays === ZERO ? cold.zero : cold.edge).push(sample!);
      } finally {
        await isolate.stop();
      }
    }
    results.push(summary("first request of a key, fresh isolate", cold.zero, cold.edge));
    return { date: new Date().toISOString(), commit: options.commit, delays: DELAYS, paths: results };
  } finally {
    for (const target of running) await target.stop();
    await proxy.close();
    await stack.stop();
  }
}

/** `elsewhere`: calls other processes made between the request's start and its first byte (a slice given back when its lease ended), not counted. */
type Sample = { status: number; ms: number; before: StoreCall[]; after: StoreCall[]; elsewhere: number };

/**
 * Sends `n` requests one at a time. A call the proxy saw between a request's start and
 * its answer's first byte is before; one between that and the next request's start (a
 * pause long enough for the after-response work) is after. Only the calls of the process
 * the request went to count.
 */
async function run(
  proxy: Awaited<ReturnType<typeof startEdgeProxy>>,
  names: Map<string, string>,
  delays: Delays,
  n: number,
  request: (i: number) => Promise<Request>,
): Promise<Sample[]> {
  proxy.delays = { ...delays };
  const pause = 100 + 3 * Math.max(delays.primary, delays.neon);
  const samples: Sample[] = [];
  await new Promise((resolve) => setTimeout(resolve, pause));
  for (let i = 0; i < n; i++) {
    const { url, init } = await request(i);
    proxy.reset();
    const start = performance.now();
    const response = await fetch(url, init);
    const firstByte = performance.now();
    await response.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, pause));
    const from = names.get(new URL(url).origin);
    if (from === undefined) throw new Error(`${url}: not a router this bench started`);
    const calls = proxy.calls().filter((call) => call.at >= start);
    const own = calls.filter((call) => call.from === from);
    samples.push({
      status: response.status,
      ms: firstByte - start,
      before: own.filter((call) => call.at < firstByte),
      after: own.filter((call) => call.at >= firstByte),
      elsewhere: calls.filter((call) => call.from !== from && call.at < firstByte).length,
    });
  }
  return samples;
}

function summary(path: string, zero: Sample[], edge: Sample[]): EdgePath {
  const per = (count: number): number => Math.round((count / edge.length) * 100) / 100;
  const by = (pick: (sample: Sample) => StoreCall[]) => {
    const all = edge.flatMap(pick);
    return {
      primary: per(all.filter((c) => c.store === "primary").length),
      replica: per(all.filter((c) => c.store === "replica").length),
      neon: per(all.filter((c) => c.store === "neon").length),
    };
  };
  const beforeCalls: Record<string, number> = {};
  for (const call of edge.flatMap((sample) => sample.before)) {
    const name = `${call.store} ${call.commands.join("+")}`;
    beforeCalls[name] = (beforeCalls[name] ?? 0) + 1;
  }
  const inARow = { all: 0, primary: 0 };
  for (const { before } of edge) {
    const depth = depths(before);
    inARow.all += Math.max(0, ...depth);
    inARow.primary += new Set(depth.filter((_, i) => before[i]!.store === "primary")).size;
  }
  const statuses: Record<string, number> = {};
  for (const sample of edge) statuses[sample.status] = (statuses[sample.status] ?? 0) + 1;
  const zeroMs = percentiles(zero.map((s) => s.ms));
  const edgeMs = percentiles(edge.map((s) => s.ms));
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    path,
    requests: edge.length,
    before: by((s) => s.before),
    after: by((s) => s.after),
    inARow: { all: per(inARow.all), primary: per(inARow.primary) },
    beforeCalls: Object.fromEntries(Object.entries(beforeCalls).map(([name, count]) => [name, per(count)])),
    statuses,
    addedMs: { p50: round(edgeMs.p50 - zeroMs.p50), p99: round(edgeMs.p99 - zeroMs.p99) },
    elsewhere: [...zero, ...edge].reduce((sum, sample) => sum + sample.elsewhere, 0),
  };
}
