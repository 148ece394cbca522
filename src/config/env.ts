/** The worker's environment: one zod schema, parsed once per isolate into a typed config. */
import { z } from "zod";
import { loadRegistry, type Model } from "./registry.ts";
import { parseThresholds, type Thresholds } from "./policy.ts";

/** What wrangler hands the worker: `[vars]` from wrangler.toml, secrets, `.dev.vars` locally. */
export type Bindings = Record<string, unknown>;

const CustomProviderSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, "lower-case letters, digits, _ and -"),
  base_url: z.url(),
  /** Name of the binding (a wrangler secret) that holds this provider's key, if it needs one. */
  api_key_binding: z.string().min(1).optional(),
});

const EnvSchema = z.object({
  OPENROUTER_BASE_URL: z.url().default("https://openrouter.ai/api/v1"),
  OPENROUTER_API_KEY: z.string().min(1).optional(),
  GROQ_BASE_URL: z.url().default("https://api.groq.com/openai/v1"),
  GROQ_API_KEY: z.string().min(1).optional(),
  CUSTOM_PROVIDERS: z.string().optional(),
  MODELS_JSON: z.string().optional(),
  TIER_THRESHOLDS: z.string().default("0.12,0.3,0.55,0.78"),
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(4 * 1024 * 1024),
  /** Output tokens assumed for a cost estimate when the request sets no max_tokens. */
  ESTIMATED_OUTPUT_TOKENS: z.coerce.number().int().positive().default(512),
});

/** Every variable the worker reads; `.dev.vars.example` explains each. */
export const ENV_VARIABLES = EnvSchema.keyof().options;

export type Provider = {
  id: string;
  baseUrl: string;
  apiKey: string | undefined;
  /** The variable an operator sets to make this provider usable. */
  configureWith: string;
  configured: boolean;
};

export type Config = {
  providers: ReadonlyMap<string, Provider>;
  registry: readonly Model[];
  thresholds: Thresholds;
  upstreamTimeoutMs: number;
  maxBodyBytes: number;
  estimatedOutputTokens: number;
};

const parsed = new WeakMap<object, Config>();

/** The config for these bindings, parsed on first use and then kept for the isolate's life. */
export function configFor(bindings: Bindings): Config {
  let config = parsed.get(bindings);
  if (config === undefined) {
    config = parseConfig(bindings);
    parsed.set(bindings, config);
  }
  return config;
}

export function parseConfig(bindings: Bindings): Config {
  const env = EnvSchema.parse(blankAsMissing(bindings));
  const providers = new Map<string, Provider>();
  const builtIn = (id: string, baseUrl: string, apiKey: string | undefined, keyName: string): void => {
    providers.set(id, { id, baseUrl, apiKey, configureWith: keyName, configured: apiKey !== undefined });
  };
  builtIn("openrouter", env.OPENROUTER_BASE_URL, env.OPENROUTER_API_KEY, "OPENROUTER_API_KEY");
  builtIn("groq", env.GROQ_BASE_URL, env.GROQ_API_KEY, "GROQ_API_KEY");
  for (const custom of parseCustomProviders(env.CUSTOM_PROVIDERS)) {
    const key = custom.api_key_binding ? bindings[custom.api_key_binding] : undefined;
    providers.set(custom.id, {
      id: custom.id,
      baseUrl: custom.base_url,
      apiKey: typeof key === "string" && key !== "" ? key : undefined,
      configureWith: "CUSTOM_PROVIDERS",
      configured: true,
    });
  }
  const registry = loadRegistry(env.MODELS_JSON);
  for (const model of registry) {
    if (!providers.has(model.provider)) {
      throw new Error(`MODELS_JSON: model ${model.id} names unknown provider ${model.provider}`);
    }
  }
  return {
    providers,
    registry,
    thresholds: parseThresholds(env.TIER_THRESHOLDS),
    upstreamTimeoutMs: env.UPSTREAM_TIMEOUT_MS,
    maxBodyBytes: env.MAX_BODY_BYTES,
    estimatedOutputTokens: env.ESTIMATED_OUTPUT_TOKENS,
  };
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
