/** A routing model as `npm run train:router` writes it (model.generated.ts) and MODEL_JSON holds it. */
import type { Shape } from "./shape.ts";

export type SerializedModel = {
  bias: number;
  /** Weight per feature name (src/routing/features.ts). */
  features: Record<string, number>;
  /** Per question shape but plain: what to add to a feature's weight for a question of that shape (none: 0). */
  shapes?: Partial<Record<Shape, Record<string, number>>>;
  /** Default tier cut points, calibrated on the cost/quality data (TIER_THRESHOLDS overrides them). */
  thresholds?: [number, number, number, number];
  /** How it was made: data files, seed, settings. */
  provenance: string;
};
