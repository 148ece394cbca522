/**
 * What a served answer is charged: the provider's usage, never trusted blindly. A
 * report is bounded by what was sent and what the answer was allowed to write; a
 * missing one (a stream cut before its last chunk, a provider that never says) is
 * made from the prompt as sent and the answer as relayed; and under a budget, nothing
 * is charged past what was reserved. Every change is noted in the usage, for the audit.
 */
import type { Usage } from "../providers/usage.ts";
import { IMAGE_TOKENS } from "../routing/estimate.ts";
import { costMicros, type Model } from "../routing/registry.ts";

export type ChargeInput = {
  model: Model;
  /** The provider's usage, as read (already clamped into range by providers/usage.ts). */
  reported: Usage | undefined;
  /** The prompt as sent, estimated (routing/estimate.ts). */
  promptEstimate: number;
  /** Characters of the body sent and images in it: a provider cannot honestly count more prompt than that. */
  sent: { chars: number; images: number };
  /** Characters the answer wrote that reached the client (or, for JSON, that the answer holds). */
  writtenChars: number;
  /** The most completion tokens the answer was allowed: its `max_tokens` times `n`, or the context window. */
  completionLimit: number;
  /** Under a budget: the micro-dollars reserved, the most it may be charged. */
  reservedMicros: number | undefined;
};

export type Charge = { usage: Usage; costMicros: number };

/** A token is at least one byte, a UTF-16 unit at most three: three tokens a character is more than any prompt costs. */
const TOKENS_PER_SENT_CHAR = 3;
/** Four characters a token, as the prompt estimate counts them. */
const CHARS_PER_TOKEN = 4;

export function chargeFor(input: ChargeInput): Charge {
  const { model, reported } = input;
  const notes = [...(reported?.adjusted ?? [])];
  const counted = Math.ceil(input.writtenChars / CHARS_PER_TOKEN);
  const promptLimit = Math.min(model.context_window, TOKENS_PER_SENT_CHAR * input.sent.chars + 4 * IMAGE_TOKENS * input.sent.images);
  let prompt: number;
  let completion: number;
  if (reported === undefined) {
    prompt = input.promptEstimate;
    completion = Math.min(counted, input.completionLimit);
    notes.push(
      `no usage reported: the prompt as estimated (${prompt}), the completion counted from the ${input.writtenChars} characters written (${completion})`,
    );
  } else {
    prompt = bounded("prompt_tokens", reported.promptTokens, { floor: input.promptEstimate, limit: promptLimit }, notes);
    completion = bounded("completion_tokens", reported.completionTokens, { floor: input.writtenChars > 0 ? counted : 0, limit: input.completionLimit }, notes);
  }
  let micros = costMicros(model, prompt, completion);
  if (input.reservedMicros !== undefined && micros > input.reservedMicros) {
    notes.push(`charged the ${input.reservedMicros} µ$ reserved: the usage reported costs ${micros} µ$`);
    micros = input.reservedMicros;
  }
  const usage: Usage = { promptTokens: prompt, completionTokens: completion };
  if (notes.length > 0) usage.adjusted = notes;
  return { usage, costMicros: micros };
}

/**
 * A reported count within what is possible: above `limit` it is clamped; a count of 0
 * (what a negative or missing field became) for something that was sent or written is
 * replaced by the router's own count, `floor`.
 */
function bounded(field: string, value: number, { floor, limit }: { floor: number; limit: number }, notes: string[]): number {
  if (value > limit) {
    notes.push(`usage.${field} ${value} is more than can have been used: clamped to ${limit}`);
    return limit;
  }
  if (value === 0 && floor > 0) {
    notes.push(`usage.${field} 0 for what was used: counted as ${Math.min(floor, limit)}`);
    return Math.min(floor, limit);
  }
  return value;
}
