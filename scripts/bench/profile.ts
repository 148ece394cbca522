/**
 * `npm run bench:profile [-- --stateless] [-- --keyed] [-- --turn | --tiny] [-- --one | --rate N]`: where the router's request
 * path spends its CPU. `--heap` instead says what Claude Code turns in flight keep alive (heap.ts). `--turn` sends the agent bench's Claude Code turn (349 KB, through
 * `/v1/messages`) in place of the small chat request, `--tiny` the agent bench's tiny Messages request; `--one` sends
 * one at a time instead of 10 (the agent bench's CPU figures are one at a time), `--rate N` N a second (an open loop:
 * each request is sent on time, whether or not the last one has answered). Serves an unminified build in workerd, pinned to its own core
 * as the bench pins it, drives it with the bench's miss-path load (cache bypassed),
 * and prints its CPU per request, what reached Redis, and a CPU profile: self time by
 * part of the request path, by source file and by function.
 */
import { parseArgs } from "node:util";
import { startStackOnMachineServers } from "../local/stack.ts";
import { footprintTurn, tinyTurn } from "./agent-footprint.ts";
import { byPart, profileRouter } from "./cpu-profile.ts";
import { heapOfTurns } from "./heap.ts";
import { pinForBench } from "./pinning.ts";
import { startFakeProvider } from "./targets.ts";

const { values: options } = parseArgs({
  options: {
    stateless: { type: "boolean" },
    keyed: { type: "boolean" },
    turn: { type: "boolean" },
    tiny: { type: "boolean" },
    one: { type: "boolean" },
    rate: { type: "string" },
    heap: { type: "boolean" },
  },
});
if (options.heap) {
  await heapOfTurns();
  process.exit(0);
}
const ADMIN_KEY = "profile-admin-key-0123456789";
const PROVIDER_KEY = "profile-provider-key-0123456789";
const PROMPT =
  "Summarise this support ticket in two sentences and suggest a priority (low, medium, high): the export to CSV " +
  "button times out for reports with more than ten thousand rows since yesterday's release.";
const NO_CACHE = { "content-type": "application/json", "cache-control": "no-cache, no-store", "anthropic-version": "2023-06-01" };

if (options.turn && options.tiny) throw new Error("--turn or --tiny, not both");
if (options.one && options.rate !== undefined) throw new Error("--one or --rate, not both");
const rate = options.rate === undefined ? undefined : Number(options.rate);
if (rate !== undefined && !(rate > 0)) throw new Error(`--rate takes requests a second, not '${options.rate}'`);
const inFlight = options.one ? 1 : 10;
const pinning = pinForBench();
const fake = await startFakeProvider();
const stack = options.stateless ? undefined : await startStackOnMachineServers("tg_profile");
try {
  const storage = stack
    ? {
        ...stack.bindings,
        KEY_PREFIX: `profile${Date.now()}`,
        AUDIT_HMAC_KEY: "profile-audit-key-0123456789",
        ADMIN_API_KEY: ADMIN_KEY,
        REQUIRE_API_KEY: "false",
      }
    : {};
  stack?.resetTraffic();
  const result = await profileRouter(
    { OPENROUTER_BASE_URL: fake.url, OPENROUTER_API_KEY: PROVIDER_KEY, GROQ_BASE_URL: fake.url, GROQ_API_KEY: PROVIDER_KEY, ...storage },
    {
      ...(options.turn || options.tiny
        ? { path: footprintTurn().path, body: JSON.stringify((options.tiny ? tinyTurn(footprintTurn()) : footprintTurn()).body) }
        : { body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: PROMPT }] }) }),
      headers: async (url) => (options.keyed ? { ...NO_CACHE, authorization: `Bearer ${await clientKey(url)}` } : NO_CACHE),
      concurrency: inFlight,
      ...(rate === undefined ? {} : { rate }),
      durationMs: 8_000,
    },
    pinning.pinned ? pinning.target : undefined,
  );
  const what = options.stateless ? "router, no stores" : options.keyed ? "router with a client key" : "router as deployed";
  console.log(
    `${what}: ${result.rps} req/s ${rate === undefined ? `at ${inFlight} in flight` : `sent at ${rate} a second`}, ${result.cpuUsPerRequest} µs of workerd CPU per request (unprofiled)`,
  );
  const redis = stack?.traffic().redis;
  if (redis) {
    const commands = Object.values(redis.commands).reduce((sum, n) => sum + n, 0);
    const per = (n: number) => (n / result.sentInAll).toFixed(2);
    console.log(`Redis under this load, per request: ${per(redis.requests)} subrequests, ${per(commands)} commands (${JSON.stringify(redis.commands)})`);
  }
  const { time } = result;
  const share = (us: number) => `${((100 * us) / time.totalUs).toFixed(1).padStart(5)}%`;
  const top = (map: Map<string, number>, n: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, us]) => `  ${share(us)}  ${key}`)
      .join("\n");
  console.log(`\nbusy samples: ${(time.totalUs / 1000).toFixed(0)} ms of CPU\n\nby part of the request path (self time):`);
  for (const part of byPart(time)) console.log(`  ${(100 * part.share).toFixed(1).padStart(5)}%  ${part.part}`);
  console.log(`\nby source file:\n${top(time.byFile, 25)}\n\nby function:\n${top(time.byFunction, 40)}`);
} finally {
  await fake.stop();
  await stack?.stop();
  pinning.restore();
}

async function clientKey(routerUrl: string): Promise<string> {
  const response = await fetch(`${routerUrl}/v1/admin/keys`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify({ name: "profile", tenant: "profile", rpm: 1_000_000_000, tpm: 2_000_000_000 }),
  });
  return ((await response.json()) as { key: string }).key;
}
