/**
 * A budget near its end caps the answer, rather than refusing it. A request is
 * reserved at its whole `max_tokens` (Claude Code asks 128,000 on every turn), so a
 * budget with a few cents left would refuse every turn that a short answer could have
 * served. When the reservation is refused for a budget, the request is sent once more
 * with `max_tokens` lowered to what the budget can still pay at the pick's prices (and
 * served by the pick, or a fallback no dearer). The cap goes through the same reservation, so it can never
 * overspend, and prices the prompt as the reservation does, at its dearest class (routing/cost.ts);
 * it is named in the answer's headers and its audit record.
 */
import type { CanonicalRequest } from "../canonical/request.ts";
import { cacheLifetimeOf, pricesFor, reserveMicros } from "../routing/cost.ts";
import type { Decision } from "../routing/decide.ts";
import { costUsd } from "../routing/registry.ts";

/** Below this many tokens an answer is too short to be worth sending: the request is refused, as the budget is spent. */
export const LEAST_CAPPED_OUTPUT = 256;

/** What lowered `max_tokens`: the money a budget can still pay, or the tokens per minute a key can ever take. */
export type CapCause = "budget" | "tpm";

/** The output tokens per choice asked and sent, and why; with the decision and the request as capped. */
export type OutputCap = { asked: number; cap: number; by: CapCause; decision: Decision; sent: CanonicalRequest };

/**
 * The request capped to what `roomMicros` pays at the pick's prices, the prompt at its
 * dearest class as the reservation prices it: `max_tokens` per
 * choice, and the decision re-estimated at it. Undefined when the cap would not lower
 * what was asked, or would leave fewer than LEAST_CAPPED_OUTPUT tokens.
 */
export function capToBudget(decision: Decision, sent: CanonicalRequest, roomMicros: number): OutputCap | undefined {
  const { model, promptTokens } = decision;
  const choices = sent.n ?? 1;
  const perToken = pricesFor(model, promptTokens).output_usd_per_mtok; // $ per million tokens is µ$ per token
  if (perToken <= 0) return undefined;
  const lifetime = cacheLifetimeOf(sent);
  const reserved = (output: number): number => reserveMicros(model, promptTokens, output, lifetime);
  let cap = Math.floor((roomMicros - reserved(0)) / perToken / choices);
  // A reservation rounds up: step down until the capped answer costs no more than the room.
  while (cap > 0 && reserved(cap * choices) > roomMicros) cap -= 1;
  return capped(decision, sent, cap, "budget");
}

/**
 * The request capped to what a key's tokens per minute can ever take (its prompt and
 * `max_tokens`, times `n`, at most `tpm`), as a budget caps it: Claude Code asks 32,000
 * on every turn, which no key under that limit could otherwise serve. Undefined when the
 * request fits, or the cap would leave fewer than LEAST_CAPPED_OUTPUT tokens (then the
 * limiter refuses it as one that can never fit).
 */
export function capToTokens(decision: Decision, sent: CanonicalRequest, tpm: number | null): OutputCap | undefined {
  if (tpm === null || decision.estimatedTokens <= tpm) return undefined;
  return capped(decision, sent, Math.floor((tpm - decision.promptTokens) / (sent.n ?? 1)), "tpm");
}

function capped(decision: Decision, sent: CanonicalRequest, cap: number, by: CapCause): OutputCap | undefined {
  const { model, promptTokens } = decision;
  const choices = sent.n ?? 1;
  const asked = decision.outputTokens / choices;
  if (cap < LEAST_CAPPED_OUTPUT || cap >= asked) return undefined;
  const output = cap * choices;
  return {
    asked,
    cap,
    by,
    decision: {
      ...decision,
      outputTokens: output,
      estimatedTokens: promptTokens + output,
      estimatedCostUsd: costUsd(model, promptTokens, output),
      reasons: [...decision.reasons, capNote({ asked, cap, by })],
    },
    sent: { ...sent, max_tokens: cap, ...(sent.max_completion_tokens == null ? {} : { max_completion_tokens: cap }) },
  };
}

const CAUSES: Record<CapCause, string> = { budget: "what the budget can still pay", tpm: "what the key's tokens per minute can take" };

/** What the answer's reason header and its audit record say of a cap. */
export function capNote({ asked, cap, by }: Pick<OutputCap, "asked" | "cap" | "by">): string {
  return `max_tokens ${asked} capped at ${cap}: ${CAUSES[by]}`;
}
