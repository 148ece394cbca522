/**
 * Who is calling: the client's API key (`Authorization: Bearer tg_live_…`), found by its
 * SHA-256 in the isolate (15 s), then Redis (30 s), then Postgres; never Postgres per
 * request. A revoked key stops working everywhere within 45 s: revoking deletes its
 * Redis entry, and an isolate keeps what it saw for at most 15 s.
 * Failure policy: with Redis down the lookup goes to Postgres; with Postgres down too,
 * a key this isolate has not seen cannot be checked and is refused (503), never waved through.
 */
import type { Context, MiddlewareHandler } from "hono";
import { LRUCache } from "lru-cache";
import type { Config } from "../config/env.ts";
import { perConfig } from "../config/per-config.ts";
import type { AppEnv } from "../http/app-env.ts";
import { ApiError } from "../openai/errors.ts";
import { tracked } from "../storage/availability.ts";
import { postgresFor } from "../storage/postgres.ts";
import { redisFor, redisKey } from "../storage/redis.ts";
import { isAdminKeyHash } from "./admin.ts";
import { anyLiveKey, hashKey, KEY_PATTERN, keyForHash } from "./key-store.ts";
import { type LimitOutcome, limitHeaders, limitRequests } from "./limits.ts";

/** The key behind a request, as routing, limits and the audit log need it. */
export type Caller = {
  keyId: string;
  tenantId: string | null;
  maxTier: number | null;
  models: string[] | null;
  rpm: number | null;
  tpm: number | null;
  dailyBudgetUsd: number | null;
  monthlyBudgetUsd: number | null;
  /** The tenant's own budgets, for the spend of all its keys together. */
  tenantBudgets: { dailyUsd: number | null; monthlyUsd: number | null };
  /** The admin key, used as a client key: trusted, unlimited. */
  admin: boolean;
};

type KnownKey = Omit<Caller, "admin"> & { expiresAt: string | null; revoked: boolean };
type Lookup = KnownKey | { unknown: true };

const ISOLATE_TTL_MS = 15_000;
const REDIS_TTL_SECONDS = 30;
const REQUIREMENT_TTL_MS = 30_000;

const seen = perConfig(() => new LRUCache<string, Lookup>({ max: 10_000, ttl: ISOLATE_TTL_MS }));
const requirement = perConfig(() => ({ value: false, checkedAt: 0 }));

/**
 * Checks the key on the routes that spend money, then counts the request against the
 * key's requests per minute; sets `caller`, tells the audit draft, and puts OpenAI's
 * rate-limit headers on the answer.
 */
export function apiKeyAuth(): MiddlewareHandler<AppEnv> {
  return async function apiKeyAuthMiddleware(c, next) {
    const caller = await identify(c);
    if (caller === undefined) return next();
    c.set("caller", caller);
    const draft = c.get("audit");
    draft.keyId = caller.keyId;
    draft.tenantId = caller.tenantId;
    noteLimit(c, "requests", await limitRequests(c.get("config"), caller));
    await next();
    for (const [kind, state] of Object.entries(draft.limits ?? {})) {
      for (const [name, value] of Object.entries(limitHeaders(kind as "requests" | "tokens", state))) c.header(name, value);
    }
  };
}

/** Keeps a limit's state for the answer's headers, or notes that it went unchecked. */
export function noteLimit(c: Context<AppEnv>, kind: "requests" | "tokens", outcome: LimitOutcome | undefined): void {
  if (outcome === undefined) return;
  const draft = c.get("audit");
  if (outcome.checked) draft.limits = { ...draft.limits, [kind]: outcome.state };
  else {
    draft.limitNote = `${kind} per minute unchecked: Redis unavailable (limits fail open)`;
    c.header("x-tiergate-limits", "unchecked");
  }
}

async function identify(c: Context<AppEnv>): Promise<Caller | undefined> {
  const config = c.get("config");
  const header = c.req.header("authorization");
  const token = header === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  const required = await keysRequired(config);
  if (token === undefined) {
    if (!required) return undefined;
    throw refused(header === undefined ? "missing" : "malformed", "Send your key as Authorization: Bearer <key>");
  }
  const hash = await hashKey(token);
  if (await isAdminKeyHash(config, hash)) return ADMIN;
  if (!KEY_PATTERN.test(token)) {
    // Not one of ours: a client's placeholder key passes while keys are optional.
    if (!required) return undefined;
    throw refused("malformed", "The API key is not a tiergate key (tg_live_…)");
  }
  const found = await lookup(config, hash);
  if ("unknown" in found) throw refused("unknown", "Incorrect API key provided");
  if (found.revoked) throw refused("revoked", "This API key has been revoked");
  if (found.expiresAt !== null && Date.parse(found.expiresAt) <= Date.now()) throw refused("expired", "This API key has expired");
  const { expiresAt: _expires, revoked: _revoked, ...caller } = found;
  return { ...caller, admin: false };
}

