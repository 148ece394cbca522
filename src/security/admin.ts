/** Admin routes: the `ADMIN_API_KEY` secret as a bearer token, compared in constant time. */
import type { Context } from "hono";
import { sha256Hex } from "../crypto/digest.ts";
import type { AppEnv } from "../http/app-env.ts";
import { ApiError } from "../openai/errors.ts";

const encoder = new TextEncoder();

export async function requireAdmin(c: Context<AppEnv>): Promise<void> {
  const expected = c.get("config").adminApiKey;
  if (expected === undefined) {
    throw new ApiError(403, "Admin routes are disabled: set the ADMIN_API_KEY secret", { code: "admin_disabled", type: "authentication_error" });
  }
  const given = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1]?.trim();
  if (given === undefined) {
    throw new ApiError(401, "Admin routes need Authorization: Bearer <ADMIN_API_KEY>", { code: "missing_api_key", type: "authentication_error" });
  }
  // Hash both sides first: equal lengths for timingSafeEqual, and nothing about the key's length leaks.
  const [a, b] = await Promise.all([sha256Hex(given), sha256Hex(expected)]);
  if (!crypto.subtle.timingSafeEqual(encoder.encode(a), encoder.encode(b))) {
    throw new ApiError(401, "Invalid admin API key", { code: "invalid_api_key", type: "authentication_error" });
  }
}
