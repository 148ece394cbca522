/** Settings of the providers and the models they serve, and the providers, registry and embedding models they make. */
import * as z from "zod";
import { type EmbeddingModel, loadEmbeddingModels } from "../routing/embedding-models.ts";
import { loadRegistry, type Model } from "../routing/registry.ts";

/** An AWS region's name: its partition's area, a direction, a number (`us-east-1`, `ap-southeast-2`, `us-gov-west-1`, `eusc-de-east-1`). */
const AWS_REGION_PATTERN =
  /^(?:us|eu|ap|sa|ca|me|af|il|mx|cn|us-gov|us-iso|us-isob|eusc-de)-(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-[1-9]$/;

export const ProviderSettings = z.object({
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
  /** Anthropic's API base URL (`/v1/messages` is appended); point it elsewhere to test. */
  ANTHROPIC_BASE_URL: z.url().default("https://api.anthropic.com"),
  /**
   * Anthropic's API key (a secret); Anthropic serves the Claude models of the built-in registry natively (tiers 3-5),
   * and a Messages request routed to one goes as the client sent it (docs/providers.md).
   */
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  /**
   * The AWS access key id Bedrock's calls are signed with (SigV4; a secret). With AWS_SECRET_ACCESS_KEY it makes
   * `bedrock` usable: it serves the built-in registry's Claude models (`bedrock/claude-…`) at Bedrock's own prices.
   * The key's IAM policy needs `bedrock:InvokeModel` and `bedrock:InvokeModelWithResponseStream` on those models.
   */
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  /** The AWS secret access key that goes with AWS_ACCESS_KEY_ID (a secret). */
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** A session token, when the access key is a temporary one (STS; a secret). */
  AWS_SESSION_TOKEN: z.string().min(1).optional(),
  /** The AWS region whose Bedrock is called (`us-east-1`, `eu-central-1`, ...). A value that is not a region stops the router. */
  AWS_REGION: z.string().regex(AWS_REGION_PATTERN, "must be an AWS region, like us-east-1 or eu-central-1").default("us-east-1"),
  /** Bedrock's runtime base URL, for tests and local development; by default `https://bedrock-runtime.<AWS_REGION>.amazonaws.com`. */
  BEDROCK_BASE_URL: z.url().optional(),
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
   * whose prompt is longer) and `price_read_on` (a date or a version), an optional `weight` for the weighted strategy, and an optional `family` (the maker's name of the model, by default the
   * provider's id after its last `/`: a fallback tries the same family at another provider first).
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
});

export type Provider = {
  id: string;
  /** The wire format it speaks: its adapter in src/providers/ (OpenRouter, Groq and custom providers speak OpenAI's; Anthropic its Messages API; Bedrock its Converse API). */
  api: "openai-compatible" | "anthropic" | "bedrock";
  baseUrl: string;
  apiKey: string | undefined;
  /** The variable an operator sets to make this provider usable. */
  configureWith: string;
  configured: boolean;
  /** The AWS credential and region a `bedrock` provider signs its calls with (SigV4). */
  aws?: AwsCredential;
};

/** What a SigV4 signature needs: the key pair, the session token of a temporary key, and the region. */
export type AwsCredential = { accessKeyId: string; secretAccessKey: string; sessionToken: string | undefined; region: string };

export type ProviderConfig = {
  providers: ReadonlyMap<string, Provider>;
  registry: readonly Model[];
  /** The embedding models, in order: `auto` is the first a key may use. */
  embeddingModels: readonly EmbeddingModel[];
};

const CustomProviderSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, "lower-case letters, digits, _ and -"),
  base_url: z.url(),
  /** Name of the binding (a wrangler secret) that holds this provider's key, if it needs one. */
  api_key_binding: z.string().min(1).optional(),
});

/**
 * The built-in and custom providers and the models they serve; `bindings` (the worker's) hold each custom
 * provider's key. Throws on a bad CUSTOM_PROVIDERS, MODELS_JSON or EMBEDDING_MODELS_JSON, or a model of an unknown provider.
 */
export function providerConfig(env: z.infer<typeof ProviderSettings>, bindings: Readonly<Record<string, unknown>>): ProviderConfig {
  const providers = new Map<string, Provider>();
  const builtIn = (id: string, baseUrl: string, apiKey: string | undefined, keyName: string, api: Provider["api"] = "openai-compatible"): void => {
    providers.set(id, { id, api, baseUrl, apiKey, configureWith: keyName, configured: apiKey !== undefined });
  };
  builtIn("openrouter", env.OPENROUTER_BASE_URL, env.OPENROUTER_API_KEY, "OPENROUTER_API_KEY");
  builtIn("groq", env.GROQ_BASE_URL, env.GROQ_API_KEY, "GROQ_API_KEY");
  builtIn("anthropic", env.ANTHROPIC_BASE_URL, env.ANTHROPIC_API_KEY, "ANTHROPIC_API_KEY", "anthropic");
  providers.set("bedrock", bedrockProvider(env));
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
  return { providers, registry, embeddingModels };
}

/** Bedrock: configured when both halves of the AWS key are set; its calls signed for AWS_REGION. */
function bedrockProvider(env: z.infer<typeof ProviderSettings>): Provider {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = env;
  const provider: Provider = {
    id: "bedrock",
    api: "bedrock",
    baseUrl: env.BEDROCK_BASE_URL ?? `https://bedrock-runtime.${env.AWS_REGION}.amazonaws.com`,
    apiKey: undefined,
    configureWith: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    configured: accessKeyId !== undefined && secretAccessKey !== undefined,
  };
  if (accessKeyId !== undefined && secretAccessKey !== undefined) {
    provider.aws = { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN, region: env.AWS_REGION };
  }
  return provider;
}

function parseCustomProviders(json: string | undefined): z.infer<typeof CustomProviderSchema>[] {
  if (json === undefined || json.trim() === "") return [];
  return z.array(CustomProviderSchema).parse(JSON.parse(json));
}
