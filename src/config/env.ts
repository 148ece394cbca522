/**
 * The worker's environment: one zod schema, parsed once per isolate into a typed config.
 * EnvSchema joins the settings of each area, each declared (and documented) in its own file
 * with what it becomes in Config; this file holds what crosses areas: which bad settings
 * stop the router, the settings that need each other, and the secrets to redact.
 */
import * as z from "zod";
import { type AccessConfig, AccessSettings, accessConfig } from "./access.ts";
import { type AuditConfig, AuditSettings, auditConfig } from "./audit.ts";
import { type ObservabilityConfig, ObservabilitySettings, observabilityConfig } from "./observability.ts";
import { type Provider, type ProviderConfig, ProviderSettings, providerConfig } from "./providers.ts";
import { type RequestLimitConfig, RequestLimitSettings, requestLimitConfig } from "./request-limits.ts";
import { type RoutingConfig, RoutingSettings, routingConfig } from "./routing.ts";
import { type StorageConfig, StorageSettings, storageConfig } from "./storage.ts";
import { type TenantKeyConfig, TenantKeySettings, tenantKeyConfig } from "./tenant-keys.ts";
import { type UpstreamConfig, UpstreamSettings, upstreamConfig } from "./upstream.ts";

/** What wrangler hands the worker: `[vars]` from wrangler.toml, secrets, `.dev.vars` locally. */
export type Bindings = Record<string, unknown>;

/** Every setting, area by area; docs/configuration.md is made from their comments (scripts/docs/configuration.ts). */
export const EnvSchema = z.object({
  ...ProviderSettings.shape,
  ...RoutingSettings.shape,
  ...UpstreamSettings.shape,
  ...RequestLimitSettings.shape,
  ...StorageSettings.shape,
  ...AuditSettings.shape,
  ...AccessSettings.shape,
  ...TenantKeySettings.shape,
  ...ObservabilitySettings.shape,
});
type Env = z.infer<typeof EnvSchema>;

/** Every variable the worker reads; `.dev.vars.example` explains each. */
export const ENV_VARIABLES = EnvSchema.keyof().options;

export type Config = ProviderConfig &
  RoutingConfig &
  UpstreamConfig &
  RequestLimitConfig &
  StorageConfig &
  AuditConfig &
  AccessConfig &
  TenantKeyConfig &
  ObservabilityConfig & {
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
  "AWS_REGION",
  // A provider's own definition, as CUSTOM_PROVIDERS is: a typo'd region must not send prompts to another.
  "VERTEX_SERVICE_ACCOUNT_JSON",
  "VERTEX_PROJECT",
  "VERTEX_REGION",
  "AZURE_OPENAI_DEPLOYMENTS",
  "PROVIDER_KEYS_KEK",
  "PROVIDER_KEYS_KEK_PREVIOUS",
]);

function parseEnv(bindings: Bindings): { env: Env; problems: string[] } {
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
  const providers = providerConfig(env, bindings);
  requireCompanions(env);
  return {
    ...providers,
    ...routingConfig(env),
    ...upstreamConfig(env),
    ...requestLimitConfig(env),
    ...storageConfig(env),
    ...auditConfig(env),
    ...accessConfig(env),
    ...tenantKeyConfig(env),
    ...observabilityConfig(env),
    problems,
    secrets: [...secretsOf(env, providers.providers), ...malformedSecrets(bindings, problems)],
  };
}

/** Settings of different areas that only work together: one without the other stops the router. */
function requireCompanions(env: Env): void {
  if (env.DATABASE_URL !== undefined && env.AUDIT_HMAC_KEY === undefined) {
    throw new Error("AUDIT_HMAC_KEY must be set when DATABASE_URL is: audit records are signed with it");
  }
  if (env.AUDIT_MODE === "strict" && env.DATABASE_URL === undefined) {
    throw new Error("AUDIT_MODE=strict needs DATABASE_URL: there is nowhere durable to write audit records");
  }
  if ((env.UPSTASH_REDIS_REST_URL === undefined) !== (env.UPSTASH_REDIS_REST_TOKEN === undefined)) {
    throw new Error("UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN go together");
  }
}

function secretsOf(env: Env, providers: ReadonlyMap<string, Provider>): string[] {
  const secrets = [...providers.values()].map((provider) => provider.apiKey);
  // A service account's key is a secret whole, as one line of base64, and line by line.
  const key = env.VERTEX_SERVICE_ACCOUNT_JSON?.privateKey;
  if (key !== undefined) secrets.push(key, ...pemSecrets(key));
  secrets.push(env.ADMIN_API_KEY, env.AUDIT_HMAC_KEY, env.UPSTASH_REDIS_REST_TOKEN, env.METRICS_TOKEN, env.PROVIDER_KEYS_KEK, env.PROVIDER_KEYS_KEK_PREVIOUS);
  secrets.push(env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN);
  if (env.DATABASE_URL !== undefined) {
    const password = /^postgres(?:ql)?:\/\/[^:@/]*:([^@/]+)@/.exec(env.DATABASE_URL)?.[1];
    secrets.push(env.DATABASE_URL, password, password === undefined ? undefined : safeDecode(password));
  }
  return secrets.filter((secret): secret is string => secret !== undefined && secret !== "");
}

/** A PEM key's body, whole and line by line: a log may carry it either way. */
export function pemSecrets(pem: string): string[] {
  const lines = pem.split("\n").filter((line) => line !== "" && !line.startsWith("-----"));
  return [lines.join(""), ...lines];
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

/** `.dev.vars` lines like `GROQ_API_KEY=` mean "not set", not "set to nothing". */
function blankAsMissing(bindings: Bindings): Bindings {
  const out: Bindings = {};
  for (const [name, value] of Object.entries(bindings)) {
    if (value !== "") out[name] = value;
  }
  return out;
}
