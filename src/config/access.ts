/** Settings of who may call the router: the admin key, client keys, failed-check throttling and browser origins. */
import * as z from "zod";

export const AccessSettings = z.object({
  /**
   * Bearer key for the admin routes (/v1/audit, /v1/admin/*, /dashboard, /metrics, the detail of GET /health),
   * 16+ characters. `npm run dev` makes one. A bad one closes the admin routes; chat still serves.
   */
  ADMIN_API_KEY: z.string().min(16, "ADMIN_API_KEY must be at least 16 characters").optional(),
  /**
   * true: every chat and route request needs a client key (`tg_live_…`); false: keys are optional;
   * unset: required once any unrevoked key exists.
   */
  REQUIRE_API_KEY: z.enum(["true", "false"]).optional(),
  /**
   * Failed key checks (no key, a malformed, unknown, revoked or expired one) one client address (`CF-Connecting-IP`)
   * may make a minute. Past it, a key that must be looked up in Postgres is refused 429 until the minute ends;
   * keys already known to the isolate or Redis still pass.
   */
  FAILED_KEY_CHECKS_PER_MINUTE: z.coerce.number().int().positive().default(30),
  /**
   * Origins allowed to call the router from a browser, comma-separated and exact (`https://app.example.com`);
   * unset: CORS off.
   */
  CORS_ORIGINS: z.string().optional(),
});

export type AccessConfig = {
  adminApiKey: string | undefined;
  requireApiKey: boolean | undefined;
  failedKeyChecksPerMinute: number;
  corsOrigins: readonly string[];
};

export function accessConfig(env: z.infer<typeof AccessSettings>): AccessConfig {
  return {
    adminApiKey: env.ADMIN_API_KEY,
    requireApiKey: env.REQUIRE_API_KEY === undefined ? undefined : env.REQUIRE_API_KEY === "true",
    failedKeyChecksPerMinute: env.FAILED_KEY_CHECKS_PER_MINUTE,
    corsOrigins: (env.CORS_ORIGINS ?? "")
      .split(",")
      .map((origin) => origin.trim())
      .filter((origin) => origin !== ""),
  };
}
