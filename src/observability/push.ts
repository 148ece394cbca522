/**
 * The cron's push: the global totals, read from Redis once, PUT to a Prometheus
 * Pushgateway under one job (cumulative values replacing the group's last push, so
 * they are right whichever isolate pushes), and sent as OTLP/HTTP JSON when a
 * collector is configured. Failure policy: a push that fails is logged and tried
 * again by the next minute's cron; the totals stay in Redis meanwhile.
 */
import { readTotals, renderPrometheus, type TotalsDeps } from "./exposition.ts";
import { sendOtlp } from "./otlp.ts";

export const PUSH_JOB = "tiergate";

/** Pushes where configured; says what happened, for the cron's log line. */
export async function pushMetrics(deps: TotalsDeps): Promise<{ pushed: boolean; otlp: boolean; error?: string }> {
  const { config } = deps;
  const { pushgatewayUrl, otlpUrl } = config.push;
  if ((pushgatewayUrl === undefined && otlpUrl === undefined) || config.redis === undefined) return { pushed: false, otlp: false };
  try {
    const totals = await readTotals(deps);
    const [gateway, otlp] = await Promise.all([
      pushgatewayUrl === undefined ? { pushed: false } : putToGateway(pushgatewayUrl, renderPrometheus(totals)),
      sendOtlp(config, totals),
    ]);
    const error = ("error" in gateway ? gateway.error : undefined) ?? otlp.error;
    return { pushed: gateway.pushed, otlp: otlp.sent, ...(error === undefined ? {} : { error }) };
  } catch (error) {
    return { pushed: false, otlp: false, error: error instanceof Error ? error.name : "push failed" };
  }
}

async function putToGateway(url: string, body: string): Promise<{ pushed: boolean; error?: string }> {
  try {
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
