/** The worker's environment: one zod schema, parsed once per isolate into a typed config. */
import * as z from "zod";
import { type Alias, AliasesSchema, parseAliases } from "../routing/aliases.ts";
import { type EmbeddingModel, loadEmbeddingModels } from "../routing/embedding-models.ts";
import { FEATURES } from "../routing/features.ts";
import { DEFAULT_MODEL, DEFAULT_THRESHOLDS, decodeModel, type RouterModel } from "../routing/model.ts";
import { loadRegistry, type Model, TIERS, type Tier } from "../routing/registry.ts";
import { SHAPES } from "../routing/shape.ts";
import type { Strategy } from "../routing/strategy.ts";
import { biasThresholds, parseThresholds, type Thresholds, ThresholdsSchema } from "../routing/thresholds.ts";

/** What wrangler hands the worker: `[vars]` from wrangler.toml, secrets, `.dev.vars` locally. */
export type Bindings = Record<string, unknown>;

const CustomProviderSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, "lower-case letters, digits, _ and -"),
  base_url: z.url(),
  /** Name of the binding (a wrangler secret) that holds this provider's key, if it needs one. */
  api_key_binding: z.string().min(1).optional(),
});

/** A variable holding JSON, checked against `schema`; bad JSON is an issue like any other, not a crash. */
function jsonSetting<T extends z.ZodType>(schema: T) {
  return z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "not valid JSON" });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

const FeatureWeightsSchema = z.record(
  z.string().refine((name) => FEATURES.some((feature) => feature.name === name), "is not a feature of this version (src/routing/features.ts)"),
  z.number(),
);
/** A routing model as `npm run train:router` writes it; every feature it names must be one this version computes. */
const RouterModelSchema = z.object({
  bias: z.number(),
  features: FeatureWeightsSchema,
  shapes: z.partialRecord(z.enum(SHAPES.filter((shape) => shape !== "plain")), FeatureWeightsSchema).optional(),
  thresholds: ThresholdsSchema.optional(),
  provenance: z.string(),
});

