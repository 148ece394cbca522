/**
 * Admin routes, guarded by path (app.ts): the `ADMIN_API_KEY` secret as a bearer token.
 * GET /metrics also opens to the scrape token (`METRICS_TOKEN`), so a scraper need not
 * hold the admin key.
 */
import type { MiddlewareHandler } from "hono";
import { sha256Hex, timingSafeEqualText } from "../crypto/digest.ts";
import { ApiError } from "../http/errors.ts";
import type { AdminKey } from "../security/admin-key.ts";
import type { With } from "./edge.ts";

type AdminCheck = "admin" | "disabled" | "misconfigured" | "missing" | "invalid";

/** The bearer token of a request, if it sent one. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(authorization ?? "")?.[1]?.trim();
}

async function checkAdmin(adminKey: AdminKey, authorization: string | undefined): Promise<AdminCheck> {
  if (adminKey.closed !== undefined) return adminKey.closed;
  const given = bearerToken(authorization);
  if (given === undefined) return "missing";
  return (await adminKey.isAdminHash(await sha256Hex(given))) ? "admin" : "invalid";
}

/** True when the request carries the admin key (for what admins alone may see on shared routes). */
export async function isAdmin(adminKey: AdminKey, authorization: string | undefined): Promise<boolean> {
  return (await checkAdmin(adminKey, authorization)) === "admin";
}

export async function requireAdmin(adminKey: AdminKey, authorization: string | undefined): Promise<void> {
  const check = await checkAdmin(adminKey, authorization);
  if (check === "misconfigured") {
    throw new ApiError(503, "Admin routes are closed: ADMIN_API_KEY is misconfigured (it must be 16+ characters)", { code: "admin_misconfigured" });
  }
  if (check === "disabled") {
    throw new ApiError(403, "Admin routes are disabled: set the ADMIN_API_KEY secret", { code: "admin_disabled", type: "authentication_error" });
  }
  if (check === "missing") {
    throw new ApiError(401, "Admin routes need Authorization: Bearer <ADMIN_API_KEY>", { code: "missing_api_key", type: "authentication_error" });
  }
  if (check === "invalid") throw new ApiError(401, "Invalid admin API key", { code: "invalid_api_key", type: "authentication_error" });
}

/**
 * The guard of every admin path. Admin answers name keys and spend: no shared cache may keep them.
 * @example app.use("/v1/admin/*", adminOnly())
 */
export function adminOnly(options: { orToken?: (config: { metricsToken: string | undefined }) => string | undefined } = {}): MiddlewareHandler<With> {
  return async function adminOnlyMiddleware(c, next) {
    c.header("cache-control", "no-store");
    const authorization = c.req.header("authorization");
    const token = options.orToken?.(c.get("config"));
    const given = bearerToken(authorization);
    const byToken = token !== undefined && given !== undefined && timingSafeEqualText(await sha256Hex(given), await sha256Hex(token));
    if (!byToken) await requireAdmin(c.get("services").adminKey, authorization);
    await next();
  };
}
