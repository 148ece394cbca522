/** Admin routes: the `ADMIN_API_KEY` secret as a bearer token, compared in constant time. */
import type { Context } from "hono";
import type { Config } from "../config/env.ts";
import { perConfig } from "../config/per-config.ts";
import { sha256Hex, timingSafeEqualText } from "../crypto/digest.ts";
import type { AppEnv } from "../http/app-env.ts";
import { ApiError } from "../openai/errors.ts";

type AdminCheck = "admin" | "disabled" | "misconfigured" | "missing" | "invalid";

/** The admin key's SHA-256, made once per isolate. */
const adminKeyHash = perConfig((config) => (config.adminApiKey === undefined ? undefined : sha256Hex(config.adminApiKey)));

/**
 * Whether a bearer token's SHA-256 is the admin key's. Comparing hashes: equal lengths,
 * constant time, and nothing about the key's length leaks.
 */
export async function isAdminKeyHash(config: Config, tokenHash: string): Promise<boolean> {
  const expected = await adminKeyHash(config);
  return expected !== undefined && timingSafeEqualText(tokenHash, expected);
}

async function checkAdmin(c: Context<AppEnv>): Promise<AdminCheck> {
  const config = c.get("config");
  if (config.problems.some((problem) => problem.startsWith("ADMIN_API_KEY:"))) return "misconfigured";
  if (config.adminApiKey === undefined) return "disabled";
  const given = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1]?.trim();
  if (given === undefined) return "missing";
  return (await isAdminKeyHash(config, await sha256Hex(given))) ? "admin" : "invalid";
}

/** True when the request carries the admin key (for what admins alone may do on shared routes). */
export async function isAdmin(c: Context<AppEnv>): Promise<boolean> {
  return (await checkAdmin(c)) === "admin";
}

export async function requireAdmin(c: Context<AppEnv>): Promise<void> {
  const check = await checkAdmin(c);
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