const ADMIN: Caller = {
  keyId: "admin",
  tenantId: null,
  maxTier: null,
  models: null,
  rpm: null,
  tpm: null,
  dailyBudgetUsd: null,
  monthlyBudgetUsd: null,
  tenantBudgets: { dailyUsd: null, monthlyUsd: null },
  admin: true,
};

function refused(reason: "missing" | "malformed" | "unknown" | "revoked" | "expired", message: string): ApiError {
  return new ApiError(401, `${message}. You can make a key with npm run keys -- create, or POST /v1/admin/keys.`, {
    code: "invalid_api_key",
    auditCode: `invalid_api_key:${reason}`,
  });
}

/**
 * REQUIRE_API_KEY when set; unset, keys are required once any live key exists (checked
 * at most every 30 s per isolate). An isolate that cannot ask Postgres and never could
 * requires keys: it fails closed rather than let keyless requests through an outage.
 */
async function keysRequired(config: Config): Promise<boolean> {
  if (config.requireApiKey !== undefined) return config.requireApiKey;
  const sql = postgresFor(config);
  if (sql === undefined) return false;
  const state = requirement(config);
  if (Date.now() - state.checkedAt < REQUIREMENT_TTL_MS) return state.value;
  try {
    state.value = await tracked("postgres", () => anyLiveKey(sql));
  } catch {
    // Cannot tell: keep what was last known (required, if nothing was), and ask again on the next request.
    return state.checkedAt === 0 ? true : state.value;
  }
  state.checkedAt = Date.now();
  return state.value;
}

async function lookup(config: Config, hash: string): Promise<Lookup> {
  const local = seen(config).get(hash);
  if (local !== undefined) return local;
  const redis = redisFor(config);
  const cacheKey = redisKey(config, "key", hash);
  if (redis !== undefined) {
    const cached = await tracked("redis", () => redis.get<string>(cacheKey)).catch(() => null);
    if (typeof cached === "string") {
      const parsed = JSON.parse(cached) as Lookup;
      seen(config).set(hash, parsed);
      return parsed;
    }
  }
  const sql = postgresFor(config);
  if (sql === undefined) return { unknown: true };
  const row = await tracked("postgres", () => keyForHash(sql, hash)).catch((error: unknown) => {
    throw new ApiError(503, "API keys cannot be checked right now", { code: "keys_unavailable", cause: error });
  });
  const found: Lookup = row === undefined ? { unknown: true } : fromRow(row);
  seen(config).set(hash, found);
  if (redis !== undefined) await tracked("redis", () => redis.set(cacheKey, JSON.stringify(found), { ex: REDIS_TTL_SECONDS })).catch(() => {});
  return found;
}

/** Forgets a key everywhere but in other isolates, which forget it within 15 s (called when a key is revoked). */
export async function forgetKey(config: Config, hash: string): Promise<void> {
  seen(config).delete(hash);
  const redis = redisFor(config);
  if (redis !== undefined) await tracked("redis", () => redis.del(redisKey(config, "key", hash))).catch(() => {});
}

function fromRow(row: Record<string, unknown>): KnownKey {
  const num = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));
  const time = (value: unknown): string | null => (value === null || value === undefined ? null : new Date(String(value)).toISOString());
  const models = typeof row.models === "string" ? parseTextArray(row.models) : (row.models as string[] | null);
  return {
    keyId: String(row.id),
    tenantId: row.tenant_id === null ? null : String(row.tenant_id),
    maxTier: num(row.max_tier),
    models: models ?? null,
    rpm: num(row.rpm),
    tpm: num(row.tpm),
    dailyBudgetUsd: num(row.daily_budget_usd),
    monthlyBudgetUsd: num(row.monthly_budget_usd),
    tenantBudgets: { dailyUsd: num(row.tenant_daily_budget_usd), monthlyUsd: num(row.tenant_monthly_budget_usd) },
    expiresAt: time(row.expires_at),
    revoked: row.revoked_at !== null && row.revoked_at !== undefined,
  };
}

/** Postgres's text form of a text[] (`{a,"b c"}`), as Neon's HTTP driver may hand it over. */
function parseTextArray(text: string): string[] {
  const inner = text.replace(/^\{|\}$/g, "");
  if (inner === "") return [];
  return [...inner.matchAll(/"((?:[^"\\]|\\.)*)"|([^,]+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!));
}
