/**
 * Where client keys are found by their SHA-256: the isolate (15 s), then the key's record
 * in Redis, then Postgres; never Postgres per request. The record is written when the key
 * is made or revoked (`publish`), so a fresh isolate finds a key without Postgres; a
 * look-up that had to ask Postgres (Redis lost the record, or a key made before records
 * were) writes it too, but only where none is (SET NX), so a late write can never bring
 * back a key a revocation has since marked revoked. A revoked key stops working
 * everywhere within 15 s: revoking rewrites its record at once, and an isolate keeps what
 * it saw for at most 15 s. A hash Postgres does not know is remembered in the isolate
 * alone, in a table of its own: random keys can neither fill Redis nor push real keys out.
 * Failure policy: with Redis down the lookup goes to Postgres; with Postgres down too,
 * a key this isolate has not seen cannot be checked and is refused (503), never waved
 * through. A revocation whose record Redis does not take fails (503), to be retried.
 */
import type { Redis } from "@upstash/redis/cloudflare";
import { ApiError } from "../http/errors.ts";
import type { Tracked } from "../storage/availability.ts";
import { lru } from "../storage/lru.ts";
import type { Sql } from "../storage/postgres.ts";
import { redisKey } from "../storage/redis.ts";
import type { Caller } from "./caller.ts";
import { anyLiveKey, hashKey, keyForHash } from "./key-store.ts";
import type { SealedCredential } from "./provider-credentials.ts";

type KnownKey = Omit<Caller, "admin"> & { expiresAt: string | null; revoked: boolean };
type Lookup = KnownKey | { unknown: true };

export type KeyDirectory = {
  /**
   * The key of this hash. With `postgresBlockedUntil` (ms; the caller's address is over its
   * failed checks) a key neither the isolate nor Redis knows is refused 429, not looked up.
   */
  lookup(hash: string, postgresBlockedUntil?: number, via?: Pick<Redis, "set">): Promise<Lookup>;
  /**
   * The SHA-256 of a presented key this isolate found live in the last 15 s, so a warm key's
   * request is not hashed again (Web Crypto's digest cost about 4% of a keyed request's CPU).
   * Only keys that were found are remembered: random ones cannot push them out. The key
   * itself stays in the isolate's memory, as it does while its request runs; it is never
   * written anywhere.
   */
  hashOf(presented: string): Promise<string>;
  /** Remembers the hash of a presented key that was found live, for `hashOf`. */
  found(presented: string, hash: string): void;
  /**
   * Writes the key's record as Postgres holds it now: after it was made (its first request
   * then needs no Postgres), and after it was revoked, when this isolate forgets it at once
   * and the others within 15 s. @throws ApiError 503 when Redis does not take the record.
   */
  publish(hash: string): Promise<void>;
  /**
   * REQUIRE_API_KEY when set; unset, keys are required once any live key exists (checked
   * at most every 30 s). An isolate that cannot ask Postgres and never could requires
   * keys: it fails closed rather than let keyless requests through an outage.
   */
  keysRequired(): Promise<boolean>;
};

const ISOLATE_TTL_MS = 15_000;
/** How long a key's record stays in Redis after it was last written: a key idle this long pays one Postgres look-up. */
const RECORD_TTL_SECONDS = 30 * 86_400;
/**
 * The record's shape: a deploy that changes what a record holds changes this, so no
 * isolate reads a record of another shape (records outlive deploys by up to 30 days).
 */
const RECORD_FORMAT = "r3";
const REQUIREMENT_TTL_MS = 30_000;

