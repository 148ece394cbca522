/** Settings of where state is kept (Redis, Postgres, the response cache) and for how long, and what they make. */
import * as z from "zod";

export const StorageSettings = z.object({
  /**
   * Upstash Redis REST URL; goes with UPSTASH_REDIS_REST_TOKEN. `npm run dev` starts a local stand-in and sets it.
   * Without Redis the router runs degraded: cache in the isolate only, audit records straight to Postgres.
   */
  UPSTASH_REDIS_REST_URL: z.url().optional(),
  /** Upstash Redis REST token (a secret); goes with UPSTASH_REDIS_REST_URL. */
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),
  /**
   * Postgres (Neon) connection string, `postgres://user:password@host/db`; audit records and client keys need it.
   * Requires AUDIT_HMAC_KEY. `npm run dev` starts a local stand-in and sets it.
   */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "a postgres:// connection string")
    .optional(),
  /** Neon's HTTP endpoint, set only to reach the local stand-in (`npm run stack`). */
  NEON_HTTP_ENDPOINT: z.url().optional(),
  /** Neon's WebSocket proxy for scripts (migrate, audit:verify), set only locally. */
  NEON_WS_PROXY: z.string().optional(),
  /** Prefix of every Redis key, so several deployments can share one Redis. */
  KEY_PREFIX: z
    .string()
    .regex(/^[a-z0-9_-]{1,32}$/)
    .default("tg"),
  /** Longest wait for one Redis command. */
  REDIS_TIMEOUT_MS: z.coerce.number().int().positive().default(1_000),
  /** Longest wait for one Postgres query. */
  POSTGRES_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  /** Days a stored Responses API response (`store`, the default) is kept for `previous_response_id` and GET; the daily job deletes the older. */
  RESPONSES_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** Default TTL of a cached completion. Any client may ask for less with `x-tiergate-cache-ttl`. */
  CACHE_TTL_SECONDS: z.coerce.number().int().positive().default(3_600),
  /** The longest TTL `x-tiergate-cache-ttl` may ask for, and only with the admin key (7 days by default). */
  CACHE_MAX_TTL_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(7 * 24 * 3_600),
  /** Larger answers are not cached (256 KiB by default). */
  CACHE_MAX_ENTRY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(256 * 1024),
  /** TTL of the in-isolate cache level. */
  CACHE_LOCAL_TTL_SECONDS: z.coerce.number().int().positive().default(60),
  /** Entries the in-isolate cache level holds. */
  CACHE_LOCAL_MAX_ENTRIES: z.coerce.number().int().positive().default(1_000),
});

export type StorageConfig = {
  redis: { url: string; token: string; timeoutMs: number } | undefined;
  postgres: { url: string; httpEndpoint: string | undefined; timeoutMs: number } | undefined;
  keyPrefix: string;
  responsesRetentionDays: number;
  cache: { ttlSeconds: number; maxTtlSeconds: number; maxEntryBytes: number; localTtlSeconds: number; localMaxEntries: number };
};

export function storageConfig(env: z.infer<typeof StorageSettings>): StorageConfig {
  return {
    redis:
      env.UPSTASH_REDIS_REST_URL && env.UPSTASH_REDIS_REST_TOKEN
        ? { url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, timeoutMs: env.REDIS_TIMEOUT_MS }
        : undefined,
    postgres: env.DATABASE_URL ? { url: env.DATABASE_URL, httpEndpoint: env.NEON_HTTP_ENDPOINT, timeoutMs: env.POSTGRES_TIMEOUT_MS } : undefined,
    keyPrefix: env.KEY_PREFIX,
    responsesRetentionDays: env.RESPONSES_RETENTION_DAYS,
    cache: {
      ttlSeconds: env.CACHE_TTL_SECONDS,
      maxTtlSeconds: env.CACHE_MAX_TTL_SECONDS,
      maxEntryBytes: env.CACHE_MAX_ENTRY_BYTES,
      localTtlSeconds: env.CACHE_LOCAL_TTL_SECONDS,
      localMaxEntries: env.CACHE_LOCAL_MAX_ENTRIES,
    },
  };
}
