/**
 * The price catalog as the Worker carries it (prices.generated.ts, from @pydantic/genai-prices):
 * a provider's model's prices, and the catalog model a client's bare name means.
 */
import type { ClassPrices } from "./cost.ts";
import { CLIENT_NAME_PROVIDERS, PRICED_AS } from "./default-models.ts";
import { CATALOG_ABOVE, CATALOG_ALIASES, CATALOG_PREFIXES, CATALOG_PRICES } from "./prices.generated.ts";

export { CATALOG_VERSION, PRICES_AS_OF } from "./prices.generated.ts";

export type CatalogPrices = ClassPrices & { above?: ClassPrices & { prompt_tokens: number } };

const DATE_SUFFIX = /-(?:\d{8}|\d{4}-\d{2}-\d{2})$/;

/** A row's five prices: the trailing ones the generator left out follow its rule (read and write = input, 1-hour = the dearer). */
function classPrices(row: readonly number[]): ClassPrices {
  const [input = 0, output = 0, read = input, write = input, write1h = Math.max(input, write)] = row;
  return {
    input_usd_per_mtok: input,
    output_usd_per_mtok: output,
    cache_read_usd_per_mtok: read,
    cache_write_usd_per_mtok: write,
    cache_write_1h_usd_per_mtok: write1h,
  };
}

/**
 * The catalog's prices for a provider's model by the provider's own id (`openrouter`,
 * `anthropic/claude-opus-5.5`), or `undefined` when the catalog has none; a provider priced as
 * another (`vertex` as `google`, see `PRICED_AS`) by that one's list.
 * @example catalogPrices("groq", "llama-3.1-8b-instant")?.input_usd_per_mtok // 0.05
 */
export function catalogPrices(served: string, model: string): CatalogPrices | undefined {
  const provider = ownEntry(PRICED_AS, served) ?? served;
  const models = ownEntry(CATALOG_PRICES, provider);
  const id = models !== undefined && Object.hasOwn(models, model) ? model : ownEntry(ownEntry(CATALOG_ALIASES, provider), model.toLowerCase());
  const row = id === undefined ? undefined : ownEntry(models, id);
  if (id === undefined || row === undefined) return undefined;
  const above = ownEntry(CATALOG_ABOVE, `${provider} ${id}`);
  const prices = classPrices(row);
  return above === undefined ? prices : { ...prices, above: { prompt_tokens: above[0]!, ...classPrices(above.slice(1)) } };
}

/** A table's own entry: a client's name is any string, `__proto__` and `constructor` included. */
function ownEntry<V>(table: Readonly<Record<string, V>> | undefined, key: string): V | undefined {
  return table !== undefined && Object.hasOwn(table, key) ? table[key] : undefined;
}

/** A model a client named by its maker's own name, as the catalog knows it. */
export type NamedModel = { name: string; provider: string; id: string; prices: CatalogPrices };

/**
 * The catalog model a bare name means (`gpt-3.5-turbo`, `claude-3-5-sonnet-20241022`): its id,
 * another name it answers to, that name without a date suffix, or the longest prefix it matches.
 * @example catalogModelNamed("claude-3-5-sonnet-20241022")?.id // "claude-3-5-sonnet"
 */
export function catalogModelNamed(name: string): NamedModel | undefined {
  const wanted = name.trim().toLowerCase();
  if (wanted === "") return undefined;
  for (const candidate of new Set([wanted, wanted.replace(DATE_SUFFIX, "")])) {
    for (const provider of CLIENT_NAME_PROVIDERS) {
      const prices = catalogPrices(provider, candidate);
      if (prices !== undefined) return { name, provider, id: ownEntry(ownEntry(CATALOG_ALIASES, provider), candidate) ?? candidate, prices };
    }
  }
  for (const provider of CLIENT_NAME_PROVIDERS) {
    const matches = (ownEntry(CATALOG_PREFIXES, provider) ?? []).filter(([prefix]) => wanted.startsWith(prefix));
    const longest = matches.reduce<readonly [string, string] | undefined>(
      (best, match) => (best === undefined || match[0].length > best[0].length ? match : best),
      undefined,
    );
    const prices = longest === undefined ? undefined : catalogPrices(provider, longest[1]);
    if (longest !== undefined && prices !== undefined) return { name, provider, id: longest[1], prices };
  }
  return undefined;
}

/** Whether a catalog model is one that embeds: the catalog prices an embedding's input alone. */
export const embeds = (named: NamedModel): boolean => named.prices.output_usd_per_mtok === 0;

/**
 * Whether `candidate` costs no more than `than` for any request: its input and output prices are
 * each at most `than`'s. Cache prices are left out: the named model is one the router cannot
 * call, so no cache of it is warm, and every model reads its own cache for less than its input.
 */
export const noDearer = (candidate: ClassPrices, than: ClassPrices): boolean =>
  candidate.input_usd_per_mtok <= than.input_usd_per_mtok && candidate.output_usd_per_mtok <= than.output_usd_per_mtok;
