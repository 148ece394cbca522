/**
 * Which models the built-in registry holds, at which tier and with what abilities: everything
 * but their prices, which come from the catalog (prices.generated.ts, `npm run prices:generate`).
 */

export type Capability = "tools" | "json" | "vision" | "streaming";
export type Tier = 1 | 2 | 3 | 4 | 5;
export type ProviderId = "openrouter" | "groq" | "anthropic" | "azure-openai" | "bedrock" | "gemini" | "vertex" | "vertex-anthropic";

export type ModelSpec = {
  provider: ProviderId;
  /** The id the provider expects; the registry id is `<provider>/<upstream>` unless `name` is given. */
  upstream: string;
  /** The registry id's part after `<provider>/`, where the provider's own id is not one a client would write (Bedrock's). */
  name?: string;
  tier: Tier;
  context: number;
  capabilities: readonly Capability[];
  /** The maker's name of the model, where the provider's id is not it (see `familyOf` in registry.ts). */
  family?: string;
};

const ALL: Capability[] = ["tools", "json", "vision", "streaming"];
const TEXT: Capability[] = ["tools", "json", "streaming"];
const spec = (provider: ProviderId, upstream: string, tier: Tier, context: number, capabilities: Capability[], family?: string): ModelSpec => ({
  provider,
  upstream,
  tier,
  context,
  capabilities,
  ...(family === undefined ? {} : { family }),
});

/**
 * Anthropic's models at AWS Bedrock, by their global cross-region inference profiles: callable
 * from any commercial region, and listed below the regional profiles' price (`us.…`, `eu.…`,
 * dearer by a tenth; an operator who must keep data in one geography names those in MODELS_JSON).
 * Bedrock's own prices, never Anthropic's.
 */
const BEDROCK_CLAUDE: readonly ModelSpec[] = [
  { ...spec("bedrock", "global.anthropic.claude-haiku-4-5-20251001-v1:0", 3, 200_000, ALL), name: "claude-haiku-4.5" },
  { ...spec("bedrock", "global.anthropic.claude-sonnet-5-v1:0", 4, 1_000_000, ALL), name: "claude-sonnet-5" },
  { ...spec("bedrock", "global.anthropic.claude-opus-5-5", 5, 1_000_000, ALL), name: "claude-opus-5.5" },
];

/**
 * Anthropic's models on Vertex AI, by Vertex's model ids: Haiku 4.5's dated (`@20251001`) as Vertex
 * names it, the later ones plain as Vertex has named them since Opus 4.6. Called at the `global`
 * endpoint by default (VERTEX_REGION), where Google bills Anthropic's list prices (a regional
 * endpoint costs a tenth more: give such prices in MODELS_JSON).
 */
const VERTEX_CLAUDE: readonly ModelSpec[] = [
  { ...spec("vertex-anthropic", "claude-haiku-4-5@20251001", 3, 200_000, ALL), name: "claude-haiku-4.5" },
  { ...spec("vertex-anthropic", "claude-sonnet-5", 4, 1_000_000, ALL), name: "claude-sonnet-5" },
  { ...spec("vertex-anthropic", "claude-opus-5-5", 5, 1_000_000, ALL), name: "claude-opus-5.5" },
];

/**
 * The built-in chat models. Groq serves tiers 1-3: its catalog ends at Kimi K2 and gpt-oss-120b,
 * so tiers 4 and 5 are OpenRouter's, each with Anthropic's, OpenAI's and Google's model. The model
 * makers serve them again under their own ids: Anthropic its Claude models (ids as Anthropic names
 * them), Azure OpenAI the GPT models (a deployment per model: AZURE_OPENAI_DEPLOYMENTS), Google the
 * Gemini models, on AI Studio (`gemini`) and Vertex AI (`vertex`), and AWS Bedrock and Vertex AI
 * (`vertex-anthropic`) the Claude models.
 * Context windows are the catalog's where it gives one, else the provider's documentation.
 */
