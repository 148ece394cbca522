/**
 * Cron handlers: every minute the audit flush, the provider probes and the metrics
 * push; daily, next months' audit partitions, the pending ratings' pruning, the
 * expired stored responses' deletion and the scheduled audit.
 */
import { flushAudit } from "../audit/flush.ts";
import { prunePendingFeedback } from "../audit/ratings.ts";
import type { Bindings } from "../config/env.ts";
import { pushMetrics } from "../observability/push.ts";
import { probeProviders } from "../reliability/probes.ts";
import { probeDeps, servicesFor } from "../services/index.ts";
import { deleteExpiredResponses } from "../surfaces/openai-responses/store.ts";
import { dailyAudit } from "./daily-audit.ts";

export const EVERY_MINUTE = "* * * * *";

export async function scheduled(controller: { cron: string }, bindings: Bindings): Promise<void> {
  const services = servicesFor(bindings);
  const { config } = services;
  if (controller.cron === EVERY_MINUTE) {
    const [report, probes] = await Promise.all([flushAudit(services), probeProviders(probeDeps(services))]);
    // After the flush and the probes, so the push carries what they just changed.
    const push = await pushMetrics(services);
    console.log(JSON.stringify({ cron: "audit-flush", ...report }));
    if (config.push.pushgatewayUrl !== undefined || config.push.otlpUrl !== undefined) console.log(JSON.stringify({ cron: "metrics-push", ...push }));
    console.log(JSON.stringify({ cron: "probes", failing: probes.filter((p) => !p.ok).map((p) => p.provider), probed: probes.length }));
    return;
  }
  if (services.sql !== undefined) {
    await services.sql("SELECT audit_ensure_partitions(1, 12)");
    const pruned = await prunePendingFeedback(services.sql).catch(() => undefined);
    console.log(JSON.stringify({ cron: "feedback-prune", ok: pruned !== undefined, pruned }));
    const expired = await deleteExpiredResponses(services.sql).catch(() => undefined);
    console.log(JSON.stringify({ cron: "responses-expire", ok: expired !== undefined, deleted: expired }));
  }
  try {
    const run = await dailyAudit(services);
    if (run !== undefined)
      console.log(
        JSON.stringify({
          cron: "audit",
          ok: run.ok,
          from_seq: run.from_seq,
          to_seq: run.to_seq,
          checked: run.checked,
          problems: run.problems.detail.slice(0, 5),
        }),
      );
  } catch (error) {
    console.error(
      JSON.stringify({ cron: "audit", ok: false, error: "the scheduled audit could not run", cause: error instanceof Error ? error.name : "unknown" }),
    );
  }
  await pushMetrics(services);
}
