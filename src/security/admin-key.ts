/** The `ADMIN_API_KEY` secret, as a bearer token's SHA-256 is compared with it: hashed once, compared in constant time. */
import type { Config } from "../config/env.ts";
import { sha256Hex, timingSafeEqualText } from "../crypto/digest.ts";

export type AdminKey = {
  /** Why admin routes are closed, if they are: no key set, or one too short to use. */
  closed: "disabled" | "misconfigured" | undefined;
  /**
   * Whether a bearer token's SHA-256 is the admin key's. Comparing hashes: equal lengths,
   * constant time, and nothing about the key's length leaks.
   */
  isAdminHash(tokenHash: string): Promise<boolean>;
};

export function createAdminKey(config: Pick<Config, "adminApiKey" | "problems">): AdminKey {
  const { adminApiKey } = config;
  let hash: Promise<string> | undefined;
  return {
    closed: config.problems.some((problem) => problem.startsWith("ADMIN_API_KEY:")) ? "misconfigured" : adminApiKey === undefined ? "disabled" : undefined,
    async isAdminHash(tokenHash) {
      if (adminApiKey === undefined) return false;
      hash ??= sha256Hex(adminApiKey);
      return timingSafeEqualText(tokenHash, await hash);
    },
  };
}
