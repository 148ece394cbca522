/** Settings of the audit trail: how records are signed, made durable, flushed and watched. */
import * as z from "zod";

export const AuditSettings = z.object({
  /**
   * best-effort: serve, and keep a record that cannot be stored in the isolate for retry. strict: refuse (503)
   * when the record cannot be made durable; needs DATABASE_URL.
   */
  AUDIT_MODE: z.enum(["best-effort", "strict"]).default("best-effort"),
  /**
   * Secret that signs every audit record (HMAC-SHA-256), 16+ characters; required with DATABASE_URL.
   * `npm run dev` makes one in .data/ unless set.
   */
  AUDIT_HMAC_KEY: z.string().min(16, "AUDIT_HMAC_KEY must be at least 16 characters").optional(),
  /** Records per insert when the cron drains the audit queue. */
  AUDIT_FLUSH_BATCH: z.coerce.number().int().min(1).max(5_000).default(500),
  /** Records an isolate holds while neither Redis nor Postgres takes them; past it the oldest is dropped and counted. */
  AUDIT_HOLD_LIMIT: z.coerce.number().int().min(1).max(100_000).default(10_000),
  /** /health says degraded once the oldest queued audit record is older than this: the flush is stalled. */
  AUDIT_QUEUE_MAX_AGE_SECONDS: z.coerce.number().int().positive().default(180),
});

export type AuditConfig = {
  audit: { mode: "best-effort" | "strict"; hmacKey: string | undefined; flushBatch: number; holdLimit: number; queueMaxAgeSeconds: number };
};

export function auditConfig(env: z.infer<typeof AuditSettings>): AuditConfig {
  return {
    audit: {
      mode: env.AUDIT_MODE,
      hmacKey: env.AUDIT_HMAC_KEY,
      flushBatch: env.AUDIT_FLUSH_BATCH,
      holdLimit: env.AUDIT_HOLD_LIMIT,
      queueMaxAgeSeconds: env.AUDIT_QUEUE_MAX_AGE_SECONDS,
    },
  };
}
