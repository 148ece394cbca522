/** Registry entries for unit tests: one price for input and output, Groq unless told otherwise. */
import type { Model, Tier } from "../../src/routing/registry.ts";

export const testModel = (id: string, tier: Tier, price: number, extra: Partial<Model> = {}): Model => ({
  id,
  provider: "groq",
  upstream_model: id,
  tier,
  input_usd_per_mtok: price,
  output_usd_per_mtok: price,
  cache_read_usd_per_mtok: price,
  cache_write_usd_per_mtok: price,
  cache_write_1h_usd_per_mtok: price,
  price_read_on: "2026-11-01",
  context_window: 10_000,
  capabilities: ["tools", "json", "streaming"],
  ...extra,
});

/** A model's five prices in thousandths of a micro-dollar per token (a price per million tokens × 1,000): exact in bigint. */
export type Band = { input: number; output: number; read: number; write: number; write1h: number };

/** A band as the registry's `*_usd_per_mtok` prices. */
export const bandPrices = (band: Band) => ({
  input_usd_per_mtok: band.input / 1000,
  output_usd_per_mtok: band.output / 1000,
  cache_read_usd_per_mtok: band.read / 1000,
  cache_write_usd_per_mtok: band.write / 1000,
  cache_write_1h_usd_per_mtok: band.write1h / 1000,
});
