/** The model registry: which models serve which tier, at what price, with what abilities. */
import * as z from "zod";
import { type PricedModel, usageMicros, usageUsd } from "./cost.ts";

export const TIERS = [1, 2, 3, 4, 5] as const;
export type Tier = (typeof TIERS)[number];
export const TIER_NAMES: Record<Tier, string> = {
  1: "trivial",
  2: "simple",
  3: "moderate",
  4: "complex",
  5: "frontier",
};

export const CapabilitySchema = z.enum(["tools", "json", "vision", "streaming"]);
export type Capability = z.infer<typeof CapabilitySchema>;

export const ModelSchema = z.strictObject({
  /** Public id a client may send as `model`; unique in the registry. */
  id: z.string().min(1),
  /** Key of a provider in the provider table (openrouter, groq, or a custom one). */
  provider: z.string().min(1),
  /** The id the provider itself expects. */
  upstream_model: z.string().min(1),
  tier: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4), z.literal(5)]),
  input_usd_per_mtok: z.number().nonnegative(),
  output_usd_per_mtok: z.number().nonnegative(),
  /** A prompt token read from the provider's cache (the input price where the provider has no cache). */
  cache_read_usd_per_mtok: z.number().nonnegative(),
  /** A prompt token written to the provider's cache for 5 minutes (Anthropic 1.25× input; the input price elsewhere). */
  cache_write_usd_per_mtok: z.number().nonnegative(),
  /** A prompt token written to the provider's cache for 1 hour (Anthropic 2× input). */
  cache_write_1h_usd_per_mtok: z.number().nonnegative(),
  /** Prices for the whole request when its prompt holds more than `prompt_tokens` (Gemini Pro, long-context Claude). */
  above: z
    .strictObject({
      prompt_tokens: z.number().int().positive(),
      input_usd_per_mtok: z.number().nonnegative(),
      output_usd_per_mtok: z.number().nonnegative(),
      cache_read_usd_per_mtok: z.number().nonnegative(),
      cache_write_usd_per_mtok: z.number().nonnegative(),
      cache_write_1h_usd_per_mtok: z.number().nonnegative(),
    })
    .optional(),
  /** The catalog version (or ISO date) the prices were read from. */
  price_read_on: z.iso.date(),
  context_window: z.number().int().positive(),
  capabilities: z.array(CapabilitySchema),
  /** Share of the tier's traffic under the "weighted" strategy, relative to its peers; default 1. */
  weight: z.number().positive().optional(),
});
export type Model = z.infer<typeof ModelSchema>;

export const RegistrySchema = z
  .array(ModelSchema)
  .min(1)
  .superRefine((models, ctx) => {
    const seen = new Set<string>();
    for (const [index, model] of models.entries()) {
      if (seen.has(model.id)) {
        ctx.addIssue({ code: "custom", path: [index, "id"], message: `duplicate model id ${model.id}` });
      }
      seen.add(model.id);
    }
  });

const ALL: Capability[] = ["tools", "json", "vision", "streaming"];
const TEXT: Capability[] = ["tools", "json", "streaming"];
const PRICED_ON = "2025-06-15";

function model(
  provider: "openrouter" | "groq",
  upstream: string,
  tier: Tier,
  [input, output]: [number, number],
  context: number,
  capabilities: Capability[],
): Model {
  return {
    id: `${provider}/${upstream}`,
    provider,
    upstream_model: upstream,
    tier,
    input_usd_per_mtok: input,
    output_usd_per_mtok: output,
    cache_read_usd_per_mtok: input,
    cache_write_usd_per_mtok: input,
    cache_write_1h_usd_per_mtok: input,
    price_read_on: PRICED_ON,
    context_window: context,
    capabilities,
  };
}

/**
 * The built-in registry. Prices are USD per million tokens from OpenRouter's and
 * Groq's public price lists on `PRICED_ON`; an operator replaces the whole list
 * with `MODELS_JSON`.
 */
