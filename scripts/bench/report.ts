/** Writes the bench's results: results.json (headline keys first), RESULTS.md, and the latency chart (SVG, vega-lite). */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as vega from "vega";
import { compile } from "vega-lite";
import { withAgentSectionOf } from "./agent-report.ts";
import { budgetedCommands, COMMAND_BUDGET, type PathCost, PRICES, usdPerMillion } from "./cost.ts";
import type { EdgeResults } from "./edge.ts";
import type { LoadResult } from "./load.ts";
import type { ScoreRow } from "./score.ts";

export type BenchResults = {
  environment: { date: string; commit: string; cpu: string; cores: number; node: string; workerd: string };
  quick: boolean;
  plan: Record<string, unknown>;
  scoring: ScoreRow[];
  fixedRate: (LoadResult & { target: string; rate: number })[];
  /**
   * `cpuUsPerRequest`: the target's own process tree's CPU (user + system, from /proc) over the run, per request sent;
   * `standInCpuUsPerRequest`: the bench process's, where the Upstash and Neon stand-ins run.
   */
  throughput: (LoadResult & { target: string; concurrency: number; cpuUsPerRequest?: number; standInCpuUsPerRequest?: number })[];
  cache: { isolateHit: LoadResult; redisHit: LoadResult; hitRate: number; bestHitRate: number; requests: number; distinct: number };
  ttfb: Record<"direct" | "router" | "portkey", LoadResult>;
  memoryMib: Record<"router" | "portkey" | "direct", number>;
  /** Per path: what one request sends to the stores and providers. */
  costs: Record<string, PathCost>;
  /** Where the CPU of a request goes: a profile of the router as deployed and with no stores, same load as the throughput runs. */
  profiles: Record<string, { rps: number; cpuUsPerRequest: number; parts: { part: string; share: number }[]; functions: { name: string; share: number }[] }>;
  /** Every module the upload carries, gzipped (scripts/deploy/bundle-size.ts). */
  bundleGzipKib: number;
  /** Where each process ran: targets on one core, everything else on the other. */
  pinned: { pinned: boolean; targets_core: string; others_core: string; servers_moved: string[] };
  /** The last `npm run bench -- --edge` (edge.json), which runs apart: store round trips with the stores far away. */
  edge?: EdgeResults;
};

const CHART = "latency-vs-rate.svg";
/** The router with a client key: key lookup, rate limits and budget on the request path. */
export const KEYED = "router + key";
/** The same router with nothing counted: what the metrics cost on the request path. */
export const UNCOUNTED = "router, no metrics";
/** The same router with no stores at all: the request path's own cost. */
export const STATELESS = "router, no stores";
const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

