/** Settings of the providers and the models they serve, and the providers, registry and embedding models they make. */
import * as z from "zod";
import { type EmbeddingModel, loadEmbeddingModels } from "../routing/embedding-models.ts";
import { loadRegistry, type Model } from "../routing/registry.ts";

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
  /**
   * Your Azure OpenAI resource's endpoint (`https://<resource>.openai.azure.com`); with AZURE_OPENAI_API_KEY it serves
   * the built-in registry's GPT models as `azure-openai/<model>` (docs/providers.md).
   */
  AZURE_OPENAI_ENDPOINT: z.url().optional(),
  /** The Azure OpenAI resource's key (a secret), sent as its `api-key` header. */
  AZURE_OPENAI_API_KEY: z.string().min(1).optional(),
  /**
   * Which deployment serves which model, as a JSON object from a registry model id (`azure-openai/gpt-4o-mini`) or the
   * model's upstream id (`gpt-4o-mini`) to the deployment's name: `{"gpt-4o-mini":"prod-mini"}`. A model with a deployment
   * is called at `/openai/deployments/<name>/chat/completions?api-version=...`; one without, at the v1 endpoint
   * (`/openai/v1/chat/completions`) with its id as the model. A bad value stops the router.
   */
  AZURE_OPENAI_DEPLOYMENTS: z.string().optional(),
  /**
   * The `api-version` of deployment calls (by default Azure's latest GA data-plane version); `v1` sends every call to
   * the v1 endpoint, a deployment's name as its model.
   */
  AZURE_OPENAI_API_VERSION: z
    .string()
    .regex(/^(v1|\d{4}-\d{2}-\d{2}(-preview)?)$/, "v1, or a date like 2024-10-21 (optionally -preview)")
    .default("2024-10-21"),
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
});

/** What the Azure OpenAI adapter needs besides the endpoint and key (providers/azure-openai/). */
export type AzureSettings = {
  /** Upstream model id → deployment name. */
  deployments: Readonly<Record<string, string>>;
  /** A dated `api-version`, or `v1`: every call to the v1 endpoint. */
  apiVersion: string;
};

/** Azure's endpoint while AZURE_OPENAI_ENDPOINT is unset (health shows it; nothing calls it). */
export const AZURE_PLACEHOLDER_ENDPOINT = "https://your-resource.openai.azure.com";

export type Provider = {
  id: string;
  /** The wire format it speaks: its adapter in src/providers/ (OpenRouter, Groq and custom providers speak OpenAI's). */
  api: "openai-compatible" | "azure-openai";
  baseUrl: string;
  /**
   * The credential the call is made with: the router's (a secret setting), or, for one request, its tenant's own
   * (security/provider-credentials.ts), with `credentialOwner` set. Every adapter reads it here and nowhere else.
   */
  apiKey: string | undefined;
  /** Set when the credential is a tenant's own: the tenant's id. The router's credential leaves it unset. */
  credentialOwner?: string;
  /**
   * A tenant's own credential that is more than a key (AWS's `{access_key_id, secret_access_key, region}`, GCP's
   * `{service_account, project, region}`), as the admin API took it; set with `credentialOwner`.
   */
  credential?: Readonly<Record<string, unknown>>;
  /** Azure OpenAI's deployments and API version (api `azure-openai` only). */
  azure?: AzureSettings;
  /** The variable an operator sets to make this provider usable. */
  configureWith: string;
  configured: boolean;
};

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
  // Registered either way, so its models can name it; usable once its endpoint and key are set (or a tenant's own are).
  providers.set("azure-openai", {
    id: "azure-openai",
    api: "azure-openai",
    // A placeholder until set: never called while the provider is not configured.
    baseUrl: env.AZURE_OPENAI_ENDPOINT ?? AZURE_PLACEHOLDER_ENDPOINT,
    apiKey: env.AZURE_OPENAI_API_KEY,
    configureWith: "AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY",
    configured: env.AZURE_OPENAI_ENDPOINT !== undefined && env.AZURE_OPENAI_API_KEY !== undefined,
  });
  const registry = loadRegistry(env.MODELS_JSON);
  const azure = providers.get("azure-openai")!;
  azure.azure = { deployments: azureDeployments(env.AZURE_OPENAI_DEPLOYMENTS, registry), apiVersion: env.AZURE_OPENAI_API_VERSION };
  const embeddingModels = loadEmbeddingModels(env.EMBEDDING_MODELS_JSON);
  for (const model of [...registry, ...embeddingModels]) {
    if (!providers.has(model.provider)) {
      throw new Error(`MODELS_JSON or EMBEDDING_MODELS_JSON: model ${model.id} names unknown provider ${model.provider}`);
    }
  }
  return { providers, registry, embeddingModels };
}

const DeploymentsSchema = z.record(z.string().min(1), z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "a deployment name: letters, digits, _ . -"));

/**
 * AZURE_OPENAI_DEPLOYMENTS keyed by upstream id, as the adapter looks them up: a key that is a registry id of an
 * Azure model becomes that model's upstream id. @throws naming the setting, on bad JSON or a bad name.
 */
function azureDeployments(json: string | undefined, registry: readonly Model[]): Record<string, string> {
  if (json === undefined || json.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error("AZURE_OPENAI_DEPLOYMENTS: not valid JSON (a JSON object from model id to deployment name)");
  }
  const checked = DeploymentsSchema.safeParse(parsed);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new Error(`AZURE_OPENAI_DEPLOYMENTS${issue.path.length > 0 ? `.${issue.path.join(".")}` : ""}: ${issue.message}`);
  }
  const deployments: Record<string, string> = {};
  for (const [id, deployment] of Object.entries(checked.data)) {
    const model = registry.find((entry) => entry.id === id && entry.provider === "azure-openai");
    deployments[model?.upstream_model ?? id] = deployment;
  }
  return deployments;
}

function parseCustomProviders(json: string | undefined): z.infer<typeof CustomProviderSchema>[] {
  if (json === undefined || json.trim() === "") return [];
  return z.array(CustomProviderSchema).parse(JSON.parse(json));
}
