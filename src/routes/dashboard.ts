/**
 * GET /dashboard: the live dashboard. The page and its assets are served to anyone
 * (they hold no data, and nothing outside the worker is loaded); the figures come
 * from GET /dashboard/data, which takes the admin key.
 */
import type { Context } from "hono";
import UPLOT_JS from "uplot/dist/uPlot.iife.min.js";
import UPLOT_CSS from "uplot/dist/uPlot.min.css";
import { ApiError } from "../http/errors.ts";
import type { With } from "../middleware/edge.ts";
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from "../observability/dashboard-page.ts";
import { readTotals, summarise } from "../observability/exposition.ts";

/** The page runs its own scripts and styles and talks only to this worker. */
const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const ASSETS: Record<string, [string, string]> = {
  "uplot.js": [UPLOT_JS, "text/javascript; charset=utf-8"],
  "app.js": [DASHBOARD_JS, "text/javascript; charset=utf-8"],
  "uplot.css": [UPLOT_CSS, "text/css; charset=utf-8"],
  "style.css": [DASHBOARD_CSS, "text/css; charset=utf-8"],
};

export function dashboardPage(c: Context<With>): Response {
  c.header("content-security-policy", PAGE_POLICY);
  c.header("cache-control", "no-cache");
  return c.html(DASHBOARD_HTML);
}

export function dashboardAsset(c: Context<With>): Response {
  const name = c.req.param("asset") ?? "";
  // Own names only: `__proto__` or `constructor` must be a 404, not the object's prototype.
  const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
  if (asset === undefined) throw new ApiError(404, `No dashboard asset ${c.req.path}`, { code: "not_found" });
  c.header("cache-control", "public, max-age=300");
  return c.body(asset[0], 200, { "content-type": asset[1] });
}

export async function dashboardData(c: Context<With>): Promise<Response> {
  const services = c.get("services");
  if (services.config.redis === undefined)
    throw new ApiError(503, "The dashboard's figures are counted in Redis: set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN", {
      code: "metrics_unavailable",
    });
  const totals = await readTotals(services).catch((error: unknown) => {
    throw new ApiError(503, "The figures cannot be read right now", { code: "metrics_unavailable", cause: error });
  });
  return c.json(summarise(totals));
}