export function headline(r: BenchResults) {
  const rate = r.fixedRate.some((row) => row.rate === 200) ? 200 : Math.min(...r.fixedRate.map((row) => row.rate));
  const at = (target: string) => r.fixedRate.find((row) => row.target === target && row.rate === rate)!;
  const concurrency = Math.max(...r.throughput.map((row) => row.concurrency));
  const lowestRate = Math.min(...r.fixedRate.map((row) => row.rate));
  const lowest = (target: string) => r.fixedRate.find((row) => row.target === target && row.rate === lowestRate)!;
  const rps = (target: string) => r.throughput.find((row) => row.target === target && row.concurrency === concurrency)!.rps;
  const cpu = (target: string) => r.throughput.find((row) => row.target === target && row.concurrency === concurrency)?.cpuUsPerRequest ?? null;
  return {
    overhead_p50_ms: round(at("router").latencyMs.p50 - at("direct").latencyMs.p50),
    overhead_p99_ms: round(at("router").latencyMs.p99 - at("direct").latencyMs.p99),
    overhead_rate: rate,
    throughput_rps_router: rps("router"),
    throughput_rps_portkey: rps("portkey"),
    throughput_ratio_vs_portkey: round(rps("router") / rps("portkey"), 2),
    throughput_concurrency: concurrency,
    cache_hit_p50_ms: r.cache.redisHit.latencyMs.p50,
    cache_hit_p99_ms: r.cache.redisHit.latencyMs.p99,
    cache_hit_isolate_p99_ms: r.cache.isolateHit.latencyMs.p99,
    hit_rate: round(r.cache.hitRate, 4),
    hit_rate_best: round(r.cache.bestHitRate, 4),
    score_us_1k: round(r.scoring.find((row) => row.tokens === 1_000)!.scoreUs),
    // What the key check, the limiters and the budget cost on the request path, same run, at the lowest rate (below saturation).
    key_check_throughput_ratio: round(rps(KEYED) / rps("router"), 2),
    key_check_p50_ms: round(lowest(KEYED).latencyMs.p50 - lowest("router").latencyMs.p50),
    key_check_rate_rps: lowestRate,
    // Counting is on in every other router target; this is the ratio to the one that counts nothing.
    metrics_throughput_ratio: round(rps("router") / rps(UNCOUNTED), 2),
    throughput_ratio_vs_forward_only: round(rps("router") / rps("workerd forward-only"), 2),
    cpu_us_per_req_router: cpu("router"),
    cpu_us_per_req_router_stateless: cpu(STATELESS),
    cpu_us_per_req_stand_ins_router: r.throughput.find((row) => row.target === "router" && row.concurrency === concurrency)?.standInCpuUsPerRequest ?? null,
    cpu_us_per_req_forward_only: cpu("workerd forward-only"),
    cpu_us_per_req_portkey: cpu("portkey"),
    redis_commands_per_request_miss: r.costs.miss?.redisCommands ?? null,
    // What the budget counts: the miss alone, without the once-a-second circuit-state read (scripts/bench/cost.ts).
    redis_commands_budgeted_miss: r.costs.miss === undefined ? null : budgetedCommands(r.costs.miss),
    redis_commands_budget_miss: COMMAND_BUDGET.miss,
    bundle_gzip_kib: r.bundleGzipKib,
    usd_per_million_requests: r.costs.miss === undefined ? null : usdPerMillion(r.costs.miss, (cpu("router") ?? 0) / 1000).total,
    pinned: r.pinned,
  };
}

const reportDir = (quick: boolean): string => fileURLToPath(new URL(quick ? "../../bench/.quick/" : "../../bench/", import.meta.url));

export async function writeReport(loopback: BenchResults, quick: boolean): Promise<string> {
  const dir = reportDir(quick);
  mkdirSync(dir, { recursive: true });
  const edge = existsSync(`${dir}edge.json`) ? (JSON.parse(readFileSync(`${dir}edge.json`, "utf8")) as EdgeResults) : undefined;
  const results = { ...loopback, ...(edge === undefined ? {} : { edge }) };
  const head = headline(results);
  writeFileSync(`${dir}results.json`, `${JSON.stringify({ ...head, ...results }, null, 2)}\n`);
  writeFileSync(`${dir}${CHART}`, await chart(results));
  // The agent bench's section is its own run's (agent-report.ts): kept as it stands.
  const before = existsSync(`${dir}RESULTS.md`) ? readFileSync(`${dir}RESULTS.md`, "utf8") : "";
  writeFileSync(`${dir}RESULTS.md`, withAgentSectionOf(before, markdown(results, head)));
  return dir.replace(/\/$/, "");
}

