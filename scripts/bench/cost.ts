/**
 * What a request costs in the managed services: the Redis commands (counted by the
 * local Upstash endpoint, each command of a pipeline counted, as Upstash bills them),
 * the Postgres statements and the subrequests it makes on each path, and a million
 * requests at list prices.
 */
import type { Stack } from "../local/stack.ts";

/**
 * List prices. No price page is reachable from this machine, so these are the prices
 * as we last read them (the date beside each), not re-read on the day of the run.
 */
export const PRICES = {
  workersPerMillionRequests: {
    usd: 0.3,
    read: "2025-06-15",
    source: "Cloudflare Workers Paid (Standard): $0.30 per million requests beyond the 10 million included",
  },
  workersPerMillionCpuMs: {
    usd: 0.02,
    read: "2025-06-15",
    source: "Cloudflare Workers Paid (Standard): $0.02 per million CPU milliseconds beyond the 30 million included",
  },
  upstashPer100kCommands: { usd: 0.2, read: "2025-06-15", source: "Upstash Redis pay-as-you-go: $0.20 per 100,000 commands" },
} as const;

/**
 * The most Redis commands a request may send, each path measured alone (one request,
 * one after-response batch), not counting the circuit-state read each isolate makes at
 * most once a second whatever its traffic. Upstash bills per command, so a change that
 * adds one to a path fails test/integration/command-budget.test.ts.
 * The miss: GET (cache), INCRBY (the audit number), EVAL (breakers and metrics), RPUSH
 * (the audit queue), SET (cache). With a key, one more at most: now and then a slice
 * of its requests, tokens and money (request-leases.ts, allowances.ts); its spend and
 * its tokens' correction ride the batch's script.
 */
export const COMMAND_BUDGET = { miss: 5, "miss with a key": 6 } as const;

/** The once-a-second circuit-state read, left out of the budget. */
const PER_ISOLATE_READS = new Set(["HGETALL"]);

/** A path's commands per request that the budget counts. */
export function budgetedCommands(cost: PathCost): number {
  const counted = Object.entries(cost.byCommand).filter(([name]) => !PER_ISOLATE_READS.has(name));
  return Math.round(counted.reduce((sum, [, n]) => sum + n, 0) * 1000) / 1000;
}

export type PathCost = {
  requests: number;
  /** Per request. */
  redisCommands: number;
  redisSubrequests: number;
  postgresStatements: number;
  postgresSubrequests: number;
  providerCalls: number;
  /** Redis commands by name, per request. */
  byCommand: Record<string, number>;
};

/** Sends `n` requests of one path one after another, waits for their after-response work, and counts what reached the stores. */
export async function measurePath(stack: Stack, n: number, providerCalls: number, send: (i: number) => Promise<void>): Promise<PathCost> {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  await sleep(500);
  stack.resetTraffic();
  for (let i = 0; i < n; i++) await send(i);
  await sleep(500); // the last after-response batches
  const { redis, postgres } = stack.traffic();
  const commands = redis?.commands ?? {};
  const per = (x: number) => Math.round((x / n) * 1000) / 1000;
  return {
    requests: n,
    redisCommands: per(Object.values(commands).reduce((sum, k) => sum + k, 0)),
    redisSubrequests: per(redis?.requests ?? 0),
    postgresStatements: per(postgres.statements),
    postgresSubrequests: per(postgres.requests),
    providerCalls,
    byCommand: Object.fromEntries(Object.entries(commands).map(([name, k]) => [name, per(k)])),
  };
}

/**
 * `send` paced at `perSecond`: the i-th request goes out at its slot (or as soon as the one
 * before it is answered, if that is later), as a key sending steadily at that rate does;
 * requests further apart than the batch's 10 ms share no after-response batch.
 */
export function paced(perSecond: number, send: (i: number) => Promise<void>): (i: number) => Promise<void> {
  let start: number | undefined;
  return async (i) => {
    start ??= performance.now();
    const wait = start + (i * 1_000) / perSecond - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await send(i);
  };
}

/** A million requests of the miss path: Workers requests and CPU, Upstash commands. Neon bills compute time and storage, not statements. */
export function usdPerMillion(miss: PathCost, cpuMsPerRequest: number): { total: number; workers: number; cpu: number; upstash: number } {
  const workers = PRICES.workersPerMillionRequests.usd;
  const cpu = PRICES.workersPerMillionCpuMs.usd * cpuMsPerRequest;
  const upstash = (miss.redisCommands * 1e6 * PRICES.upstashPer100kCommands.usd) / 1e5;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return { total: round(workers + cpu + upstash), workers: round(workers), cpu: round(cpu), upstash: round(upstash) };
}