export const EnvSchema = z.object({
  /** OpenRouter's API base URL; point it elsewhere to test (the fake provider of `npm run dev -- --fake-upstream`). */
  OPENROUTER_BASE_URL: z.url().default("https://openrouter.ai/api/v1"),
  /**
   * OpenRouter's API key (a secret); OpenRouter serves tiers 1-5 of the built-in registry. A tier prefers the models of
   * configured providers; a completion whose tier has none answers 503 naming the variable to set.
   */
  OPENROUTER_API_KEY: z.string().min(1).optional(),
  /** Groq's API base URL; point it elsewhere to test. */
  GROQ_BASE_URL: z.url().default("https://api.groq.com/openai/v1"),
  /** Groq's API key (a secret); Groq serves tiers 1-3 of the built-in registry. */
  GROQ_API_KEY: z.string().min(1).optional(),
  /**
   * Further OpenAI-compatible providers (Ollama, vLLM, ...), as a JSON array of `{"id", "base_url", "api_key_binding"?}`;
   * `api_key_binding` names another variable (a secret) that holds the key. Give them models with MODELS_JSON.
   * Example: `[{"id":"ollama","base_url":"http://127.0.0.1:11434/v1"}]`. A bad value stops the router.
   */
  CUSTOM_PROVIDERS: z.string().optional(),
  /**
   * Replaces the whole model registry: a JSON array of `{"id", "provider", "upstream_model", "tier": 1-5,
   * "context_window", "capabilities": ["tools", "json", "vision", "streaming"]}` with, each optional, its prices in USD
   * per million tokens: `input_usd_per_mtok`, `output_usd_per_mtok`, `cache_read_usd_per_mtok`, `cache_write_usd_per_mtok`
   * (5 minutes), `cache_write_1h_usd_per_mtok`, `above` (`{"prompt_tokens", and the same five}`: the prices of a request
   * whose prompt is longer) and `price_read_on` (a date or a version), and an optional `weight` for the weighted strategy.
   * A price left out is the built-in catalog's for that provider's model (genai-prices; a cache price it lacks is the
   * input price), and an entry the catalog does not price must give its input and output prices (0 if meant): it is
   * refused by name, never priced at 0. See docs/models.md. GET /v1/models shows the built-in one. A bad value stops the router.
   */
  MODELS_JSON: z.string().optional(),
  /**
   * Replaces the embedding models (POST /v1/embeddings): a JSON array of `{"id", "provider", "upstream_model",
   * "input_usd_per_mtok", "price_read_on", "dimensions", "shortens", "max_input_tokens", "max_batch_inputs",
   * "max_batch_tokens"}`. `auto` is the first a key may use. GET /v1/models shows the built-in ones. A bad value stops the router.
   */
  EMBEDDING_MODELS_JSON: z.string().optional(),
  /**
   * A routing model in place of the shipped one (`npm run train:router -- --from-audit` writes one); its
   * thresholds become the default tier cut points. A bad one is reported in /health and the shipped model kept.
   */
  MODEL_JSON: jsonSetting(RouterModelSchema).optional(),
  /**
   * Model names a client may send for the router's own, a JSON object of `{"<name, * any run of characters>":
   * "auto" | "tier:N" | "<registry id>" | {"model", "max_tier"}}`, matched before the defaults (`claude-*haiku*`:
   * auto, at most tier 2; `claude-*`: auto). See docs/api.md.
   */
  MODEL_ALIASES: jsonSetting(AliasesSchema).optional(),
  /** The most a Messages request's `max_tokens` is taken as (Claude Code asks 128,000 on every turn): a ceiling. */
  MESSAGES_MAX_TOKENS: z.coerce.number().int().positive().default(32_000),
  /** Days a stored Responses API response (`store`, the default) is kept for `previous_response_id` and GET; the daily job deletes the older. */
  RESPONSES_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /**
   * Four increasing cut points in (0, 1) between tiers 1|2|3|4|5, comma-separated. Default: the thresholds
   * calibrated with the routing model (MODEL_JSON's, else src/routing/model.generated.ts's; see bench/ROUTING.md).
   */
  TIER_THRESHOLDS: z.string().optional(),
  /**
   * One setting that shifts the whole cost/quality curve: every cut point moves down by this much (-1 to 1).
   * Positive: more prompts to higher tiers (better, dearer); negative: cheaper. See bench/ROUTING.md for the curve.
   */
  ROUTER_QUALITY_BIAS: z.coerce.number().min(-1).max(1).default(0),
  /** Longest wait for a provider's headers, a whole JSON answer, or the next stream chunk. */
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  /** Retries per model after its first try, on 429, 5xx, timeouts and unreadable answers (before the first byte only). */
  UPSTREAM_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  /** The first retry's backoff in ms; each next one doubles, with jitter. */
  UPSTREAM_RETRY_BASE_MS: z.coerce.number().int().min(0).max(60_000).default(100),
  /** Models tried for one request: the decision's pick, then its fallbacks (the rest of the tier, then the tiers above). */
  FALLBACK_MAX_MODELS: z.coerce.number().int().min(1).max(20).default(3),
  /** The most time all attempts of one request may take, waits included. */
  UPSTREAM_MAX_TOTAL_MS: z.coerce.number().int().positive().default(90_000),
  /** A model's (or a whole provider's) circuit opens after this many failures in a row; 0 turns breakers off. */
  BREAKER_FAILURES: z.coerce.number().int().min(0).max(1_000).default(5),
  /**
   * A circuit also opens when this share (percent) of its calls in the window failed, once the window holds
   * BREAKER_MIN_REQUESTS calls.
   */
  BREAKER_ERROR_RATE: z.coerce.number().min(1).max(100).default(50),
  /** The fewest calls in the window before BREAKER_ERROR_RATE may open a circuit. */
  BREAKER_MIN_REQUESTS: z.coerce.number().int().min(1).default(20),
  /** The window over which BREAKER_ERROR_RATE is measured. */
  BREAKER_WINDOW_SECONDS: z.coerce.number().int().positive().default(30),
  /** How long an open circuit stays open before one trial call may close it (half-open). */
  BREAKER_COOLDOWN_SECONDS: z.coerce.number().positive().default(30),
  /** How long an isolate keeps the shared breaker and latency state before reading Redis again. */
  HEALTH_CACHE_MS: z.coerce.number().int().min(0).max(10_000).default(1_000),
  /** How the cron checks each provider: {"groq":"models","my-llm":"completion","other":"off"}; default "models" (GET /models). */
  PROVIDER_PROBES: jsonSetting(z.record(z.string(), z.enum(["models", "completion", "off"]))).optional(),
  /** The longest one provider probe of the cron waits. */
  PROBE_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  /** How a tier picks among its healthy models: {"2":"latency","4":"weighted"}; default "cost" (cheapest first). */
  TIER_STRATEGIES: jsonSetting(z.partialRecord(z.enum(["1", "2", "3", "4", "5"]), z.enum(["cost", "latency", "weighted"]))).optional(),
  /** Largest request body accepted (4 MiB by default); a larger one gets 413. */
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(4 * 1024 * 1024),
  /** Output tokens assumed for a cost estimate when the request sets no max_tokens. */
  ESTIMATED_OUTPUT_TOKENS: z.coerce.number().int().positive().default(512),
  /** The most choices (`n`) one request may ask for. */
  MAX_CHOICES: z.coerce.number().int().min(1).max(128).default(8),
  /** The most output tokens (`max_tokens`, `max_completion_tokens`) one request may ask for. */
  MAX_OUTPUT_TOKENS: z.coerce.number().int().positive().default(131_072),
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
  /**
   * on: a turn of a session stays on the model that holds its prompt cache (tool-result continuations always; new user
   * turns unless a harder turn or the cache-regret gate moves them; docs/sessions.md). off: every turn is routed on its own.
   */
  SESSION_AFFINITY: z.enum(["on", "off"]).default("on"),
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
  /**
   * Bearer key for the admin routes (/v1/audit, /v1/admin/*, /dashboard, /metrics, the detail of GET /health),
   * 16+ characters. `npm run dev` makes one. A bad one closes the admin routes; chat still serves.
   */
  ADMIN_API_KEY: z.string().min(16, "ADMIN_API_KEY must be at least 16 characters").optional(),
  /** false: nothing is counted (the bench measures what counting costs with it). */
  METRICS_ENABLED: z.enum(["true", "false"]).default("true"),
  /** A bearer token for GET /metrics alone, so a scraper need not hold the admin key. */
  METRICS_TOKEN: z.string().min(16, "METRICS_TOKEN must be at least 16 characters").optional(),
  /** Where the every-minute cron pushes the metrics (a Prometheus Pushgateway's base URL); unset: no push. */
  PUSHGATEWAY_URL: z.url().optional(),
  /** Where the cron also sends them as OTLP/HTTP JSON (a collector's /v1/metrics); unset: not sent. */
  OTLP_METRICS_URL: z.url().optional(),
  /** The day's SLO the scheduled audit checks (and alerts on): the router's overhead p99, in ms. */
  SLO_OVERHEAD_P99_MS: z.coerce.number().positive().default(50),
  /** The day's SLO for the cache hit rate (0..1) of requests that could hit; 0: not checked. */
  SLO_CACHE_HIT_RATE: z.coerce.number().min(0).max(1).default(0),
  /** The day's SLO for the share of 5xx answers (0..1). */
  SLO_ERROR_RATE: z.coerce.number().min(0).max(1).default(0.01),
  /**
   * Origins allowed to call the router from a browser, comma-separated and exact (`https://app.example.com`);
   * unset: CORS off.
   */
  CORS_ORIGINS: z.string().optional(),
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
});

