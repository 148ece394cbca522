/**
 * The same totals as OTLP/HTTP JSON (`OTLP_METRICS_URL`, a collector's /v1/metrics),
 * for collectors and hosted backends that do not scrape: counters as cumulative
 * monotonic sums, histograms with their explicit bounds, gauges as gauges.
 */
import type { Config } from "../config/env.ts";
import { cacheReadRatio, groupByMetric, labelPairs, type Totals, tokensByClass } from "./exposition.ts";
import { GAUGES, METRICS, type Metric } from "./series.ts";

type Attribute = { key: string; value: { stringValue: string } };
const attributes = (labels: string): Attribute[] => labelPairs(labels).map(([key, value]) => ({ key, value: { stringValue: value } }));

export function otlpBody(totals: Totals, now = Date.now()) {
  const time = `${BigInt(now) * 1_000_000n}`;
  const byMetric = groupByMetric(totals.counters);
  const metrics: object[] = (Object.values(METRICS) as Metric[]).map((metric) => {
    const series = [...(byMetric.get(metric.name) ?? new Map<string, Map<string, number>>())];
    const unit = metric.unit === "micro" ? 1e6 : 1;
    if (metric.type === "histogram") {
      const dataPoints = series.map(([labels, values]) => ({
        attributes: attributes(labels),
        timeUnixNano: time,
        count: values.get("count") ?? 0,
        sum: (values.get("sum") ?? 0) / unit,
        explicitBounds: metric.buckets,
        bucketCounts: [...metric.buckets!, "+Inf"].map((bound) => values.get(`le=${bound}`) ?? 0),
      }));
      return { name: metric.name, description: metric.help, histogram: { aggregationTemporality: 2, dataPoints } };
    }
    const dataPoints = series.map(([labels, values]) => ({ attributes: attributes(labels), timeUnixNano: time, asDouble: (values.get("") ?? 0) / unit }));
    return { name: metric.name, description: metric.help, sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints } };
  });
  const gauge = (name: string, value: number) => ({ name, gauge: { dataPoints: [{ timeUnixNano: time, asDouble: value }] } });
  const tokens = tokensByClass(byMetric);
  metrics.push(
    gauge("tiergate_audit_queue_depth", totals.queueDepth),
    gauge("tiergate_audit_queue_oldest_age_seconds", totals.queueAgeSeconds),
    gauge(GAUGES.cacheReadRatio.name, cacheReadRatio(tokens.cache_read, tokens.input)),
  );
  return {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: "tiergate" } }] },
        scopeMetrics: [{ scope: { name: "tiergate" }, metrics }],
      },
    ],
  };
}

/** Sends the totals to the collector; the caller logs the outcome. */
export async function sendOtlp(config: Config, totals: Totals): Promise<{ sent: boolean; error?: string }> {
  const url = config.push.otlpUrl;
  if (url === undefined) return { sent: false };
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(otlpBody(totals)),
      signal: AbortSignal.timeout(10_000),
    });
    await response.arrayBuffer();
    return response.ok ? { sent: true } : { sent: false, error: `collector answered ${response.status}` };
  } catch (error) {
    return { sent: false, error: error instanceof Error ? error.name : "send failed" };
  }
}
