/** Tier selection: the score's place among the policy's thresholds. */

import type { Tier } from "./registry.ts";
import type { Thresholds } from "./thresholds.ts";

/**
 * Maps a complexity score in [0, 1] to a tier.
 * @example selectTier(0.1, [0.25, 0.45, 0.65, 0.82]) // 1
 */
export function selectTier(score: number, thresholds: Thresholds): Tier {
  let tier = 1;
  for (const cut of thresholds) {
    if (score >= cut) tier += 1;
  }
  return tier as Tier;
}