export const DEFAULT_MODELS: readonly Model[] = [
  model("groq", "llama-3.1-8b-instant", 1, [0.05, 0.08], 131_072, TEXT),
  model("openrouter", "meta-llama/llama-3.1-8b-instruct", 1, [0.02, 0.03], 131_072, TEXT),
  model("openrouter", "mistralai/mistral-nemo", 1, [0.01, 0.03], 131_072, TEXT),
  model("groq", "meta-llama/llama-4-scout-17b-16e-instruct", 2, [0.11, 0.34], 131_072, ALL),
  model("openrouter", "google/gemini-2.0-flash-001", 2, [0.1, 0.4], 1_048_576, ALL),
  model("openrouter", "openai/gpt-4o-mini", 2, [0.15, 0.6], 128_000, ALL),
  model("groq", "llama-3.3-70b-versatile", 3, [0.59, 0.79], 131_072, TEXT),
  model("openrouter", "deepseek/deepseek-chat-v3-0324", 3, [0.28, 0.88], 163_840, TEXT),
  model("openrouter", "openai/gpt-4.1", 4, [2, 8], 1_047_576, ALL),
  model("openrouter", "anthropic/claude-sonnet-4", 4, [3, 15], 200_000, ALL),
  model("openrouter", "openai/o3", 5, [2, 8], 200_000, ALL),
  model("openrouter", "anthropic/claude-opus-4", 5, [15, 75], 200_000, ALL),
  model("openrouter", "google/gemini-2.5-pro", 5, [1.25, 10], 1_048_576, ALL),
];

/** Parses an operator's `MODELS_JSON`, or returns the built-in registry when it is absent. */
export function loadRegistry(modelsJson: string | undefined): readonly Model[] {
  if (modelsJson === undefined || modelsJson.trim() === "") return DEFAULT_MODELS;
  const entries: unknown = JSON.parse(modelsJson);
  return RegistrySchema.parse(Array.isArray(entries) ? entries.map(withCachePrices) : entries);
}

/** An operator's entry without cache prices: its provider has no cache discount, so each is the input price. */
function withCachePrices(entry: unknown): unknown {
  if (typeof entry !== "object" || entry === null) return entry;
  const { input_usd_per_mtok: input } = entry as { input_usd_per_mtok?: unknown };
  return { cache_read_usd_per_mtok: input, cache_write_usd_per_mtok: input, cache_write_1h_usd_per_mtok: input, ...entry };
}

/**
 * The registry entry a client means by `id`: its registry id, or a provider's own model
 * id (what answers carry in `model`) when exactly one entry uses it.
 * @example findModel(registry, "mistralai/mistral-nemo")?.id // "openrouter/mistralai/mistral-nemo"
 */
export function findModel<M extends Pick<Model, "id" | "upstream_model">>(registry: readonly M[], id: string): M | undefined {
  const exact = registry.find((model) => model.id === id);
  if (exact !== undefined) return exact;
  const aliased = registry.filter((model) => model.upstream_model === id);
  return aliased.length === 1 ? aliased[0] : undefined;
}

/** The cheapest of `models` by list price (input plus output per million tokens), or `undefined` for none. */
export function cheapestOf(models: readonly Model[]): Model | undefined {
  const price = (model: Model): number => model.input_usd_per_mtok + model.output_usd_per_mtok;
  return models.reduce<Model | undefined>((best, model) => (best === undefined || price(model) < price(best) ? model : best), undefined);
}

/** USD for these tokens, all uncached prompt and output, at the model's prices (routing/cost.ts prices each class). */
export function costUsd(model: PricedModel, promptTokens: number, completionTokens: number): number {
  return usageUsd(model, { promptTokens, completionTokens });
}

/**
 * Micro-dollars for these tokens, all uncached prompt and output, rounded up to the next
 * whole one (routing/cost.ts's `usageMicros`, which prices each class).
 */
export function costMicros(model: PricedModel, promptTokens: number, completionTokens: number): number {
  return usageMicros(model, { promptTokens, completionTokens });
}
