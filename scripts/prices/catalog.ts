/**
 * Reads @pydantic/genai-prices' bundled catalog into the few prices the router carries: each
 * registry model's five prices (and those above a context threshold), and a compact table of the
 * catalog's models for MODELS_JSON entries and the model names clients send.
 *
 * Which price, when the catalog has several:
 * - a model's prices that change on a date: those in effect on `asOf` (time-of-day discounts are
 *   left out: the undiscounted price is the list price);
 * - OpenRouter: its own entry, and each price it lacks (a cache class, or the price above a
 *   context threshold) from the model's own provider's list (`anthropic/…` → Anthropic), since
 *   OpenRouter passes its provider's price on; a model OpenRouter's entry lacks entirely (its
 *   embeddings) takes its provider's list price;
 * - a cache price the catalog has for neither: the input price (a read, a 5-minute write), and the
 *   dearer of the input and 5-minute write prices (a 1-hour write): a provider without a cache
 *   discount bills cached tokens as input, and a longer-lived write never costs less.
 */
import { calcPrice, findProvider, type ModelInfo, type ModelPrice, type TieredPrices } from "@pydantic/genai-prices";

type Price = number | TieredPrices | undefined;
/** The five classes in the registry's order. */
export const CLASSES = ["input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "cache_write_1h_mtok"] as const;
export type Five = [number, number, number, number, number];
export type CatalogPrice = { base: Five; above?: { start: number; prices: Five } };

/** The catalog's prices of one model on `asOf`, as `calcPrice` would choose them (start dates; no time-of-day discount). */
export function pricesOn(model: ModelInfo, asOf: Date): ModelPrice {
  if (!Array.isArray(model.prices)) return model.prices;
  for (const conditional of [...model.prices].reverse()) {
    const constraint = conditional.constraint;
    if (constraint === undefined) return conditional.prices;
    if (constraint.type === "start_date" && asOf >= new Date(constraint.start_date)) return conditional.prices;
  }
  return model.prices[0]!.prices;
}

/** The catalog entry a provider bills `modelId` under, and its prices on `asOf`; `undefined` when the catalog has none. */
export function catalogEntry(providerId: string, modelId: string, asOf: Date): { id: string; prices: ModelPrice } | undefined {
  const provider = findProvider({ providerId });
  if (provider === undefined) return undefined;
  const found = calcPrice({ input_tokens: 1 }, modelId, { provider, timestamp: asOf });
  return found === null ? undefined : { id: found.model.id, prices: found.model_price };
}

/** OpenRouter's prices for a `vendor/model` id, each it lacks taken from the vendor's own list (see the rule above). */
export function openRouterPrices(modelId: string, asOf: Date, entry?: ModelInfo): ModelPrice | undefined {
  const own = entry !== undefined ? pricesOn(entry, asOf) : catalogEntry("openrouter", modelId, asOf)?.prices;
  const [vendor, name] = modelId.split("/", 2);
  const list = vendor !== undefined && name !== undefined ? catalogEntry(vendor, name, asOf)?.prices : undefined;
  if (own === undefined || !hasTextPrice(own)) return list !== undefined && hasTextPrice(list) ? list : undefined;
  if (list === undefined) return own;
  const merged: ModelPrice = { ...own };
  for (const key of CLASSES) {
    const mine = own[key] as Price;
    const theirs = list[key] as Price;
    if (mine === undefined) merged[key] = theirs;
    // The provider's tiers over OpenRouter's flat price, where both start from the same base.
    else if (typeof mine === "number" && typeof theirs === "object" && theirs.base === mine) merged[key] = theirs;
  }
  return merged;
}

/**
 * The prices the router carries for a provider's model (`entry`, when the caller holds the
 * catalog's entry, else the one the catalog matches to `modelId`), or `undefined` when it has none.
 */
export function routerPrices(providerId: string, modelId: string, asOf: Date, entry?: ModelInfo): CatalogPrice | undefined {
  const prices =
    providerId === "openrouter"
      ? openRouterPrices(modelId, asOf, entry)
      : entry !== undefined
        ? pricesOn(entry, asOf)
        : catalogEntry(providerId, modelId, asOf)?.prices;
  return prices !== undefined && hasTextPrice(prices) ? fiveOf(prices, /claude/.test(modelId)) : undefined;
}

/** Whether the catalog prices text input at all (audio-only and free entries have no `input_mtok`). */
export function hasTextPrice(prices: ModelPrice): boolean {
  return prices.input_mtok !== undefined;
}

/**
 * The five prices below a context threshold, and above it where any class has tiers. Tiers at
 * different thresholds take the lowest one, with each class at its first tier's price: never
 * below what the provider bills.
 */
export function fiveOf(prices: ModelPrice, claude = false): CatalogPrice {
  const at = (key: (typeof CLASSES)[number], above: boolean): number | undefined => {
    const price = prices[key] as Price;
    if (price === undefined || typeof price === "number") return price;
    return above ? (price.tiers[0]?.price ?? price.base) : price.base;
  };
  const complete = (above: boolean): Five => {
    const input = at("input_mtok", above) ?? 0;
    const write = at("cache_write_mtok", above) ?? input;
    // Claude's 1-hour write is 2x input wherever it is served (Anthropic's scheme, which Bedrock and Vertex bill too): where
    // the catalog lacks it (Bedrock's Claude but Opus), 2x; else the dearer of input and the 5-minute write. Never below the bill.
    const write1h = at("cache_write_1h_mtok", above) ?? (claude && write > input ? 2 * input : Math.max(input, write));
    return [input, at("output_mtok", above) ?? 0, at("cache_read_mtok", above) ?? input, write, write1h];
  };
  const starts = CLASSES.flatMap((key) => {
    const price = prices[key] as Price;
    return typeof price === "object" && price.tiers[0] !== undefined ? [price.tiers[0].start] : [];
  });
  const base = complete(false);
  return starts.length === 0 ? { base } : { base, above: { start: Math.min(...starts), prices: complete(true) } };
}

/** Every id and `equals` name a catalog model answers to, and the prefixes it matches (`claude-opus-4-5…`). */
export function namesOf(model: ModelInfo): { exact: string[]; prefixes: string[] } {
  const exact = new Set([model.id]);
  const prefixes = new Set<string>();
  const visit = (rule: ModelInfo["match"]): void => {
    if ("or" in rule) rule.or.forEach(visit);
    else if ("equals" in rule) exact.add(rule.equals.toLowerCase());
    else if ("starts_with" in rule) prefixes.add(rule.starts_with.toLowerCase());
  };
  visit(model.match);
  return { exact: [...exact], prefixes: [...prefixes] };
}
