/**
 * `npm run bench [-- --quick] [--edge] [--agents]`: brings the router (workerd, as `wrangler deploy
 * --dry-run` builds it), Portkey's open-source gateway and the fake provider up on
 * loopback, measures them side by side in one run, brings everything down, and
 * writes bench/RESULTS.md, bench/results.json and the chart (with --quick, under
 * bench/.quick/, a smoke check that keeps the committed results). With --edge, only
 * the store round trips of each path with the stores far away (edge.ts). With --agents, only
 * the agent sessions' replay through the router under each routing policy (agents.ts).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { gzippedKib } from "../deploy/bundle-size.ts";
import { type Stack, startStackOnMachineServers } from "../local/stack.ts";
import { runAgentBench } from "./agents.ts";
import { measurePath, paced } from "./cost.ts";
import { byPart, profileRouter } from "./cpu-profile.ts";
import { measureEdge } from "./edge.ts";
import { loadInOwnProcess as load } from "./load.ts";
import { pinForBench } from "./pinning.ts";
import { zipfWorkload } from "./replay.ts";
import { type BenchResults, KEYED, STATELESS, UNCOUNTED, writeEdgeReport, writeReport } from "./report.ts";
import { ADMIN_KEY, AUDIT_KEY, chatBody, JSON_HEADERS, makeKey, NEVER_REACHED, PROMPT, PROVIDER_KEY } from "./requests.ts";
import { measureScoring } from "./score.ts";
import { cpuSeconds, peakRssMib, pinTargets, startFakeProvider, startForwardOnlyWorker, startPortkey, startRouterProcess, type Target } from "./targets.ts";

const quick = process.argv.includes("--quick");
const root = fileURLToPath(new URL("../..", import.meta.url));
// 200 req/s is below saturation on this machine: the overhead headline is read there, where tails mean something.
const plan = quick
  ? { rates: [200, 500], rateMs: 4_000, concurrencies: [10], closedMs: 3_000, hitMs: 3_000, replay: 1_000, ttfb: 10 }
  : { rates: [100, 200, 500, 1_000], rateMs: 30_000, concurrencies: [10, 50], closedMs: 10_000, hitMs: 10_000, replay: 5_000, ttfb: 60 };

const NO_CACHE = { ...JSON_HEADERS, "cache-control": "no-cache, no-store" };
const KEY = PROVIDER_KEY;

const log = (line: string): void => console.log(`[bench] ${line}`);
const running: Target[] = [];
const started = async (target: Promise<Target>): Promise<Target> => {
  const t = await target;
  running.push(t);
  return t;
};

const pinning = pinForBench();
pinTargets(pinning);
log(
  pinning.pinned
    ? `pinned: targets on core ${pinning.target}; this process, the load generator, the fake provider and ${pinning.servers.join(", ")} on core ${pinning.others}`
    : `not pinned: ${pinning.why}`,
);

// --edge: only the round trips a Worker far from its stores pays (edge.ts), beside the last loopback run.
const agents = process.argv.includes("--agents");
const stack = process.argv.includes("--edge") || agents ? undefined : await startStackOnMachineServers("tg_bench");
try {
  if (agents) {
    const dir = await runAgentBench({ quick, log, environment: environment() });
    log(`wrote the agent table in ${dir}/RESULTS.md and ${dir}/agents.json`);
  } else if (stack === undefined) {
    const dir = await writeEdgeReport(await measureEdge({ quick, commit: environment().commit, log }), quick);
    log(`wrote ${dir}/edge.json and the edge table in ${dir}/RESULTS.md`);
  } else {
    const dir = await writeReport(await measure(stack), quick);
    log(`wrote ${dir}/RESULTS.md, ${dir}/results.json and the chart`);
  }
} finally {
  for (const target of running) await target.stop();
  await stack?.stop();
  pinning.restore();
}

async function measure(stack: Stack): Promise<BenchResults> {
  const storage = {
    ...stack.bindings,
    KEY_PREFIX: `bench${randomBytes(3).toString("hex")}`,
    AUDIT_HMAC_KEY: AUDIT_KEY,
    ADMIN_API_KEY: ADMIN_KEY,
    // Keys optional, so the plain router target keeps serving once the bench's key exists.
    REQUIRE_API_KEY: "false",
  };
  const providers = (url: string) => ({ OPENROUTER_BASE_URL: url, OPENROUTER_API_KEY: KEY, GROQ_BASE_URL: url, GROQ_API_KEY: KEY });
  const fast = await started(startFakeProvider());
  const slow = await started(startFakeProvider(["--first-token-ms", "300", "--token-interval-ms", "30", "--completion-tokens", "20"]));
  const router = await started(startRouterProcess({ ...storage, ...providers(fast.url) }));
  const uncounted = await started(startRouterProcess({ ...storage, ...providers(fast.url), METRICS_ENABLED: "false" }));
  // The same router with no stores configured: no cache, no audit, no keys, no metrics; what the request path costs on its own.
  const stateless = await started(startRouterProcess(providers(fast.url)));
  const portkey = await started(startPortkey());
  const forwardOnly = await started(startForwardOnlyWorker(fast.url));
  const portkeyHeaders = (upstream: string) => ({
    ...JSON_HEADERS,
    authorization: `Bearer ${KEY}`,
    "x-portkey-provider": "openai",
    "x-portkey-custom-host": upstream,
  });
  const clientKey = await makeKey(router.url, NEVER_REACHED);
  const targets = {
    direct: { url: `${fast.url}/chat/completions`, headers: JSON_HEADERS },
    router: { url: `${router.url}/v1/chat/completions`, headers: NO_CACHE },
    // The same router, with a client key checked and its limits and budget enforced on every request.
    [KEYED]: { url: `${router.url}/v1/chat/completions`, headers: { ...NO_CACHE, authorization: `Bearer ${clientKey}` } },
    portkey: { url: `${portkey.url}/v1/chat/completions`, headers: portkeyHeaders(fast.url) },
  };
  const body = chatBody(PROMPT);

  log("decision: scorer microbenchmark");
  const scoring = measureScoring(quick ? 3 : 7);

  const fixedRate: BenchResults["fixedRate"] = [];
  for (const rate of plan.rates) {
    for (const [name, target] of Object.entries(targets)) {
      log(`fixed rate ${rate}/s, ${plan.rateMs / 1000} s: ${name}`);
      fixedRate.push({ target: name, rate, ...(await load({ ...target, bodies: [body], mode: "rate", rate, durationMs: plan.rateMs })) });
    }
  }
  const throughput: BenchResults["throughput"] = [];
  const withCeiling = {
    ...targets,
    [UNCOUNTED]: { url: `${uncounted.url}/v1/chat/completions`, headers: NO_CACHE },
    [STATELESS]: { url: `${stateless.url}/v1/chat/completions`, headers: NO_CACHE },
    "workerd forward-only": { url: `${forwardOnly.url}/v1/chat/completions`, headers: JSON_HEADERS },
  };
  // Whose CPU each target's requests cost: its own process tree (the router's workerd, Portkey's Node), read from /proc.
  const pidOf: Record<string, number> = {
    router: router.pid,
    [KEYED]: router.pid,
    portkey: portkey.pid,
    [UNCOUNTED]: uncounted.pid,
    [STATELESS]: stateless.pid,
    "workerd forward-only": forwardOnly.pid,
  };
  for (const concurrency of plan.concurrencies) {
    for (const [name, target] of Object.entries(withCeiling)) {
      log(`closed loop, ${concurrency} in flight, ${plan.closedMs / 1000} s: ${name}`);
      const pid = pidOf[name];
      const cpuBefore = pid === undefined ? 0 : cpuSeconds(pid);
      // The Upstash and Neon stand-ins run in this process: its CPU over the run is theirs (the load generator is another process).
      const standInsBefore = process.cpuUsage();
      const result = await load({ ...target, bodies: [body], mode: "closed", concurrency, durationMs: plan.closedMs });
      const standIns = process.cpuUsage(standInsBefore);
      const perRequest = (us: number) => (result.ok === 0 ? undefined : Math.round(us / result.sent));
      const cpuUsPerRequest = pid === undefined ? undefined : perRequest((cpuSeconds(pid) - cpuBefore) * 1e6);
      const standInCpuUsPerRequest = perRequest(standIns.user + standIns.system);
      throughput.push({
        target: name,
        concurrency,
        ...result,
        ...(cpuUsPerRequest === undefined ? {} : { cpuUsPerRequest }),
        ...(standInCpuUsPerRequest === undefined ? {} : { standInCpuUsPerRequest }),
      });
    }
  }

  log("where the CPU goes: a profile of the router as deployed and with no stores");
  const profiles: BenchResults["profiles"] = {};
  const profiled = [
    ["router", { ...storage, ...providers(fast.url) }],
    [STATELESS, providers(fast.url)],
  ] as const;
  // The quick run profiles the router as deployed only, briefly: it checks the profiler works, within its two minutes.
  for (const [name, bindings] of quick ? profiled.slice(0, 1) : profiled) {
    const profile = await profileRouter(
      bindings,
      { body, headers: async () => NO_CACHE, concurrency: 10, durationMs: quick ? 1_500 : 6_000 },
      pinning.pinned ? pinning.target : undefined,
    );
    const rounded = (share: number) => Math.round(share * 10_000) / 10_000;
    profiles[name] = {
      rps: profile.rps,
      cpuUsPerRequest: profile.cpuUsPerRequest,
      parts: byPart(profile.time).map(({ part, share }) => ({ part, share: rounded(share) })),
      functions: [...profile.time.byFunction.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 25)
        .map(([name, us]) => ({ name: name.replace(/\s+/, " in "), share: rounded(us / profile.time.totalUs) })),
    };
  }

  log("cache-hit path: one cached answer, from the isolate; then from Redis (isolate cache of one entry, two answers in turn)");
  const hitBodies = [chatBody(`${PROMPT} (cached A)`), chatBody(`${PROMPT} (cached B)`)];
  const cacheHit = await load({ url: targets.router.url, headers: JSON_HEADERS, bodies: [hitBodies[0]!], mode: "rate", rate: 200, durationMs: plan.hitMs });
  const redisRouter = await started(startRouterProcess({ ...storage, ...providers(fast.url), CACHE_LOCAL_MAX_ENTRIES: "1" }));
  const redisUrl = `${redisRouter.url}/v1/chat/completions`;
  await load({ url: redisUrl, headers: JSON_HEADERS, bodies: hitBodies, mode: "closed", concurrency: 1, durationMs: 1_000, maxRequests: 2 });
  const redisHit = await load({ url: redisUrl, headers: JSON_HEADERS, bodies: hitBodies, mode: "rate", rate: 200, durationMs: plan.hitMs });

  log(`hit rate: ${plan.replay} requests of a seeded Zipf replay`);
  const workload = zipfWorkload(plan.replay);
  let hits = 0;
  for (const prompt of workload.prompts) {
    const response = await fetch(redisUrl, { method: "POST", headers: JSON_HEADERS, body: chatBody(prompt) });
    await response.arrayBuffer();
    if (response.headers.get("x-tiergate-cache") === "HIT") hits += 1;
  }

  log("what a request costs: Redis commands, Postgres statements and subrequests on each path");
  const costs = await measureCosts(stack, targets.router.url, targets[KEYED].headers.authorization);

  log("streaming: time to first byte with a provider that takes 300 ms to its first token");
  const streamRouter = await started(startRouterProcess({ ...storage, ...providers(slow.url) }));
  const streamBody = chatBody(PROMPT, { stream: true });
  const ttfbOf = (url: string, headers: Record<string, string>) =>
    load({ url, headers, bodies: [streamBody], mode: "ttfb", concurrency: 5, durationMs: 120_000, maxRequests: plan.ttfb });
  const ttfb = {
    direct: await ttfbOf(`${slow.url}/chat/completions`, JSON_HEADERS),
    router: await ttfbOf(`${streamRouter.url}/v1/chat/completions`, NO_CACHE),
    portkey: await ttfbOf(targets.portkey.url, portkeyHeaders(slow.url)),
  };

  return {
    environment: environment(),
    quick,
    plan,
    scoring,
    fixedRate,
    throughput,
    cache: {
      isolateHit: cacheHit,
      redisHit,
      hitRate: hits / workload.prompts.length,
      bestHitRate: workload.bestHitRate,
      requests: workload.prompts.length,
      distinct: workload.distinct,
    },
    ttfb,
    memoryMib: { router: peakRssMib(router.pid), portkey: peakRssMib(portkey.pid), direct: peakRssMib(fast.pid) },
    costs,
    profiles,
    bundleGzipKib: gzippedKib(`${root}dist`),
    pinned: { pinned: pinning.pinned, targets_core: pinning.target, others_core: pinning.others, servers_moved: pinning.servers },
  };
}

/** Each path's commands, statements and subrequests per request, through the local Upstash and Neon endpoints. */
async function measureCosts(stack: Stack, url: string, keyHeader: string): Promise<BenchResults["costs"]> {
  const n = quick ? 20 : 100;
  const post = async (body: string, headers: Record<string, string> = JSON_HEADERS) => {
    const response = await fetch(url, { method: "POST", headers, body });
    await response.arrayBuffer();
  };
  const stamp = Date.now();
  await post(chatBody(`${PROMPT} (cost: the hit)`));
  return {
    miss: await measurePath(stack, n, 1, (i) => post(chatBody(`${PROMPT} (cost: miss ${stamp} ${i})`))),
    hit: await measurePath(stack, n, 0, () => post(chatBody(`${PROMPT} (cost: the hit)`))),
    streamed: await measurePath(stack, n, 1, (i) => post(chatBody(`${PROMPT} (cost: stream ${stamp} ${i})`, { stream: true }))),
    refused: await measurePath(stack, n, 0, () => post(JSON.stringify({ model: "auto", messages: [] }))),
    "miss with a key": await measurePath(stack, n, 1, (i) =>
      post(chatBody(`${PROMPT} (cost: keyed ${stamp} ${i})`), { ...JSON_HEADERS, authorization: keyHeader }),
    ),
    // Issue 26's measure: one key at a steady 50 a second, beside the same rate without a key.
    "miss, 50 req/s": await measurePath(
      stack,
      n,
      1,
      paced(50, (i) => post(chatBody(`${PROMPT} (cost: paced ${stamp} ${i})`))),
    ),
    "miss with a key, 50 req/s": await measurePath(
      stack,
      n,
      1,
      paced(50, (i) => post(chatBody(`${PROMPT} (cost: keyed paced ${stamp} ${i})`), { ...JSON_HEADERS, authorization: keyHeader })),
    ),
  };
}

function environment(): BenchResults["environment"] {
  const git = (args: string[]): string => {
    try {
      return execFileSync("git", args, { cwd: root }).toString().trim();
    } catch {
      return "unknown";
    }
  };
  const workerd = execFileSync(`${root}node_modules/.bin/workerd`, ["--version"]).toString().trim();
  return {
    date: new Date().toISOString(),
    commit: git(["rev-parse", "--short", "HEAD"]),
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    node: process.version,
    workerd,
  };
}
