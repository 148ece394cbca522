/** The model registry: which models serve which tier, at what price, with what abilities. */
import * as z from "zod";
import { CATALOG_VERSION, catalogPrices } from "./catalog.ts";
import { type PricedModel, usageMicros, usageUsd } from "./cost.ts";
import { DEFAULT_MODEL_SPECS, type ModelSpec } from "./default-models.ts";

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
  /** Where the prices came from: the catalog's version ("genai-prices 0.1.8"), or the ISO date of an operator's price list. */
  price_read_on: z.string().min(1).max(64),
  context_window: z.number().int().positive(),
  capabilities: z.array(CapabilitySchema),
  /** Share of the tier's traffic under the "weighted" strategy, relative to its peers; default 1. */
  weight: z.number().positive().optional(),
  /**
   * The model as its maker names it, whoever serves it (`claude-sonnet-5` at Anthropic, Bedrock,
   * Vertex and OpenRouter): a fallback tries the same family at another provider before another
   * model. Default: the provider's id after its last `/`.
   */
  family: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "lower-case letters, digits, '.', '_' and '-'")
    .optional(),
});
export type Model = z.infer<typeof ModelSchema>;

/** A model's family: as its entry names it, else its provider's id after the last `/`. */
export const familyOf = (model: Pick<Model, "family" | "upstream_model">): string =>
  model.family ?? model.upstream_model.slice(model.upstream_model.lastIndexOf("/") + 1);

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

/** A built-in model with the catalog's prices; a model the catalog does not price stops the router here, by name. */
function priced(spec: ModelSpec): Model {
  const id = `${spec.provider}/${spec.name ?? spec.upstream}`;
  const prices = catalogPrices(spec.provider, spec.upstream);
  if (prices === undefined) throw new Error(`the built-in model ${id} has no price in ${CATALOG_VERSION}: run npm run prices:generate, or replace it`);
  return {
    id,
    provider: spec.provider,
    upstream_model: spec.upstream,
    tier: spec.tier,
    ...prices,
    price_read_on: CATALOG_VERSION,
    context_window: spec.context,
    capabilities: [...spec.capabilities],
    family: spec.family ?? familyOf({ upstream_model: spec.name ?? spec.upstream }),
  };
}

/**
 * The built-in registry (default-models.ts), each model at the catalog's prices
 * (prices.generated.ts); an operator replaces the whole list with `MODELS_JSON`.
 */
export const DEFAULT_MODELS: readonly Model[] = DEFAULT_MODEL_SPECS.map(priced);

/** Parses an operator's `MODELS_JSON`, or returns the built-in registry when it is absent. */
export function loadRegistry(modelsJson: string | undefined): readonly Model[] {
  if (modelsJson === undefined || modelsJson.trim() === "") return DEFAULT_MODELS;
  const entries: unknown = JSON.parse(modelsJson);
  return RegistrySchema.parse(Array.isArray(entries) ? entries.map(withCatalogPrices) : entries);
}

const PRICE_FIELDS = ["input_usd_per_mtok", "output_usd_per_mtok"] as const;
const CACHE_FIELDS = ["cache_read_usd_per_mtok", "cache_write_usd_per_mtok", "cache_write_1h_usd_per_mtok"] as const;

/**
 * An operator's entry with the prices it leaves out. An input or output price it omits is the
 * catalog's (and so are the catalog's prices above a context threshold, when it omits both, and
 * `price_read_on`, the catalog's version); a model the catalog does not price is refused by name,
 * never priced at 0 by accident (a 0 the entry writes is the operator's choice). A cache price it
 * omits is the catalog's where the catalog prices that provider's model, else the input price: a
 * provider without a cache discount bills cached tokens as input.
 */
function withCatalogPrices(entry: unknown, index: number): unknown {
  if (typeof entry !== "object" || entry === null) return entry;
  const given = entry as Record<string, unknown>;
  const catalog =
    typeof given.provider === "string" && typeof given.upstream_model === "string" ? catalogPrices(given.provider, given.upstream_model) : undefined;
  const missing = PRICE_FIELDS.filter((field) => given[field] === undefined);
  if (missing.length > 0 && catalog === undefined) {
    const name = typeof given.id === "string" ? given.id : `entry ${index}`;
    throw new Error(
      `MODELS_JSON: the model ${name} has no price: ${CATALOG_VERSION} does not price ${String(given.provider)}'s ${String(given.upstream_model)}, so give its ${missing.join(" and ")} (0 is allowed, if you mean it)`,
    );
  }
  const filled: Record<string, unknown> = Object.fromEntries(missing.map((field) => [field, catalog?.[field]]));
  if (missing.length > 0) filled.price_read_on = CATALOG_VERSION;
  if (missing.length === PRICE_FIELDS.length && catalog?.above !== undefined) filled.above = catalog.above;
  const input = given.input_usd_per_mtok ?? catalog?.input_usd_per_mtok;
  for (const field of CACHE_FIELDS) filled[field] = catalog?.[field] ?? input;
  return { ...filled, ...given };
}

/**
 * The registry entry a client means by `id`: its registry id; else a provider's own model id
 * (what answers carry in `model`: `gemini-3.5-flash` at AI Studio and Vertex, `gpt-4o-mini` at
 * Azure); else that id's last part (`gpt-4o-mini` for OpenRouter's `openai/gpt-4o-mini`). With
 * `usable` (its provider is configured), a usable entry first: the name means the model at the
 * provider that can serve it, a maker's own (an operator's contract) before OpenRouter's, the
 * registry's order among equals; the rest of its family are its fallbacks (routing/pick.ts).
 * Entries of different families, or of one provider, that share the name resolve to none.
 * Anthropic's own ids (`claude-sonnet-5`) are not among the names: they are what Claude's clients
 * send to be routed (routing/aliases.ts), and name its native entries only as `anthropic/claude-sonnet-5`
 * (and Vertex's Claude, whose ids are Anthropic's, only as `vertex-anthropic/claude-sonnet-5`).
 * @example findModel(registry, "gpt-4o-mini", configured)?.id // "openrouter/openai/gpt-4o-mini" while Azure is not configured
 */
export function findModel<M extends Pick<Model, "id" | "upstream_model" | "provider" | "family">>(
  registry: readonly M[],
  id: string,
  usable?: (model: M) => boolean,
): M | undefined {
  const exact = registry.find((model) => model.id === id);
  if (exact !== undefined) return exact;
  const names = registry.filter((model) => !ROUTED_NAMES_PROVIDERS.has(model.provider));
  const named = [...names.filter((model) => model.upstream_model === id), ...names.filter((model) => model.upstream_model.endsWith(`/${id}`))];
  // Two different models that share a name (or one provider's two entries) are no one model.
  const oneModel = named.every((model) => familyOf(model) === familyOf(named[0]!)) && new Set(named.map((model) => model.provider)).size === named.length;
  if (!oneModel) return undefined;
  return (usable === undefined ? undefined : named.find(usable)) ?? named[0];
}

/** The providers whose own model ids are names routed as `auto` by default, not registry names (see `findModel`): Anthropic's, which Vertex's Claude shares. */
const ROUTED_NAMES_PROVIDERS: ReadonlySet<string> = new Set(["anthropic", "vertex-anthropic"]);

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
