/** Routing policy: the score thresholds that separate the five tiers. */
import * as z from "zod";

/** Four increasing cut points in (0, 1): a score below the first is tier 1, at or above the last is tier 5. */
export type Thresholds = readonly [number, number, number, number];

export const ThresholdsSchema = z
  .tuple([z.number(), z.number(), z.number(), z.number()])
  .refine((cuts) => cuts.every((cut, i) => cut > 0 && cut < 1 && (i === 0 || cut > cuts[i - 1]!)), {
    message: "TIER_THRESHOLDS must be four increasing numbers between 0 and 1, e.g. 0.12,0.3,0.55,0.78",
  });

/** Parses `TIER_THRESHOLDS`, a comma-separated list such as `0.12,0.3,0.55,0.78`. */
export function parseThresholds(text: string): Thresholds {
  return ThresholdsSchema.parse(text.split(",").map((part) => Number(part.trim())));
}

/**
 * Shifts the whole cost/quality curve with one number: each cut point moves down by
 * `bias`, so a positive bias sends more prompts to higher tiers (better, dearer) and
 * a negative one to lower tiers (cheaper). Cuts stay increasing and inside (0, 1).
 * @example biasThresholds([0.2, 0.4, 0.6, 0.8], 0.1) // [0.1, 0.3, 0.5, 0.7]
 */
export function biasThresholds(cuts: Thresholds, bias: number): Thresholds {
  const shifted = cuts.map((cut, i) => Math.min(1 - (4 - i) * 1e-6, Math.max((i + 1) * 1e-6, cut - bias)));
  return shifted as unknown as Thresholds;
}