/** Every variable the worker reads; `.dev.vars.example` explains each. */
export const ENV_VARIABLES = EnvSchema.keyof().options;

export type Provider = {
  id: string;
  /** The wire format it speaks: its adapter in src/providers/ (OpenRouter, Groq and custom providers speak OpenAI's). */
  api: "openai-compatible";
  baseUrl: string;
  apiKey: string | undefined;
  /** The variable an operator sets to make this provider usable. */
  configureWith: string;
  configured: boolean;
};

export type BreakerSettings = {
  /** 0: breakers off. */
  failures: number;
  errorRatePct: number;
  minRequests: number;
  windowMs: number;
  cooldownMs: number;
  /** Isolate-local caching of the shared state. */
  viewTtlMs: number;
};
export type ProbeKind = "models" | "completion" | "off";

/** The day's SLOs the scheduled audit checks. */
export type SloTargets = { overheadP99Ms: number; cacheHitRate: number; errorRate: number };

export type Config = {
  providers: ReadonlyMap<string, Provider>;
  registry: readonly Model[];
  /** The embedding models, in order: `auto` is the first a key may use. */
  embeddingModels: readonly EmbeddingModel[];
  /** The scorer's weights: the shipped model, or MODEL_JSON's. */
  routerModel: RouterModel;
  /** Names clients send for the router's models (routing/aliases.ts). */
  aliases: readonly Alias[];
  messagesMaxTokens: number;
  responsesRetentionDays: number;
  thresholds: Thresholds;
  upstreamTimeoutMs: number;
  retry: { retries: number; baseDelayMs: number; maxTotalMs: number; maxModels: number };
  breaker: BreakerSettings;
  probes: { kinds: Readonly<Record<string, ProbeKind>>; timeoutMs: number };
  strategies: Readonly<Record<Tier, Strategy>>;
  maxBodyBytes: number;
  estimatedOutputTokens: number;
  maxChoices: number;
  maxOutputTokens: number;
  redis: { url: string; token: string; timeoutMs: number } | undefined;
  postgres: { url: string; httpEndpoint: string | undefined; timeoutMs: number } | undefined;
  keyPrefix: string;
  cache: { ttlSeconds: number; maxTtlSeconds: number; maxEntryBytes: number; localTtlSeconds: number; localMaxEntries: number };
  audit: { mode: "best-effort" | "strict"; hmacKey: string | undefined; flushBatch: number; holdLimit: number; queueMaxAgeSeconds: number };
  adminApiKey: string | undefined;
  metricsToken: string | undefined;
  metricsEnabled: boolean;
  /** SESSION_AFFINITY: whether a session's remembered model steers its turns. */
  sessionAffinity: boolean;
  slo: SloTargets;
  push: { pushgatewayUrl: string | undefined; otlpUrl: string | undefined };
  requireApiKey: boolean | undefined;
  failedKeyChecksPerMinute: number;
  corsOrigins: readonly string[];
  /** Settings that were malformed and are ignored, each with why (`npm run dev` prints them; /health shows them to the admin). */
  problems: readonly string[];
  /** Every configured secret, redacted from whatever a client, a log or an audit row may see. */
  secrets: readonly string[];
};