/** Writes edge.json, and RESULTS.md again with its table beside the last loopback run's figures (results.json), if there is one. */
export async function writeEdgeReport(edge: EdgeResults, quick: boolean): Promise<string> {
  const dir = reportDir(quick);
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}edge.json`, `${JSON.stringify(edge, null, 2)}\n`);
  if (existsSync(`${dir}results.json`)) {
    const { edge: _old, ...loopback } = JSON.parse(readFileSync(`${dir}results.json`, "utf8")) as BenchResults;
    await writeReport(loopback, quick);
  }
  return dir.replace(/\/$/, "");
}

async function chart(r: BenchResults): Promise<string> {
  const values = r.fixedRate.flatMap((row) =>
    (["p50", "p99"] as const).map((p) => ({ target: row.target, rate: row.rate, percentile: p, ms: Math.max(row.latencyMs[p], 0.01) })),
  );
  const spec = compile({
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Latency against request rate (fake provider, zero latency)",
    width: 520,
    height: 300,
    background: "white",
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "rate", type: "quantitative", title: "requests per second" },
      y: { field: "ms", type: "quantitative", scale: { type: "log" }, title: "latency (ms, log scale)" },
      color: { field: "target", type: "nominal", title: "target" },
      strokeDash: { field: "percentile", type: "nominal", title: "percentile" },
    },
  }).spec;
  return new vega.View(vega.parse(spec), { renderer: "none" }).toSVG();
}

/** The profiles, part by part, with each part's share turned into µs per request by the CPU measured beside it. */
function whereTheCpuGoes(r: BenchResults, h: ReturnType<typeof headline>): string[] {
  const names = Object.keys(r.profiles);
  if (names.length === 0) return [];
  const parts = [...new Set(names.flatMap((name) => r.profiles[name]!.parts.map((p) => p.part)))];
  const cell = (name: string, part: string): string => {
    const profile = r.profiles[name]!;
    const share = profile.parts.find((p) => p.part === part)?.share ?? 0;
    return `${(100 * share).toFixed(1)}% ≈ ${Math.round(share * profile.cpuUsPerRequest)} µs`;
  };
  return [
    "## Where the router's CPU goes",
    "A CPU profile of the isolate (the DevTools inspector's sampler, every 100 µs) under the throughput runs' load at 10 in flight, of an unminified",
    "build of the same commit, pinned as above; self time by part of the request path, turned into µs per request by the CPU per request",
    "measured just before, without the profiler. `npm run bench:profile` prints the same by source file and by function.",
    "",
    `| part | ${names.map((name) => `${name} (${r.profiles[name]!.cpuUsPerRequest} µs/request, ${r.profiles[name]!.rps} req/s)`).join(" | ")} |`,
    `|---|${names.map(() => "---").join("|")}|`,
    ...parts.map((part) => `| ${part} | ${names.map((name) => cell(name, part)).join(" | ")} |`),
    "",
    `The heaviest functions of the router as deployed: ${(r.profiles.router?.functions ?? [])
      .slice(0, 12)
      .map((f) => `${f.name} ${(100 * f.share).toFixed(1)}%`)
      .join(", ")}.`,
    "",
    `The forward-only worker costs ${h.cpu_us_per_req_forward_only} µs a request and does only what the first row names: it accepts the request and`,
    "pipes its body, unread, to the provider and the answer back. Every other row is work the router does and a bare proxy does not: it reads",
    "and validates the body (a proxy never parses it), decides, reads and parses the answer (for usage, cost, completeness and the cache),",
    "builds, numbers and signs an audit record, and sends the batch to Redis. The workerd row is larger for the router too: its subrequests",
    "to Redis, and the Response and Headers objects of a parsed answer.",
    "",
  ];
}

function markdown(r: BenchResults, h: ReturnType<typeof headline>): string {
  const e = r.environment;
  const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : "n/a");
  const goal = (met: boolean, text: string): string => `${met ? "met" : "**missed**"}: ${text}`;
  const ratio = (a: number | null, b: number | null): number => (a === null || b === null || b === 0 ? Number.NaN : round(a / b, 2));
  const hitShare = h.hit_rate / (h.hit_rate_best || 1);
  const lines = [
    "# Benchmarks: router overhead, throughput and cache, beside Portkey's gateway",
    "",
    `${r.quick ? "**Quick smoke run** (short durations; not for comparison). " : ""}Run ${e.date} at commit \`${e.commit}\` on ${e.cpu}, ${e.cores} cores; Node ${e.node}, workerd ${e.workerd}.`,
    "Produced by `npm run bench`: everything on loopback, the router as `wrangler deploy --dry-run` builds it served by workerd (Miniflare),",
    "Portkey's open-source gateway (`@portkey-ai/gateway`, Node) and the fake provider each in its own process, and the load generator in another.",
    "Every figure below comes from this one run; the direct call to the fake provider is the floor.",
    "",
    "## Headline, against the goals",
    "| figure | value | goal |",
    "|---|---|---|",
    `| overhead at ${h.overhead_rate} req/s, p50 / p99 (router − direct) | ${ms(h.overhead_p50_ms)} / ${ms(h.overhead_p99_ms)} ms | ${goal(h.overhead_p50_ms <= 0.5 && h.overhead_p99_ms <= 2, "p50 ≤ 0.5 ms, p99 ≤ 2 ms")} |`,
    `| throughput at ${h.throughput_concurrency} in flight: router / forward-only worker; router / Portkey | ${h.throughput_ratio_vs_forward_only}×; ${h.throughput_rps_router} / ${h.throughput_rps_portkey} req/s = ${h.throughput_ratio_vs_portkey}× | ${goal(h.throughput_ratio_vs_forward_only >= 0.85 && h.throughput_ratio_vs_portkey >= 1.3, "≥ 0.85× forward-only and ≥ 1.3× Portkey")} |`,
    `| cache hit from Redis, p50 / p99 | ${ms(h.cache_hit_p50_ms)} / ${ms(h.cache_hit_p99_ms)} ms | ${goal(h.cache_hit_p99_ms <= 3, `p99 ≤ 3 ms${h.cache_hit_p99_ms > 3 ? `, over by ${ms(h.cache_hit_p99_ms - 3)} ms` : ""}`)} |`,
    `| cache hit from the isolate, p50 / p99 | ${ms(r.cache.isolateHit.latencyMs.p50)} / ${ms(r.cache.isolateHit.latencyMs.p99)} ms | |`,
    `| hit rate on the replay (${r.cache.requests} requests, ${r.cache.distinct} distinct) | ${(100 * h.hit_rate).toFixed(1)}% of requests; best possible ${(100 * h.hit_rate_best).toFixed(1)}% | ${goal(hitShare >= 0.99 && h.hit_rate >= 0.85, `≥ 99% of best (${(100 * hitShare).toFixed(1)}%) and ≥ 85%`)} |`,
    `| the decision alone, 1k-token prompt | ${h.score_us_1k} µs | ${goal(h.score_us_1k <= 50, "≤ 50 µs")} |`,
    `| key check, rate limits and budget: throughput with a key / without; added p50 at ${h.key_check_rate_rps} req/s | ${h.key_check_throughput_ratio}×; ${ms(h.key_check_p50_ms)} ms | measured, no goal yet |`,
    `| metrics: throughput counting / not counting, at ${h.throughput_concurrency} in flight | ${h.metrics_throughput_ratio}× | measured, no goal yet |`,
    `| CPU per request: router / no stores / forward-only / Portkey | ${h.cpu_us_per_req_router} / ${h.cpu_us_per_req_router_stateless} / ${h.cpu_us_per_req_forward_only} / ${h.cpu_us_per_req_portkey} µs; router = ${ratio(h.cpu_us_per_req_router, h.cpu_us_per_req_forward_only)}× forward-only, ${ratio(h.cpu_us_per_req_router, h.cpu_us_per_req_portkey)}× Portkey | ${goal(ratio(h.cpu_us_per_req_router, h.cpu_us_per_req_forward_only) <= 1.25 && ratio(h.cpu_us_per_req_router, h.cpu_us_per_req_portkey) <= 0.6, "≤ 1.25× forward-only and ≤ 0.6× Portkey")} |`,
    `| bundle, every module gzipped | ${h.bundle_gzip_kib} KiB | ${goal(h.bundle_gzip_kib <= 250, "≤ 250 KiB")} |`,
    `| Redis commands per request, the miss alone (budget counts all but the once-a-second circuit read); a million requests at list prices | ${h.redis_commands_budgeted_miss} (${h.redis_commands_per_request_miss} with it); $${h.usd_per_million_requests} | ${goal((h.redis_commands_budgeted_miss ?? Number.POSITIVE_INFINITY) <= h.redis_commands_budget_miss, `budget ≤ ${h.redis_commands_budget_miss}`)} |`,
    ...edgeTable(r.edge),
    "",
    "## Latency at fixed request rates",
    `![latency against rate](${CHART})`,
    "",
    "| target | rate/s | sent | 2xx | non-2xx | errors | p50 ms | p90 ms | p99 ms | max ms |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...r.fixedRate.map(
      (x) =>
        `| ${x.target} | ${x.rate} | ${x.sent} | ${x.ok} | ${x.non2xx} | ${x.errors} | ${ms(x.latencyMs.p50)} | ${ms(x.latencyMs.p90)} | ${ms(x.latencyMs.p99)} | ${ms(x.latencyMs.max)} |`,
    ),
    "",
    "## Closed-loop throughput",
    "`workerd forward-only` is a ten-line worker that only forwards to the provider, served the same way as the router: the ceiling any",
    "router on workerd (here under Miniflare) can reach on this machine.",
    "",
    "CPU per request is the target's own process tree (user + system time from /proc over the run, divided by the requests sent).",
    r.pinned.pinned
      ? `Targets ran alone on core ${r.pinned.targets_core}; the load generator, the fake provider, the stand-ins and ${r.pinned.servers_moved.join(", ") || "no servers"} on core ${r.pinned.others_core} (taskset).`
      : "Processes were not pinned to cores.",
    "",
    "| target | in flight | req/s | 2xx | non-2xx | errors | p50 ms | p99 ms | CPU µs/request | stand-ins' CPU µs/request |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...r.throughput.map(
      (x) =>
        `| ${x.target} | ${x.concurrency} | ${x.rps} | ${x.ok} | ${x.non2xx} | ${x.errors} | ${ms(x.latencyMs.p50)} | ${ms(x.latencyMs.p99)} | ${x.cpuUsPerRequest ?? ""} | ${x.standInCpuUsPerRequest ?? ""} |`,
    ),
    "",
    ...whereTheCpuGoes(r, h),
    "## What a request costs in the managed services",
    "Counted by the local Upstash and Neon endpoints (each command of a pipeline counted, as Upstash bills), per request, one path at a time;",
    "each request sent as the last one's answer arrives. Requests within 10 ms of each other share an after-response batch (its INCRBY, EVAL and RPUSH), so even these sequential requests share some; under load they share more (`npm run bench:profile` counts it), and a request alone costs at most the budget (`COMMAND_BUDGET`, held by `command-budget.test.ts`).",
    "",
    "| path | Redis commands | Upstash $ a million requests | Redis subrequests | Postgres statements | Postgres subrequests | provider calls | commands |",
    "|---|---|---|---|---|---|---|---|",
    ...Object.entries(r.costs).map(
      ([path, c]) =>
        `| ${path} | ${c.redisCommands} | ${upstashPerMillion(c.redisCommands)} | ${c.redisSubrequests} | ${c.postgresStatements} | ${c.postgresSubrequests} | ${c.providerCalls} | ${Object.entries(
          c.byCommand,
        )
          .map(([name, n]) => `${name} ${n}`)
          .join(", ")} |`,
    ),
    "",
    ...(r.costs.miss === undefined
      ? []
      : (() => {
          const usd = usdPerMillion(r.costs.miss, (h.cpu_us_per_req_router ?? 0) / 1000);
          return [
            `A million requests on the miss path: $${usd.total} = Workers requests $${usd.workers} + Workers CPU $${usd.cpu} (at ${h.cpu_us_per_req_router} µs each) + Upstash $${usd.upstash}. Neon bills compute time and storage, not statements.`,
            "",
            ...keyAtSteadyRate(r.costs),
            ...Object.values(PRICES).map((price) => `- ${price.source} (read ${price.read}; not re-read here: no price page is reachable from this machine)`),
          ];
        })()),
    "",
    "## Streaming: time to first byte",
    "The provider takes 300 ms to its first token, then 20 tokens 30 ms apart.",
    "",
    "| target | requests | p50 ms | p99 ms | extra p50 over direct |",
    "|---|---|---|---|---|",
    ...(["direct", "router", "portkey"] as const).map((t) => {
      const x = r.ttfb[t];
      if (x.ok === 0) return `| ${t} | 0 of ${x.sent}: failed (${JSON.stringify(x.statuses)}, ${x.errors} errors) | | | |`;
      return `| ${t} | ${x.ok} | ${ms(x.latencyMs.p50)} | ${ms(x.latencyMs.p99)} | ${ms(x.latencyMs.p50 - r.ttfb.direct.latencyMs.p50)} |`;
    }),
    "",
    "## Peak memory (resident, the process and its children)",
    `router (workerd and its Node host) ${r.memoryMib.router} MiB; Portkey ${r.memoryMib.portkey} MiB; fake provider ${r.memoryMib.direct} MiB.`,
    "",
    "## Scoring (the decision alone)",
    "| prompt | µs | JSON.parse of the same body, µs | ratio |",
    "|---|---|---|---|",
    ...r.scoring.map((x) => `| ${x.tokens} tokens | ${x.scoreUs.toFixed(2)} | ${x.parseUs.toFixed(2)} | ${(x.scoreUs / x.parseUs).toFixed(1)} |`),
    "",
    "## How to read this",
    "- The router is measured as deployed: Redis (behind the local Upstash endpoint) and Postgres (behind the local Neon endpoint) on loopback,",
    "  an audit record written for every request. Overhead and throughput requests send `Cache-Control: no-cache, no-store`, so each one",
    "  reaches the provider; Portkey runs with its defaults and no cache.",
    "- Latency at a fixed rate counts from each request's scheduled start (open loop), so a stall shows up instead of being hidden.",
    "- Two cores carry everything here: the load generator, the fake provider, both gateways and the stores. The absolute numbers are this",
    "  machine's; the ratios between targets, measured in the same run, are the figures to compare.",
    "",
  ];
  return lines.join("\n");
}

