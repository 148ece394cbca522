/** The `ADMIN_API_KEY` secret as a bearer token: hashed once, compared with a token's hash in constant time. */
import type { Config } from "../config/env.ts";
import { sha256Hex, timingSafeEqualText } from "../crypto/digest.ts";
import { ApiError } from "../http/errors.ts";

export type AdminKey = {
  /**
   * Whether a bearer token's SHA-256 is the admin key's. Comparing hashes: equal lengths,
   * constant time, and nothing about the key's length leaks.
   */
  isAdminHash(tokenHash: string): Promise<boolean>;
  /** True when the Authorization header carries the admin key (for what admins alone may see on shared routes). */
  isAdmin(authorization: string | undefined): Promise<boolean>;
  /** Throws the refusal (401, 403 or 503) unless the Authorization header carries the admin key. */
  requireAdmin(authorization: string | undefined): Promise<void>;
};

type AdminCheck = "admin" | "disabled" | "misconfigured" | "missing" | "invalid";

/** The bearer token of an Authorization header, if it has one. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(authorization ?? "")?.[1]?.trim();
}

export function createAdminKey(config: Pick<Config, "adminApiKey" | "problems">): AdminKey {
  const { adminApiKey } = config;
  const closed = config.problems.some((problem) => problem.startsWith("ADMIN_API_KEY:")) ? "misconfigured" : adminApiKey === undefined ? "disabled" : undefined;
  let hash: Promise<string> | undefined;
  const isAdminHash = async (tokenHash: string): Promise<boolean> => {
    if (adminApiKey === undefined) return false;
    hash ??= sha256Hex(adminApiKey);
    return timingSafeEqualText(tokenHash, await hash);
  };
  const check = async (authorization: string | undefined): Promise<AdminCheck> => {
    if (closed !== undefined) return closed;
    const given = bearerToken(authorization);
    if (given === undefined) return "missing";
    return (await isAdminHash(await sha256Hex(given))) ? "admin" : "invalid";
  };
  return {
    isAdminHash,
    isAdmin: async (authorization) => (await check(authorization)) === "admin",
    async requireAdmin(authorization) {
      const found = await check(authorization);
      if (found === "misconfigured") {
        throw new ApiError(503, "Admin routes are closed: ADMIN_API_KEY is misconfigured (it must be 16+ characters)", { code: "admin_misconfigured" });
      }
      if (found === "disabled") {
        throw new ApiError(403, "Admin routes are disabled: set the ADMIN_API_KEY secret", { code: "admin_disabled", type: "authentication_error" });
      }
      if (found === "missing") {
        throw new ApiError(401, "Admin routes need Authorization: Bearer <ADMIN_API_KEY>", { code: "missing_api_key", type: "authentication_error" });
      }
      if (found === "invalid") throw new ApiError(401, "Invalid admin API key", { code: "invalid_api_key", type: "authentication_error" });
    },
  };
}
