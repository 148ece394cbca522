/** Settings of the providers and the models they serve, and the providers, registry and embedding models they make. */
import * as z from "zod";
import { type EmbeddingModel, loadEmbeddingModels } from "../routing/embedding-models.ts";
import { loadRegistry, type Model } from "../routing/registry.ts";
import { ServiceAccountJson, type VertexAccount, VertexProject, VertexRegion, vertexHost } from "./vertex.ts";

/** An AWS region's name: its partition's area, a direction, a number (`us-east-1`, `ap-southeast-2`, `us-gov-west-1`, `eusc-de-east-1`). */
export const AWS_REGION_PATTERN =
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
  /** Google AI Studio's API base URL (the Gemini API); point it elsewhere to test. */
  GEMINI_BASE_URL: z.url().default("https://generativelanguage.googleapis.com"),
  /** A Gemini API key from Google AI Studio (a secret); Gemini serves the Gemini models of tiers 2, 4 and 5 of the built-in registry. */
  GEMINI_API_KEY: z.string().min(1).optional(),
  /**
   * Vertex AI: a service account's JSON key file, whole (a secret; the router signs its access-token requests with the
   * key's `private_key`). Vertex serves the Gemini models of tiers 2, 4 and 5 of the built-in registry (`vertex/…`) and
   * the Claude models of tiers 3-5 (`vertex-anthropic/…`, once enabled in the project's Model Garden). The account needs
   * the Vertex AI User role. A malformed one stops the router, naming what is wrong.
   */
  VERTEX_SERVICE_ACCOUNT_JSON: ServiceAccountJson.optional(),
  /** The Google Cloud project Vertex AI bills; by default the service account's own `project_id`. */
  VERTEX_PROJECT: VertexProject.optional(),
  /**
   * The Vertex AI region the models are called in (`global`, `us-central1`, `europe-west4`, ...: one of Google's
   * generative AI locations, checked against a list, so a typo stops the router instead of sending prompts elsewhere).
   */
  VERTEX_REGION: VertexRegion.default("global"),
  /** Vertex AI's host, instead of the region's (`https://{region}-aiplatform.googleapis.com`); for tests and development. */
  VERTEX_BASE_URL: z.url().optional(),
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
  /** The wire format it speaks: its adapter in src/providers/ (OpenRouter, Groq and custom providers speak OpenAI's; Anthropic its Messages API; Bedrock its Converse API). */
  api: "openai-compatible" | "anthropic" | "azure-openai" | "bedrock" | "gemini" | "vertex" | "vertex-anthropic";
  baseUrl: string;
  /**
   * The credential the call is made with: the router's (a secret setting), or, for one request, its tenant's own
   * (security/provider-credentials.ts), with `credentialOwner` set. Every adapter reads it here and nowhere else.
   */
  apiKey: string | undefined;
  /** Vertex AI's service account, project and region (`api: "vertex"` and `"vertex-anthropic"` only). */
  vertex?: VertexAccount;
  /** Set when the credential is a tenant's own: the tenant's id. The router's credential leaves it unset. */
  credentialOwner?: string;
  /** Azure OpenAI's deployments and API version (api `azure-openai` only). */
  azure?: AzureSettings;
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
  providers.set("gemini", {
    id: "gemini",
    api: "gemini",
    baseUrl: env.GEMINI_BASE_URL,
    apiKey: env.GEMINI_API_KEY,
    configureWith: "GEMINI_API_KEY",
    configured: env.GEMINI_API_KEY !== undefined,
  });
  // Gemini and Claude on Vertex: one account, two providers, since each speaks its publisher's format (its own adapter).
  providers.set("vertex", vertexProvider(env, "vertex"));
  providers.set("vertex-anthropic", vertexProvider(env, "vertex-anthropic"));
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

/**
 * Vertex AI: usable once it has a service account and a project (VERTEX_PROJECT, or the account's own). `vertex`
 * calls Google's models, `vertex-anthropic` Anthropic's (Claude), from the same settings.
 */
function vertexProvider(env: z.infer<typeof ProviderSettings>, id: "vertex" | "vertex-anthropic"): Provider {
  const serviceAccount = env.VERTEX_SERVICE_ACCOUNT_JSON;
  const project = env.VERTEX_PROJECT ?? serviceAccount?.projectId;
  if (serviceAccount !== undefined && project === undefined) {
    throw new Error("VERTEX_PROJECT must be set: the service account's key file names no project_id");
  }
  const region = env.VERTEX_REGION;
  return {
    id,
    api: id,
    baseUrl: env.VERTEX_BASE_URL ?? vertexHost(region),
    apiKey: undefined,
    configureWith: "VERTEX_SERVICE_ACCOUNT_JSON",
    configured: serviceAccount !== undefined,
    ...(serviceAccount === undefined || project === undefined ? {} : { vertex: { serviceAccount, project, region } }),
  };
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
