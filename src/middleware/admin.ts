/**
 * The guard of the admin routes (app.ts names them): the `ADMIN_API_KEY` secret as a
 * bearer token. GET /metrics also opens to the scrape token (`METRICS_TOKEN`), so a
 * scraper need not hold the admin key. Admin answers name keys and spend: no shared
 * cache may keep them, nor the refusals.
 * @example app.on("GET", "/v1/admin/keys", adminOnly(), listKeysRoute)
 */
import type { MiddlewareHandler } from "hono";
import { sha256Hex, timingSafeEqualText } from "../crypto/digest.ts";
import { bearerToken } from "../security/admin-key.ts";
import type { With } from "./edge.ts";

type AdminOnlyOptions = {
  /** A second token that opens the route, read from the config (the metrics scrape token). */
  orToken?: (config: { metricsToken: string | undefined }) => string | undefined;
};

export function adminOnly(options: AdminOnlyOptions = {}): MiddlewareHandler<With> {
  return async function adminOnlyMiddleware(c, next) {
    c.header("cache-control", "no-store");
    const authorization = c.req.header("authorization");
    const token = options.orToken?.(c.get("config"));
    const given = bearerToken(authorization);
    const byToken = token !== undefined && given !== undefined && timingSafeEqualText(await sha256Hex(given), await sha256Hex(token));
    if (!byToken) await c.get("services").adminKey.requireAdmin(authorization);
    await next();
  };
}
