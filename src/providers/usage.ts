/** Token usage as providers report it, and what it costs. */
import type { Model } from "../config/registry.ts";

export type Usage = { promptTokens: number; completionTokens: number };

/** OpenAI's `usage` object, or `undefined` when absent or malformed. */
export function readUsage(value: unknown): Usage | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { prompt_tokens, completion_tokens } = value as Record<string, unknown>;
  if (typeof prompt_tokens !== "number" || typeof completion_tokens !== "number") return undefined;
  return { promptTokens: prompt_tokens, completionTokens: completion_tokens };
}

/** USD for these tokens at the model's registry prices. */
export function costUsd(model: Model, promptTokens: number, completionTokens: number): number {
  return (promptTokens * model.input_usd_per_mtok + completionTokens * model.output_usd_per_mtok) / 1e6;
}