/**
 * Settings the router cannot run safely without: a bad one stops it (every request
 * answers 500 `misconfigured`). Any other bad setting is dropped for its default (or
 * off), reported in `problems`, and refused only where it matters (a bad ADMIN_API_KEY
 * closes the admin routes; chat still serves).
 */
const VITAL = new Set([
  "DATABASE_URL",
  "AUDIT_HMAC_KEY",
  "UPSTASH_REDIS_REST_URL",
  "UPSTASH_REDIS_REST_TOKEN",
  "AUDIT_MODE",
  "MODELS_JSON",
  "EMBEDDING_MODELS_JSON",
  "CUSTOM_PROVIDERS",
]);

function parseEnv(bindings: Bindings): { env: z.infer<typeof EnvSchema>; problems: string[] } {
  const given = blankAsMissing(bindings);
  const problems: string[] = [];
  for (;;) {
    const parsed = EnvSchema.safeParse(given);
    if (parsed.success) return { env: parsed.data, problems };
    const name = String(parsed.error.issues[0]?.path[0] ?? "");
    if (name === "" || VITAL.has(name) || !(name in given)) throw parsed.error;
    problems.push(`${name}: ${parsed.error.issues[0]!.message}; ignored`);
    delete given[name];
  }
}

export function parseConfig(bindings: Bindings): Config {
  const { env, problems } = parseEnv(bindings);
  const providers = new Map<string, Provider>();
  const builtIn = (id: string, baseUrl: string, apiKey: string | undefined, keyName: string): void => {
    providers.set(id, { id, api: "openai-compatible", baseUrl, apiKey, configureWith: keyName, configured: apiKey !== undefined });
  };
  builtIn("openrouter", env.OPENROUTER_BASE_URL, env.OPENROUTER_API_KEY, "OPENROUTER_API_KEY");
  builtIn("groq", env.GROQ_BASE_URL, env.GROQ_API_KEY, "GROQ_API_KEY");
  for (const custom of parseCustomProviders(env.CUSTOM_PROVIDERS)) {
    const key = custom.api_key_binding ? bindings[custom.api_key_binding] : undefined;
    providers.set(custom.id, {
      id: custom.id,
      api: "openai-compatible",
      baseUrl: custom.base_url,
      apiKey: typeof key === "string" && key !== "" ? key : undefined,
      configureWith: "CUSTOM_PROVIDERS",
      configured: true,
    });
  }
  const registry = loadRegistry(env.MODELS_JSON);
  const embeddingModels = loadEmbeddingModels(env.EMBEDDING_MODELS_JSON);
  for (const model of [...registry, ...embeddingModels]) {
    if (!providers.has(model.provider)) {
      throw new Error(`MODELS_JSON or EMBEDDING_MODELS_JSON: model ${model.id} names unknown provider ${model.provider}`);
    }
  }
  if (env.DATABASE_URL !== undefined && env.AUDIT_HMAC_KEY === undefined) {
    throw new Error("AUDIT_HMAC_KEY must be set when DATABASE_URL is: audit records are signed with it");
  }
  if (env.AUDIT_MODE === "strict" && env.DATABASE_URL === undefined) {
    throw new Error("AUDIT_MODE=strict needs DATABASE_URL: there is nowhere durable to write audit records");
  }
  if ((env.UPSTASH_REDIS_REST_URL === undefined) !== (env.UPSTASH_REDIS_REST_TOKEN === undefined)) {
    throw new Error("UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN go together");
  }
  return {
    providers,
    registry,
    embeddingModels,
    routerModel: env.MODEL_JSON === undefined ? DEFAULT_MODEL : decodeModel(env.MODEL_JSON, "custom"),
    aliases: parseAliases(env.MODEL_ALIASES),
    messagesMaxTokens: env.MESSAGES_MAX_TOKENS,
    responsesRetentionDays: env.RESPONSES_RETENTION_DAYS,
    thresholds: biasThresholds(parseThresholds(env.TIER_THRESHOLDS ?? env.MODEL_JSON?.thresholds?.join(",") ?? DEFAULT_THRESHOLDS), env.ROUTER_QUALITY_BIAS),
    upstreamTimeoutMs: env.UPSTREAM_TIMEOUT_MS,
    retry: {
      retries: env.UPSTREAM_RETRIES,
      baseDelayMs: env.UPSTREAM_RETRY_BASE_MS,
      maxTotalMs: env.UPSTREAM_MAX_TOTAL_MS,
      maxModels: env.FALLBACK_MAX_MODELS,
    },
    breaker: {
      failures: env.BREAKER_FAILURES,
      errorRatePct: env.BREAKER_ERROR_RATE,
      minRequests: env.BREAKER_MIN_REQUESTS,
      windowMs: env.BREAKER_WINDOW_SECONDS * 1_000,
      cooldownMs: Math.round(env.BREAKER_COOLDOWN_SECONDS * 1_000),
      viewTtlMs: env.HEALTH_CACHE_MS,
    },
    probes: { kinds: env.PROVIDER_PROBES ?? {}, timeoutMs: env.PROBE_TIMEOUT_MS },
    strategies: Object.fromEntries(TIERS.map((tier) => [tier, env.TIER_STRATEGIES?.[String(tier) as "1"] ?? "cost"])) as Record<Tier, Strategy>,
    maxBodyBytes: env.MAX_BODY_BYTES,
    estimatedOutputTokens: env.ESTIMATED_OUTPUT_TOKENS,
    maxChoices: env.MAX_CHOICES,
    maxOutputTokens: env.MAX_OUTPUT_TOKENS,
    redis:
      env.UPSTASH_REDIS_REST_URL && env.UPSTASH_REDIS_REST_TOKEN
        ? { url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, timeoutMs: env.REDIS_TIMEOUT_MS }
        : undefined,
    postgres: env.DATABASE_URL ? { url: env.DATABASE_URL, httpEndpoint: env.NEON_HTTP_ENDPOINT, timeoutMs: env.POSTGRES_TIMEOUT_MS } : undefined,
    keyPrefix: env.KEY_PREFIX,
    cache: {
      ttlSeconds: env.CACHE_TTL_SECONDS,
      maxTtlSeconds: env.CACHE_MAX_TTL_SECONDS,
      maxEntryBytes: env.CACHE_MAX_ENTRY_BYTES,
      localTtlSeconds: env.CACHE_LOCAL_TTL_SECONDS,
      localMaxEntries: env.CACHE_LOCAL_MAX_ENTRIES,
    },
    audit: {
      mode: env.AUDIT_MODE,
      hmacKey: env.AUDIT_HMAC_KEY,
      flushBatch: env.AUDIT_FLUSH_BATCH,
      holdLimit: env.AUDIT_HOLD_LIMIT,
      queueMaxAgeSeconds: env.AUDIT_QUEUE_MAX_AGE_SECONDS,
    },
    adminApiKey: env.ADMIN_API_KEY,
    metricsToken: env.METRICS_TOKEN,
    metricsEnabled: env.METRICS_ENABLED === "true",
    sessionAffinity: env.SESSION_AFFINITY === "on",
    slo: { overheadP99Ms: env.SLO_OVERHEAD_P99_MS, cacheHitRate: env.SLO_CACHE_HIT_RATE, errorRate: env.SLO_ERROR_RATE },
    push: { pushgatewayUrl: env.PUSHGATEWAY_URL, otlpUrl: env.OTLP_METRICS_URL },
    corsOrigins: (env.CORS_ORIGINS ?? "")
      .split(",")
      .map((origin) => origin.trim())
      .filter((origin) => origin !== ""),
    requireApiKey: env.REQUIRE_API_KEY === undefined ? undefined : env.REQUIRE_API_KEY === "true",
    failedKeyChecksPerMinute: env.FAILED_KEY_CHECKS_PER_MINUTE,
    problems,
    secrets: [...secretsOf(env, providers), ...malformedSecrets(bindings, problems)],
  };
}

