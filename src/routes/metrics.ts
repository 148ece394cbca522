/**
 * GET /metrics: the global totals in the Prometheus text format, for the admin key or
 * the scrape token (`METRICS_TOKEN`), so a scraper need not hold the admin key.
 */
import type { Context } from "hono";
import { ApiError } from "../http/errors.ts";
import type { With } from "../middleware/edge.ts";
import { readTotals, renderPrometheus } from "../observability/exposition.ts";

export async function metrics(c: Context<With>): Promise<Response> {
  const services = c.get("services");
  if (services.config.redis === undefined)
    throw new ApiError(503, "Metrics are counted in Redis: set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN", { code: "metrics_unavailable" });
  const totals = await readTotals(services).catch((error: unknown) => {
    throw new ApiError(503, "The metrics cannot be read right now", { code: "metrics_unavailable", cause: error });
  });
  return c.body(renderPrometheus(totals), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
}
