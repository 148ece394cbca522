/**
 * `npm run soak [-- --seconds 60 --rate 300]`: the router as deployed (real Redis and
 * Postgres behind the local Upstash and Neon endpoints, cache bypassed) under a fixed
 * rate for the whole run, while tier 1's cheapest model fails 20% of its calls and
 * the whole of Groq goes down for the middle third. Then it lands every audit record
 * and reports: the share served, each error (all must be OpenAI errors), the latency
 * retries added (p50/p99), and every breaker transition. Writes bench/SOAK.md; exits 1
 * when more than 0.1% of requests failed or an audit record is missing.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { createClient } from "redis";
import { type LoadResult, loadInOwnProcess, percentiles } from "./bench/load.ts";
import { startFakeUpstream } from "./local/fake-upstream.ts";
import { startStackOnMachineServers } from "./local/stack.ts";
import { startRouter } from "./local/worker.ts";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "60" }, rate: { type: "string", default: "300" }, out: { type: "string" } } });
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const root = fileURLToPath(new URL("..", import.meta.url));
const log = (line: string): void => console.error(`[soak] ${line}`);
const FLAKY = "mistralai/mistral-nemo"; // tier 1's cheapest: most "auto" traffic lands on it first
const prefix = `soak${randomBytes(3).toString("hex")}`;

const stack = await startStackOnMachineServers("tg_soak");
const [openrouter, groq] = await Promise.all([startFakeUpstream({ completionTokens: 16 }), startFakeUpstream({ completionTokens: 16 })]);
const router = await startRouter({
  ...stack.bindings,
  KEY_PREFIX: prefix,
  AUDIT_HMAC_KEY: "soak-audit-key-0123456789",
  OPENROUTER_BASE_URL: openrouter.url,
  OPENROUTER_API_KEY: "soak-openrouter-key-0123",
  GROQ_BASE_URL: groq.url,
  GROQ_API_KEY: "soak-groq-key-0123456789",
});
const db = new pg.Client({ connectionString: stack.bindings.DATABASE_URL });
await db.connect();
const redis = createClient({ url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379", RESP: 2 });
await redis.connect();

try {
  await db.query("TRUNCATE audit_log");
  openrouter.behaviour.perModel = { [FLAKY]: { failRate: 0.2 } };
  const timeline: string[] = [`0 s: ${FLAKY} fails 20% of calls (500), for the whole run`];
  const downAt = (seconds * 1000) / 3;
  const upAt = (2 * seconds * 1000) / 3;
  const started = Date.now();
  const timers = [
    setTimeout(() => {
      groq.behaviour.down = true;
      timeline.push(`${Math.round((Date.now() - started) / 1000)} s: Groq down (every connection dropped)`);
    }, downAt),
    setTimeout(() => {
      groq.behaviour.down = false;
      timeline.push(`${Math.round((Date.now() - started) / 1000)} s: Groq back`);
    }, upAt),
  ];
  // The cron, as production runs it: the audit flush and the provider probes, every minute (here every 15 s).
  const cron = setInterval(() => void router.scheduled().catch(() => {}), 15_000);
  log(`${rate} req/s for ${seconds} s; Groq down from ${downAt / 1000} s to ${upAt / 1000} s`);
  const bodies = ["auto", "tier:3", "auto", "tier:2"].map((model, i) =>
    JSON.stringify({ model, messages: [{ role: "user", content: `Say hello in one short sentence (variant ${i}).` }] }),
  );
  const result = await loadInOwnProcess({
    url: `${router.url}/v1/chat/completions`,
    headers: { "content-type": "application/json", "cache-control": "no-cache, no-store" },
    bodies,
    mode: "rate",
    rate,
    durationMs: seconds * 1_000,
  });
  clearInterval(cron);
  timers.forEach(clearTimeout);
  log(`sent ${result.sent}: ${JSON.stringify(result.statuses)}, ${result.errors} connection errors; landing the audit records`);

  const rows = await landAll(result.sent);
  const transitions = router.logs.flatMap((line) => {
    const found = /\{"breaker":"([^"]+)","state":"(\w+)","at":"([^"]+)"/.exec(line);
    return found ? [`${((Date.parse(found[3]!) - started) / 1000).toFixed(1)} s: ${found[1]} ${found[2]}`] : [];
  });
  const report = summarise(result, rows, timeline, await redis.hGetAll(`${prefix}:health:transitions`), transitions);
  const path = values.out ?? `${root}bench/SOAK.md`;
  writeFileSync(path, report.markdown);
  console.log(report.markdown);
  log(`wrote ${path}`);
  process.exitCode = report.passed ? 0 : 1;
} finally {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(keys);
  await redis.close();
  await db.end();
  await router.close();
  await Promise.all([openrouter.close(), groq.close()]);
  await stack.stop();
}

type Row = { http_status: number; error_code: string | null; upstream_ms: number | null; attempts: { model: string; outcome: string; ms: number }[] | null };

/** Fires the cron until every request's record is in Postgres (or a minute passes). */
async function landAll(expected: number): Promise<Row[]> {
  const deadline = Date.now() + 60_000;
  let count = 0;
  while (Date.now() < deadline) {
    await router.scheduled();
    count = Number((await db.query("SELECT count(*) AS n FROM audit_log")).rows[0].n);
    if (count >= expected) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return (await db.query("SELECT http_status, error_code, upstream_ms, attempts FROM audit_log")).rows as Row[];
}

function summarise(result: LoadResult, rows: Row[], timeline: string[], transitions: Record<string, string>, logged: string[]) {
  const failed = result.sent - (result.statuses["200"] ?? 0);
  const errorRate = failed / result.sent;
  const errorCodes: Record<string, number> = {};
  for (const row of rows)
    if (row.http_status >= 400) errorCodes[`${row.http_status} ${row.error_code}`] = (errorCodes[`${row.http_status} ${row.error_code}`] ?? 0) + 1;
  const unexplained = rows.filter((row) => row.http_status >= 400 && row.error_code === null).length;
  // Time a request spent on failed attempts and backoff: its upstream time less the attempt that answered.
  const retried = rows.filter((row) => (row.attempts?.length ?? 0) > 1 && row.http_status === 200);
  const added = retried.map((row) => Math.max(0, (row.upstream_ms ?? 0) - row.attempts!.at(-1)!.ms));
  const addedAll = percentiles([...added, ...Array(rows.length - added.length).fill(0)]);
  const addedRetried = percentiles(added);
  const complete = rows.length === result.sent;
  const passed = errorRate <= 0.001 && complete && unexplained === 0 && result.errors === 0;
  const lines = [
    "# Soak",
    "",
    `\`npm run soak\` on ${new Date().toISOString().slice(0, 10)}: ${rate} requests/s for ${seconds} s, cache bypassed, Redis and Postgres real (through the local Upstash and Neon endpoints), providers faked.`,
    "",
    "Faults:",
    ...timeline.map((line) => `- ${line}`),
    "",
    "| | |",
    "|---|---|",
    `| requests sent | ${result.sent} (${result.rps} req/s answered) |`,
    `| served (200) | ${result.statuses["200"] ?? 0} (${((1 - errorRate) * 100).toFixed(3)}%) |`,
    `| errors | ${failed} (${(errorRate * 100).toFixed(3)}%; budget 0.1%)${
      Object.keys(errorCodes).length > 0
        ? `: ${Object.entries(errorCodes)
            .map(([code, n]) => `${n} × ${code}`)
            .join(", ")}`
        : ""
    } |`,
    `| connection errors | ${result.errors} |`,
    `| latency p50 / p99 / max | ${result.latencyMs.p50} / ${result.latencyMs.p99} / ${result.latencyMs.max} ms |`,
    `| requests retried or fallen back | ${retried.length} (${((retried.length / Math.max(1, rows.length)) * 100).toFixed(1)}%) |`,
    `| latency added by retries, all requests p50 / p99 | ${addedAll.p50} / ${addedAll.p99} ms |`,
    `| latency added, retried requests p50 / p99 / max | ${addedRetried.p50} / ${addedRetried.p99} / ${addedRetried.max} ms |`,
    `| audit records | ${rows.length} of ${result.sent}${complete ? " (complete)" : " (MISSING)"} |`,
    "",
    "Breaker transitions (from the shared counter in Redis):",
    "",
    ...(Object.keys(transitions).length === 0
      ? ["- none"]
      : Object.entries(transitions)
          .sort()
          .map(([key, n]) => `- ${key.replace("|", " → ")}: ${n}`)),
    "",
    "As the router logged them, from the start of the load:",
    "",
    ...(logged.length === 0 ? ["- none"] : logged.map((line) => `- ${line}`)),
    "",
    passed ? "Result: PASS" : "Result: FAIL",
    "",
  ];
  return { markdown: lines.join("\n"), passed };
}