export const DEFAULT_MODEL_SPECS: readonly ModelSpec[] = [
  spec("groq", "llama-3.1-8b-instant", 1, 131_072, TEXT, "llama-3.1-8b-instruct"),
  spec("groq", "openai/gpt-oss-20b", 1, 131_072, TEXT),
  spec("openrouter", "meta-llama/llama-3.1-8b-instruct", 1, 131_072, TEXT),
  spec("openrouter", "mistralai/mistral-nemo", 1, 131_072, TEXT),
  spec("groq", "meta-llama/llama-4-scout-17b-16e-instruct", 2, 131_072, ALL),
  spec("openrouter", "google/gemini-2.5-flash-lite", 2, 1_048_576, ALL),
  spec("openrouter", "openai/gpt-4o-mini", 2, 128_000, ALL),
  spec("openrouter", "openai/gpt-6-luna", 2, 1_050_000, ALL),
  spec("azure-openai", "gpt-4o-mini", 2, 128_000, ALL),
  spec("azure-openai", "gpt-6-luna", 2, 1_050_000, ALL),
  spec("groq", "openai/gpt-oss-120b", 3, 131_072, TEXT),
  spec("groq", "llama-3.3-70b-versatile", 3, 131_072, TEXT),
  spec("groq", "moonshotai/kimi-k2-instruct", 3, 131_072, TEXT),
  spec("openrouter", "deepseek/deepseek-v4-pro", 3, 1_000_000, TEXT),
  spec("openrouter", "anthropic/claude-haiku-4.5", 3, 200_000, ALL),
  spec("anthropic", "claude-haiku-4-5", 3, 200_000, ALL, "claude-haiku-4.5"),
  spec("openrouter", "google/gemini-3.5-flash", 4, 1_048_576, ALL),
  spec("openrouter", "anthropic/claude-sonnet-5", 4, 1_000_000, ALL),
  spec("anthropic", "claude-sonnet-5", 4, 1_000_000, ALL),
  spec("openrouter", "openai/gpt-6-sol", 4, 1_050_000, ALL),
  spec("azure-openai", "gpt-6-sol", 4, 1_050_000, ALL),
  spec("openrouter", "google/gemini-3.1-pro-preview", 5, 1_048_576, ALL),
  spec("openrouter", "anthropic/claude-opus-5.5", 5, 1_000_000, ALL),
  spec("anthropic", "claude-opus-5-5", 5, 1_000_000, ALL, "claude-opus-5.5"),
  spec("openrouter", "openai/gpt-5.5", 5, 1_050_000, ALL),
  spec("azure-openai", "gpt-5.5", 5, 1_050_000, ALL),
  ...BEDROCK_CLAUDE,
  ...VERTEX_CLAUDE,
  ...(["gemini", "vertex"] as const).flatMap((google) => [
    spec(google, "gemini-2.5-flash-lite", 2, 1_048_576, ALL),
    spec(google, "gemini-3.5-flash", 4, 1_048_576, ALL),
    spec(google, "gemini-3.1-pro-preview", 5, 1_048_576, ALL),
  ]),
];

/**
 * Providers the catalog prices under another's name: Google's models cost the same on AI Studio
 * and on Vertex AI (genai-prices has one `google` provider, which `gemini` and `vertex` both match);
 * Azure OpenAI bills OpenAI's list prices, and the catalog's `azure` holds no GPT-4o or later model.
 * Claude on Vertex (global endpoint) bills Anthropic's list: the catalog's `google` has some Claude
 * models at the same prices but not Sonnet 5 or Haiku 4.5, nor any 1-hour cache write price.
 */
export const PRICED_AS: Readonly<Record<string, string>> = {
  gemini: "google",
  vertex: "google",
  "vertex-anthropic": "anthropic",
  "azure-openai": "openai",
};

/** The built-in embedding models' provider and upstream ids (their other fields are in embedding-models.ts). */
export const DEFAULT_EMBEDDING_UPSTREAMS: readonly { provider: ProviderId; upstream: string }[] = [
  { provider: "openrouter", upstream: "openai/text-embedding-3-small" },
  { provider: "openrouter", upstream: "openai/text-embedding-3-large" },
];

/** The catalog's providers whose model names clients send bare (`gpt-4.1`, `claude-opus-4-5`, `gemini-2.5-pro`), in the order a name is looked up. */
export const CLIENT_NAME_PROVIDERS = ["openai", "anthropic", "google", "mistral", "deepseek", "x-ai"] as const;
