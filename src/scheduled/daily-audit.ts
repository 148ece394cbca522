/**
 * The daily cron's audit: the scheduled audit over Neon, Redis's issued numbers beside
 * it, the result published for the metrics and pushed. Failure policy: an audit that
 * cannot run (Postgres down) is logged as such and runs again the next day, or by
 * `npm run audit` at once.
 */
import { type AuditRun, publishAuditRun, readIssued, runScheduledAudit } from "../audit/scheduled-audit.ts";
import type { Services } from "../services/index.ts";

export async function dailyAudit(services: Pick<Services, "config" | "sql" | "redis" | "stores">): Promise<AuditRun | undefined> {
  const { config, sql, redis } = services;
  const { tracked } = services.stores;
  const key = config.audit.hmacKey;
  if (sql === undefined || key === undefined) return undefined;
  const issued = redis === undefined ? undefined : await readIssued(redis, config.keyPrefix).catch(() => undefined);
  const run = await runScheduledAudit((text, params) => tracked("postgres", () => sql(text, params)), key, issued, config.slo, "cron");
  if (redis !== undefined) await tracked("redis", () => publishAuditRun(redis, config.keyPrefix, run)).catch(() => {});
  return run;
}
