/**
 * Session affinity: whether a turn stays on the model that holds its session's prompt
 * cache or goes where its score sends it. Pure: what the session remembers, the clock and
 * the model's fitness are passed in.
 */
import type { Model, Tier } from "./registry.ts";

/** What a session's turn did: the first turn routing knows of, stayed on the session's model, or left it. */
export type Affinity = "new" | "kept" | "moved";

/** What routing remembers of a session after each answer (cache/session-store.ts keeps it). */
export type RememberedSession = {
  /** The registry id of the model that answered last, and so holds the session's cache. */
  model: string;
  tier: Tier;
  /** When the provider's cache of the session expires (ms since the epoch): 5 minutes after the last call, or an hour. */
  cacheUntil: number;
  /** The last call's prompt, estimated: while the cache is warm, the prefix a provider reads from it. */
  promptTokens: number;
};

/** What a decision knows of the request's session. */
export type SessionView = {
  /** What the session remembers; undefined for a session routing has not seen (or SESSION_AFFINITY=off). */
  remembered: RememberedSession | undefined;
  /** Whether affinity steers the decision (SESSION_AFFINITY); off, every turn is routed on its own. */
  steers: boolean;
  /** The request's last turn holds only tool results (routing/session.ts). */
  continuation: boolean;
  now: number;
};

/**
 * How much cheaper leaving a warm cache must be expected to come out before a new user
 * turn moves down or across: the estimate ignores that the moved turn's later turns start
 * cold too, and a move that saves less than a fifth is within the error of the output guess.
 */
export const REGRET_MARGIN = 0.2;

/** One side of the cache-regret gate: the expected USD of the turn on a model. */
export type TurnCost = { model: Model; usd: number };

/**
 * The cache-regret gate. Staying costs the cached prefix at the warm model's read price,
 * the rest of the prompt at its input price, and the output; moving costs the whole prompt
 * at the new model's cache-write price (what a provider bills to cache it; the input price
 * where writing costs nothing more) and the output. The move pays when it is below staying
 * by REGRET_MARGIN.
 * @example regretGate(opus, haiku, { promptTokens: 60_000, cachedTokens: 58_000, outputTokens: 800 }).pays
 */
export function regretGate(
  warm: Model,
  candidate: Model,
  tokens: { promptTokens: number; cachedTokens: number; outputTokens: number },
): { pays: boolean; stay: TurnCost; move: TurnCost } {
  const cached = Math.min(tokens.cachedTokens, tokens.promptTokens);
  const stayUsd =
    (cached * warm.cache_read_usd_per_mtok + (tokens.promptTokens - cached) * warm.input_usd_per_mtok + tokens.outputTokens * warm.output_usd_per_mtok) / 1e6;
  const moveUsd = (tokens.promptTokens * candidate.cache_write_usd_per_mtok + tokens.outputTokens * candidate.output_usd_per_mtok) / 1e6;
  return { pays: moveUsd < stayUsd * (1 - REGRET_MARGIN), stay: { model: warm, usd: stayUsd }, move: { model: candidate, usd: moveUsd } };
}

/** What the rules are given: the session, the score's own pick, and the session's model with why it cannot serve, if it cannot. */
export type AffinityInput = {
  view: SessionView;
  pick: { model: Model; tier: Tier };
  /** The registry entry of the remembered model (undefined: gone from the registry). */
  warm: Model | undefined;
  /** Why the remembered model may not serve this turn: its circuit is open, the key may not use it, the context outgrew it. */
  unfit: string | undefined;
  tokens: { promptTokens: number; outputTokens: number };
};

/** Keep the session's model, or take the score's pick; with the affinity and the reason said to the client. */
export type AffinityChoice = { keep: Model | undefined; affinity: Affinity; reason: string };

/**
 * The rules of a routed turn in a session routing remembers:
 * - a tool-result continuation stays on the session's model whatever its score;
 * - a new user turn moves up whenever its score gives a higher tier;
 * - otherwise it moves (down, or to another model of the tier) only when the session's
 *   cache has expired or the cache-regret gate says the move pays;
 * - and none of them keeps a model that is unhealthy, not the key's, or outgrown.
 */
export function chooseAffinity({ view, pick, warm, unfit, tokens }: AffinityInput): AffinityChoice {
  const { remembered } = view;
  if (remembered === undefined) return { keep: undefined, affinity: "new", reason: "session new" };
  if (warm === undefined) return { keep: undefined, affinity: "moved", reason: `session's model ${remembered.model} is no longer in the registry` };
  if (unfit !== undefined) return { keep: undefined, affinity: "moved", reason: `session's model ${warm.id} ${unfit}: routed on its own` };
  if (pick.model.id === warm.id) return { keep: warm, affinity: "kept", reason: `session stays on ${warm.id}` };
  if (view.continuation) {
    return { keep: warm, affinity: "kept", reason: `tool-result continuation stays on the session's model ${warm.id} (tier ${warm.tier})` };
  }
  if (pick.tier > warm.tier) {
    return { keep: undefined, affinity: "moved", reason: `harder user turn: tier ${pick.tier} is above the session's tier ${warm.tier}` };
  }
  if (remembered.cacheUntil <= view.now) return { keep: undefined, affinity: "moved", reason: `session's cache on ${warm.id} has expired` };
  const gate = regretGate(warm, pick.model, { ...tokens, cachedTokens: remembered.promptTokens });
  const costs = `$${gate.move.usd.toFixed(6)} on ${pick.model.id} against $${gate.stay.usd.toFixed(6)} on warm ${warm.id}`;
  return gate.pays
    ? { keep: undefined, affinity: "moved", reason: `cache-regret gate: moving pays, ${costs}` }
    : { keep: warm, affinity: "kept", reason: `cache-regret gate: moving does not pay ${REGRET_MARGIN * 100}%, ${costs}` };
}

/** What a turn whose route affinity did not steer (a named model, a forced tier, SESSION_AFFINITY=off) did to its session. */
export function observedAffinity(remembered: RememberedSession | undefined, model: Model): Affinity {
  if (remembered === undefined) return "new";
  return remembered.model === model.id ? "kept" : "moved";
}
