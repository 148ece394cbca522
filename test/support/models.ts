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