function secretsOf(env: z.infer<typeof EnvSchema>, providers: ReadonlyMap<string, Provider>): string[] {
  const secrets = [...providers.values()].map((provider) => provider.apiKey);
  secrets.push(env.ADMIN_API_KEY, env.AUDIT_HMAC_KEY, env.UPSTASH_REDIS_REST_TOKEN, env.METRICS_TOKEN);
  if (env.DATABASE_URL !== undefined) {
    const password = /^postgres(?:ql)?:\/\/[^:@/]*:([^@/]+)@/.exec(env.DATABASE_URL)?.[1];
    secrets.push(env.DATABASE_URL, password, password === undefined ? undefined : safeDecode(password));
  }
  return secrets.filter((secret): secret is string => secret !== undefined && secret !== "");
}

/** A secret that was too short to use is still a secret: keep it out of every message. */
function malformedSecrets(bindings: Bindings, problems: readonly string[]): string[] {
  return problems
    .map((problem) => problem.slice(0, problem.indexOf(":")))
    .filter((name) => /KEY|TOKEN|SECRET/.test(name))
    .map((name) => bindings[name])
    .filter((value): value is string => typeof value === "string" && value !== "");
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function parseCustomProviders(json: string | undefined): z.infer<typeof CustomProviderSchema>[] {
  if (json === undefined || json.trim() === "") return [];
  return z.array(CustomProviderSchema).parse(JSON.parse(json));
}

/** `.dev.vars` lines like `GROQ_API_KEY=` mean "not set", not "set to nothing". */
function blankAsMissing(bindings: Bindings): Bindings {
  const out: Bindings = {};
  for (const [name, value] of Object.entries(bindings)) {
    if (value !== "") out[name] = value;
  }
  return out;
}
