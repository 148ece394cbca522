/**
 * `npm run bench:audit [-- --rows 10000000]`: the audit log at scale. Fills a
 * database of its own on the local Postgres with generated rows (generate_series,
 * kept between runs), then times the pages people ask for: in Postgres alone, and
 * end to end through GET /v1/audit (workerd, Neon HTTP endpoint), both running
 * the route's own statement (src/audit/query.ts). Rows are not
 * signed: this measures the indexes and the API, not the HMAC.
 */
import { parseArgs } from "node:util";
import pg from "pg";
import { auditPageQuery } from "../src/audit/query.ts";
import { startStack } from "./local/stack.ts";
import { startRouter } from "./local/worker.ts";

const { values } = parseArgs({ options: { rows: { type: "string", default: "10000000" }, samples: { type: "string", default: "60" } } });
const ROWS = Number(values.rows);
const SAMPLES = Number(values.samples);
const SERVER = process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const MODELS = [
  "groq/llama-3.1-8b-instant",
  "openrouter/openai/gpt-4o-mini",
  "groq/llama-3.3-70b-versatile",
  "openrouter/openai/gpt-4.1",
  "openrouter/openai/o3",
];

const stack = await startStack({
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  databaseUrl: SERVER,
  database: "tg_bench_audit",
  dataDir: "/tmp/tiergate-bench-audit",
  ports: { redis: 0, pglite: 0, upstash: 0, neon: 0 },
});
const db = new pg.Client({ connectionString: stack.bindings.DATABASE_URL });
await db.connect();

const present = Number((await db.query("SELECT count(*) AS n FROM audit_log")).rows[0].n);
if (present !== ROWS) await generate();

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const summarise = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1)! };
};
const num = (text: string | undefined): number | undefined => (text === undefined ? undefined : Number(text));
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const daysAgo = (days: number): string => new Date(Date.now() - days * 86_400_000).toISOString();

/** Each a typical question, as /v1/audit query parameters. */
const QUESTIONS: Record<string, () => Record<string, string>> = {
  "one key, one week": () => {
    const start = 7 + Math.floor(Math.random() * 300);
    return { key: `key_${Math.floor(Math.random() * 200)}`, from: daysAgo(start), to: daysAgo(start - 7) };
  },
  "tier and model, last 30 days": () => {
    const tier = 1 + Math.floor(Math.random() * 5);
    return { tier: String(tier), model: MODELS[tier - 1]!, from: daysAgo(30) };
  },
  "errors (status 502), newest": () => ({ status: "502" }),
  "one request id": () => ({ request_id: pickRequestId() }),
  "everything, one day": () => {
    const start = 1 + Math.floor(Math.random() * 360);
    return { from: daysAgo(start), to: daysAgo(start - 1) };
  },
};
const requestIds = (await db.query("SELECT request_id FROM audit_log TABLESAMPLE SYSTEM (0.01) LIMIT 500")).rows.map((r) => String(r.request_id));
const pickRequestId = (): string => pick(requestIds);

const ADMIN = "bench-admin-key-0123456789";
const router = await startRouter({ ...stack.bindings, AUDIT_HMAC_KEY: "bench-audit-key-0123456789", ADMIN_API_KEY: ADMIN, KEY_PREFIX: "bench" });
// Unmeasured warm-up: the first requests pay for workerd's compile and the endpoint's first connections.
for (let i = 0; i < 30; i++) {
  const response = await router.fetch(`/v1/audit?limit=100&status=200`, { headers: { authorization: `Bearer ${ADMIN}` } });
  await response.arrayBuffer();
}
const results: Record<string, { db: ReturnType<typeof summarise>; api: ReturnType<typeof summarise>; rows: number }> = {};
for (const [name, question] of Object.entries(QUESTIONS)) {
  const dbMs: number[] = [];
  const apiMs: number[] = [];
  let rows = 0;
  for (let i = 0; i < SAMPLES; i++) {
    const params = question();
    const { text, params: args } = auditPageQuery({ ...params, tier: num(params.tier), status: num(params.status), limit: 100 });
    let start = performance.now();
    rows += (await db.query(text, args)).rowCount ?? 0;
    dbMs.push(performance.now() - start);
    start = performance.now();
    const response = await router.fetch(`/v1/audit?${new URLSearchParams({ ...params, limit: "100" })}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    if (response.status !== 200) throw new Error(`/v1/audit answered ${response.status}: ${await response.text()}`);
    await response.arrayBuffer();
    apiMs.push(performance.now() - start);
  }
  results[name] = { db: summarise(dbMs), api: summarise(apiMs), rows: Math.round(rows / SAMPLES) };
}

console.log(`audit_log: ${ROWS.toLocaleString()} rows; ${SAMPLES} samples per question, 100 rows a page`);
console.log("question                         rows   postgres p50/p99 ms   /v1/audit p50/p99 ms");
for (const [name, r] of Object.entries(results)) {
  const f = (s: { p50: number; p99: number }) => `${s.p50.toFixed(1)} / ${s.p99.toFixed(1)}`;
  console.log(`${name.padEnd(30)}${String(r.rows).padStart(7)}${f(r.db).padStart(22)}${f(r.api).padStart(23)}`);
}
console.log(JSON.stringify({ rows: ROWS, results }));
await router.close();
await db.end();
await stack.stop();

async function generate(): Promise<void> {
  console.log(`generating ${ROWS.toLocaleString()} audit rows over the last 12 months (kept for later runs)...`);
  const started = Date.now();
  await db.query("TRUNCATE audit_log");
  await db.query("SELECT audit_ensure_partitions(13, 1)");
  const chunk = 1_000_000;
  for (let from = 1; from <= ROWS; from += chunk) {
    const to = Math.min(ROWS, from + chunk - 1);
    await db.query(
      `INSERT INTO audit_log
       SELECT g, gen_random_uuid(), now() - (($2::bigint - g) * (interval '365 days' / $2::bigint)),
              'cdd01ef066bc6cf2', 'key_' || (g % 200), 1 + (g % 5)::int, random(),
              ($3::text[])[1 + (g % 5)::int], CASE WHEN g % 5 < 2 THEN 'groq' ELSE 'openrouter' END, '[]',
              (ARRAY['MISS','HIT','MISS','BYPASS'])[1 + (g % 4)::int],
              (ARRAY[200,200,200,200,200,200,200,400,429,502])[1 + (g % 10)::int], NULL,
              (g % 2000)::int, (g % 700)::int, (g % 1000) / 1e6, 50 + (g % 900), 45 + (g % 900), 1 + (g % 5),
              g % 3 = 0, false, md5(g::text), md5('h' || g)
       FROM generate_series($1::bigint, $4::bigint) AS g`,
      [from, ROWS, MODELS, to],
    );
    console.log(`  ${to.toLocaleString()} rows (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  await db.query("ANALYZE audit_log");
  console.log(`generated in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
