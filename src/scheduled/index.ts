/** Cron handlers: every minute the audit flush and the provider probes; daily, next months' audit partitions. */
import { flushAudit } from "../audit/flush.ts";
import { type Bindings, configFor } from "../config/env.ts";
import { probeProviders } from "../reliability/probes.ts";
import { postgresFor } from "../storage/postgres.ts";

export const EVERY_MINUTE = "* * * * *";

export async function scheduled(controller: { cron: string }, bindings: Bindings): Promise<void> {
  const config = configFor(bindings);
  if (controller.cron === EVERY_MINUTE) {
    const [report, probes] = await Promise.all([flushAudit(config), probeProviders(config)]);
    console.log(JSON.stringify({ cron: "audit-flush", ...report }));
    console.log(JSON.stringify({ cron: "probes", failing: probes.filter((p) => !p.ok).map((p) => p.provider), probed: probes.length }));
    return;
  }
  const sql = postgresFor(config);
  if (sql !== undefined) await sql("SELECT audit_ensure_partitions(1, 12)");
}
