/**
 * The cron's push: the global totals, read from Redis, PUT to a Prometheus Pushgateway
 * under one job (cumulative values replacing the group's last push, so they are right
 * whichever isolate pushes). Failure policy: a push that fails is logged and tried
 * again by the next minute's cron; the totals stay in Redis meanwhile.
 */
import type { Config } from "../config/env.ts";
import { readTotals, renderPrometheus } from "./exposition.ts";

export const PUSH_JOB = "tiergate";

/** Pushes when PUSHGATEWAY_URL is set; says what happened, for the cron's log line. */
export async function pushMetrics(config: Config): Promise<{ pushed: boolean; error?: string }> {
  const url = config.push.pushgatewayUrl;
  if (url === undefined || config.redis === undefined) return { pushed: false };
  try {
    const body = renderPrometheus(await readTotals(config));
    const response = await fetch(`${url.replace(/\/+$/, "")}/metrics/job/${PUSH_JOB}`, {
      method: "PUT",
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    await response.arrayBuffer();
    return response.ok ? { pushed: true } : { pushed: false, error: `pushgateway answered ${response.status}` };
  } catch (error) {
    return { pushed: false, error: error instanceof Error ? error.name : "push failed" };
  }
}
