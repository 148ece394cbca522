/**
 * GET /metrics: the global totals in the Prometheus text format, for the admin key or
 * the scrape token (`METRICS_TOKEN`), so a scraper need not hold the admin key.
 */
import type { Context } from "hono";
import { sha256Hex, timingSafeEqualText } from "../crypto/digest.ts";
import type { AppEnv } from "../http/app-env.ts";
import { readTotals, renderPrometheus } from "../observability/exposition.ts";
import { ApiError } from "../openai/errors.ts";
import { requireAdmin } from "../security/admin.ts";

export async function metrics(c: Context<AppEnv>): Promise<Response> {
  const config = c.get("config");
  c.header("cache-control", "no-store");
  const given = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1]?.trim();
  const token = config.metricsToken;
  const scraper = token !== undefined && given !== undefined && timingSafeEqualText(await sha256Hex(given), await sha256Hex(token));
  if (!scraper) await requireAdmin(c);
  if (config.redis === undefined)
    throw new ApiError(503, "Metrics are counted in Redis: set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN", { code: "metrics_unavailable" });
  const totals = await readTotals(config).catch((error: unknown) => {
    throw new ApiError(503, "The metrics cannot be read right now", { code: "metrics_unavailable", cause: error });
  });
  return c.body(renderPrometheus(totals), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
}
