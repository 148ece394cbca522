/** The embedding models of the registry: which provider serves each, at what price, how many dimensions, how large a batch. */
import * as z from "zod";
import { CATALOG_VERSION, catalogPrices, type NamedModel } from "./catalog.ts";
import { findModel } from "./registry.ts";

export const EmbeddingModelSchema = z.strictObject({
  /** Public id a client may send as `model`; unique among the embedding models. */
  id: z.string().min(1),
  /** Key of a provider in the provider table. */
  provider: z.string().min(1),
  /** The id the provider itself expects. */
  upstream_model: z.string().min(1),
  input_usd_per_mtok: z.number().nonnegative(),
  /** Where the price came from: the catalog's version ("genai-prices 0.1.8"), or the ISO date of an operator's price list. */
  price_read_on: z.string().min(1).max(64),
  /** Length of the vectors it returns when `dimensions` is not sent. */
  dimensions: z.number().int().positive(),
  /** Whether it can return shorter vectors (`dimensions` below the native length), as OpenAI's v3 models can. */
  shortens: z.boolean(),
  /** The most tokens one input may hold. */
  max_input_tokens: z.number().int().positive(),
  /** The most inputs, and tokens in all, one provider call may carry: a larger request is split into calls of this size. */
  max_batch_inputs: z.number().int().positive(),
  max_batch_tokens: z.number().int().positive(),
});
export type EmbeddingModel = z.infer<typeof EmbeddingModelSchema>;

const EmbeddingRegistrySchema = z
  .array(EmbeddingModelSchema)
  .min(1)
  .superRefine((models, ctx) => {
    const seen = new Set<string>();
    for (const [index, model] of models.entries()) {
      if (seen.has(model.id)) ctx.addIssue({ code: "custom", path: [index, "id"], message: `duplicate embedding model id ${model.id}` });
      seen.add(model.id);
    }
  });

/** An OpenAI v3 embedding model through OpenRouter, at the catalog's price (OpenAI's list price, which OpenRouter passes on). */
const openAiV3 = (name: string, dimensions: number): EmbeddingModel => {
  const upstream = `openai/${name}`;
  const price = catalogPrices("openrouter", upstream);
  if (price === undefined) throw new Error(`the built-in embedding model openrouter/${upstream} has no price in ${CATALOG_VERSION}`);
  return {
    id: `openrouter/${upstream}`,
    provider: "openrouter",
    upstream_model: upstream,
    input_usd_per_mtok: price.input_usd_per_mtok,
    price_read_on: CATALOG_VERSION,
    dimensions,
    shortens: true,
    // OpenAI's limits: 8,192 tokens an input; 2,048 inputs and 300,000 tokens a request.
    max_input_tokens: 8_192,
    max_batch_inputs: 2_048,
    max_batch_tokens: 300_000,
  };
};

/** The built-in embedding models; an operator replaces the list with `EMBEDDING_MODELS_JSON`. The first is the default of `auto`. */
export const DEFAULT_EMBEDDING_MODELS: readonly EmbeddingModel[] = [openAiV3("text-embedding-3-small", 1_536), openAiV3("text-embedding-3-large", 3_072)];

/** Parses an operator's `EMBEDDING_MODELS_JSON`, or returns the built-in list when it is absent. */
export function loadEmbeddingModels(json: string | undefined): readonly EmbeddingModel[] {
  if (json === undefined || json.trim() === "") return DEFAULT_EMBEDDING_MODELS;
  return EmbeddingRegistrySchema.parse(JSON.parse(json));
}

/**
 * The embedding model a client means: its id, its provider's id, or that id's last part
 * (`text-embedding-3-small`, as OpenAI's clients send it) when exactly one model has it.
 * @example findEmbeddingModel(models, "text-embedding-3-small")?.id // "openrouter/openai/text-embedding-3-small"
 */
export function findEmbeddingModel(models: readonly EmbeddingModel[], name: string): EmbeddingModel | undefined {
  return findModel(models, name);
}

/**
 * For an embedding model the catalog knows and the list lacks (`text-embedding-ada-002`): the
 * cheapest of `models` no dearer than it, so naming a model never costs more than that model
 * would; `undefined` when every one is dearer.
 */
export function cheapestNoDearer(models: readonly EmbeddingModel[], named: NamedModel): EmbeddingModel | undefined {
  const fits = models.filter((model) => model.input_usd_per_mtok <= named.prices.input_usd_per_mtok);
  return fits.reduce<EmbeddingModel | undefined>(
    (best, model) => (best === undefined || model.input_usd_per_mtok < best.input_usd_per_mtok ? model : best),
    undefined,
  );
}