export function createKeyDirectory(deps: {
  keyPrefix: string;
  requireApiKey: boolean | undefined;
  redis: Pick<Redis, "get" | "set"> | undefined;
  sql: Sql | undefined;
  tracked: Tracked;
  clock: () => number;
}): KeyDirectory {
  const { redis, sql, tracked, clock } = deps;
  const seen = lru<Lookup>(10_000, ISOLATE_TTL_MS);
  const unknown = lru<true>(2_000, ISOLATE_TTL_MS);
  const hashes = lru<string>(10_000, ISOLATE_TTL_MS);
  const requirement = { value: false, checkedAt: 0 };
  const cacheKey = (hash: string): string => keyRecordName(deps, hash);
  return {
    async lookup(hash, postgresBlockedUntil, via) {
      const local = seen.get(hash) ?? (unknown.has(hash) ? UNKNOWN : undefined);
      if (local !== undefined) return local;
      if (redis !== undefined) {
        const cached = await tracked("redis", () => redis.get<string>(cacheKey(hash))).catch(() => null);
        if (typeof cached === "string") {
          const parsed = JSON.parse(cached) as Lookup;
          seen.set(hash, parsed);
          return parsed;
        }
      }
      if (sql === undefined) return UNKNOWN;
      if (postgresBlockedUntil !== undefined) throw tooManyFailures(postgresBlockedUntil - clock());
      const row = await tracked("postgres", () => keyForHash(sql, hash)).catch((error: unknown) => {
        throw new ApiError(503, "API keys cannot be checked right now", { code: "keys_unavailable", cause: error });
      });
      if (row === undefined) {
        unknown.set(hash, true);
        return UNKNOWN;
      }
      const found = fromRow(row);
      seen.set(hash, found);
      // Not waited for: a write to the primary region on the key's first request would hold up its answer by a
      // round trip. A write that is lost costs one more Postgres look-up; a late one finds the record a revocation
      // wrote and leaves it (NX). With `via` (the request's joint, storage/joint.ts) it goes out with the request's
      // own calls: one call to the primary, not two.
      if (redis !== undefined)
        void tracked("redis", () => (via ?? redis).set(cacheKey(hash), JSON.stringify(found), { ex: RECORD_TTL_SECONDS, nx: true })).catch(() => {});
      return found;
    },
    hashOf: async (presented) => hashes.get(presented) ?? hashKey(presented),
    found: (presented, hash) => void hashes.set(presented, hash),
    async publish(hash) {
      seen.delete(hash);
      unknown.delete(hash);
      if (redis === undefined || sql === undefined) return;
      await tracked("redis", () => publishKey({ keyPrefix: deps.keyPrefix, redis, sql }, hash)).catch((error: unknown) => {
        throw new ApiError(503, "The key's record could not be written to Redis; send the request again", { code: "keys_unavailable", cause: error });
      });
    },
    async keysRequired() {
      if (deps.requireApiKey !== undefined) return deps.requireApiKey;
      if (sql === undefined) return false;
      if (clock() - requirement.checkedAt < REQUIREMENT_TTL_MS) return requirement.value;
      try {
        requirement.value = await tracked("postgres", () => anyLiveKey(sql));
      } catch {
        // Cannot tell: keep what was last known (required, if nothing was), and ask again on the next request.
        return requirement.checkedAt === 0 ? true : requirement.value;
      }
      requirement.checkedAt = clock();
      return requirement.value;
    },
  };
}

const UNKNOWN: Lookup = { unknown: true };

/** The Redis key of a key's record. */
export const keyRecordName = (config: { keyPrefix: string }, hash: string): string => redisKey(config, "key", `${RECORD_FORMAT}:${hash}`);

/**
 * Writes the record of the key with this hash as Postgres holds it now (its policy merged
 * over its tenant's, revoked or not): the directory's `publish`, and `npm run keys`'s.
 */
export async function publishKey(deps: { keyPrefix: string; redis: Pick<Redis, "set">; sql: Sql }, hash: string): Promise<void> {
  const row = await keyForHash(deps.sql, hash);
  if (row === undefined) return;
  await deps.redis.set(keyRecordName(deps, hash), JSON.stringify(fromRow(row)), { ex: RECORD_TTL_SECONDS });
}

function tooManyFailures(retryInMs: number): ApiError {
  const seconds = Math.max(1, Math.ceil(retryInMs / 1_000));
  return new ApiError(429, `Too many failed key checks from this address; try again in ${seconds} s`, {
    code: "too_many_failed_key_checks",
    headers: { "retry-after": String(seconds) },
  });
}

function fromRow(row: Record<string, unknown>): KnownKey {
  const num = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));
  const time = (value: unknown): string | null => (value === null || value === undefined ? null : new Date(String(value)).toISOString());
  const models = typeof row.models === "string" ? parseTextArray(row.models) : (row.models as string[] | null);
  return {
    keyId: String(row.id),
    tenantId: row.tenant_id === null ? null : String(row.tenant_id),
    tenantGeneration: num(row.tenant_generation) ?? 0,
    maxTier: num(row.max_tier),
    models: models ?? null,
    rpm: num(row.rpm),
    tpm: num(row.tpm),
    dailyBudgetUsd: num(row.daily_budget_usd),
    monthlyBudgetUsd: num(row.monthly_budget_usd),
    tenantBudgets: { dailyUsd: num(row.tenant_daily_budget_usd), monthlyUsd: num(row.tenant_monthly_budget_usd) },
    tenantCredentials: sealedCredentials(row.tenant_credentials),
    byokOnly: row.byok_only === true || row.byok_only === "t",
    expiresAt: time(row.expires_at),
    revoked: row.revoked_at !== null && row.revoked_at !== undefined,
  };
}

/** The tenant's sealed credentials as the record's JSON holds them (Neon's HTTP driver may hand JSON over as text). */
function sealedCredentials(value: unknown): SealedCredential[] {
  const list = typeof value === "string" ? (JSON.parse(value) as unknown) : value;
  if (!Array.isArray(list)) return [];
  return list.map((item: Record<string, unknown>) => ({
    provider: String(item.provider),
    kekId: String(item.kekId),
    iv: String(item.iv),
    ciphertext: String(item.ciphertext),
  }));
}

/** Postgres's text form of a text[] (`{a,"b c"}`), as Neon's HTTP driver may hand it over. */
function parseTextArray(text: string): string[] {
  const inner = text.replace(/^\{|\}$/g, "");
  if (inner === "") return [];
  return [...inner.matchAll(/"((?:[^"\\]|\\.)*)"|([^,]+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!));
}
