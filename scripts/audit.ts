/**
 * `npm run audit`: the scheduled audit, now: verifies the log from the last clean run's
 * checkpoint, compares it with the Redis counter, checks the day's SLOs, stores the
 * run in `audit_runs` and publishes it for the metrics. Exits 0 when the log verifies,
 * 1 when it does not, 2 when it cannot run. With no environment it audits the local
 * stack `npm run dev` runs.
 */
import { publishAuditRun, readIssued, runScheduledAudit } from "../src/audit/scheduled-audit.ts";
import { parseConfig } from "../src/config/env.ts";
import { describeDatabase, openPool, openRedis, requireSetting, setting } from "./db.ts";

const databaseUrl = requireSetting("DATABASE_URL");
const hmacKey = requireSetting("AUDIT_HMAC_KEY");
const prefix = setting("KEY_PREFIX") ?? "tg";
// The SLO targets as the worker reads them (SLO_* variables, or their defaults).
const { slo } = parseConfig(
  Object.fromEntries(["SLO_OVERHEAD_P99_MS", "SLO_CACHE_HIT_RATE", "SLO_ERROR_RATE"].flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : []))),
);
console.log(`auditing ${describeDatabase(databaseUrl)}`);
const pool = openPool(databaseUrl);
const redis = openRedis();
let code = 2;
try {
  const issued = redis === undefined ? undefined : await readIssued(redis, prefix);
  const run = await runScheduledAudit(async (text, params) => (await pool.query(text, [...params])).rows, hmacKey, issued, slo, "npm run audit");
  console.log(
    `checked ${run.checked} records, seq ${run.from_seq + 1} to ${run.to_seq}${issued === undefined ? " (no Redis: counter not compared)" : `; Redis counter ${issued.counter}`}`,
  );
  for (const line of run.problems.detail) console.log(`PROBLEM: ${line}`);
  for (const [name, s] of Object.entries(run.slos))
    console.log(`SLO ${name}: ${s.value === null ? "no traffic" : Number(s.value.toFixed(4))} against ${s.target}: ${s.met ? "met" : "MISSED"}`);
  if (redis !== undefined) await publishAuditRun(redis, prefix, run);
  console.log(run.ok ? "audit passed: the log verifies from the checkpoint" : "audit FAILED");
  code = run.ok ? 0 : 1;
} catch (error) {
  console.error(`audit could not run: ${(error as Error).message}`);
} finally {
  await pool.end().catch(() => {});
}
process.exit(code);