/** The edge run's table: round trips per request by store, before and after the first byte, and the latency they add. */
function edgeTable(edge: EdgeResults | undefined): string[] {
  if (edge === undefined) return [];
  const d = edge.delays;
  const trips = (t: EdgeResults["paths"][number]["before"]) => `${t.primary} / ${t.replica} / ${t.neon}`;
  return [
    "",
    `### At the edge: store round trips per request (\`npm run bench -- --edge\`, ${edge.date.slice(0, 10)}, commit \`${edge.commit}\`)`,
    `The built router on workerd, its stores behind a proxy that adds ${d.primary} ms to a call to Upstash's primary region (writes, and every EVAL/EVALSHA),`,
    `${d.replica} ms to a read replica (reads only) and ${d.neon} ms to Neon, and counts each call. Requests one at a time; added latency is`,
    "time to the first byte with the delays against the same path without them. Waited in a row: a call is one deeper than the deepest",
    "call answered before it arrived (calls that go out together count once). Each router process's calls are told apart by the",
    "proxy: a request counts only those of the process it went to. Calls other processes made before a request's first byte (a",
    `spend slice given back when its lease ended) are left out: ${edge.paths.reduce((sum, p) => sum + p.elsewhere, 0)} in this run, with the delays and without.`,
    "",
    "| path | before the first byte: primary / replica / Neon | waited in a row: all / at the primary | after it: primary / replica / Neon | added p50 / p99 ms | what went before the first byte, per request | statuses |",
    "|---|---|---|---|---|---|---|",
    ...edge.paths.map(
      (p) =>
        `| ${p.path} | ${trips(p.before)} | ${p.inARow.all} / ${p.inARow.primary} | ${trips(p.after)} | ${p.addedMs.p50} / ${p.addedMs.p99} | ${
          Object.entries(p.beforeCalls)
            .map(([call, n]) => `${n}× ${call}`)
            .join(", ") || "nothing"
        } | ${Object.entries(p.statuses)
          .map(([status, n]) => `${n}× ${status}`)
          .join(", ")} |`,
    ),
  ];
}

/**
 * Issue 26's goal, at most 1.0 Redis command a keyed request at 50 a second on one key: what the key adds
 * (its limits and budgets) to the same paced miss without one, and what that costs a million requests at Upstash's price.
 */
function keyAtSteadyRate(costs: BenchResults["costs"]): string[] {
  const plain = costs["miss, 50 req/s"];
  const keyed = costs["miss with a key, 50 req/s"];
  if (plain === undefined || keyed === undefined) return [];
  const added = Math.round((keyed.redisCommands - plain.redisCommands) * 1000) / 1000;
  const usd = upstashPerMillion(added);
  const verdict = added <= 1 ? "met" : "**missed**";
  return [
    `One key at a steady 50 requests a second: ${keyed.redisCommands} Redis commands a request against ${plain.redisCommands} without a key, so the key's limits and budgets add ${added} (goal at most 1.0: ${verdict}), $${usd} a million requests at Upstash's price.`,
    "",
  ];
}

/** What `commands` Redis commands a request cost a million requests at Upstash's pay-as-you-go price, in dollars. */
function upstashPerMillion(commands: number): number {
  return Math.round(((commands * 1e6 * PRICES.upstashPer100kCommands.usd) / 1e5) * 1000) / 1000;
}
