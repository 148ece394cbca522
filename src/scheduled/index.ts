/** Cron handlers: every minute the audit flush; daily, next months' audit partitions. */
import { flushAudit } from "../audit/flush.ts";
import { configFor, type Bindings } from "../config/env.ts";
import { postgresFor } from "../storage/postgres.ts";

export const EVERY_MINUTE = "* * * * *";

export async function scheduled(controller: { cron: string }, bindings: Bindings): Promise<void> {
  const config = configFor(bindings);
  if (controller.cron === EVERY_MINUTE) {
    const report = await flushAudit(config);
    console.log(JSON.stringify({ cron: "audit-flush", ...report }));
    return;
  }
  const sql = postgresFor(config);
  if (sql !== undefined) await sql("SELECT audit_ensure_partitions(1, 12)");
}
