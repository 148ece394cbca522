/** The `x-tiergate-*` headers of an answer, each from the one value that decides it. */

import { headerSafe } from "../http/header-text.ts";
import type { Decision } from "../routing/decide.ts";
import type { Outcome, Route } from "./outcome.ts";

/** The decision's own: its score and the reasons behind it. */
function decisionHeaders(decision: Decision): Record<string, string> {
  const headers: Record<string, string> = {
    "x-tiergate-score": String(decision.score),
    "x-tiergate-reason": headerSafe(decision.reasons.join("; ")),
  };
  // The session's digest, never the id the client sent; its affinity's reason is among the decision's.
  if (decision.session !== undefined) headers["x-tiergate-session"] = decision.session;
  if (decision.affinity !== undefined) headers["x-tiergate-affinity"] = decision.affinity;
  return headers;
}

function routeHeaders(route: Route): Record<string, string> {
  const headers: Record<string, string> = { "x-tiergate-model": route.model, "x-tiergate-provider": route.provider };
  // An embedding model has no tier.
  if (route.tier !== null) headers["x-tiergate-tier"] = String(route.tier);
  return headers;
}

/**
 * Everything a chat answer says of itself before its body: where it went, what each
 * attempt did, and (for a JSON answer) what it cost. The rate-limit headers are the key
 * middleware's (middleware/api-keys.ts).
 */
export async function outcomeHeaders(outcome: Outcome): Promise<Record<string, string>> {
  const headers: Record<string, string> = {};
  if (outcome.decision !== undefined) Object.assign(headers, decisionHeaders(outcome.decision));
  if (outcome.route !== undefined) Object.assign(headers, routeHeaders(outcome.route));
  if (outcome.outputCap !== undefined) headers["x-tiergate-max-tokens"] = String(outcome.outputCap.cap);
  if (outcome.attempts.length > 0) headers["x-tiergate-attempts"] = headerSafe(outcome.attempts.map((a) => `${a.model} ${a.outcome} ${a.ms}ms`).join(", "));
  // A stream's cost is known only at its end, after the headers: only its record has it.
  const micros = outcome.cache === "HIT" ? 0 : outcome.answer?.kind === "json" ? (await outcome.ending).costMicros : undefined;
  if (micros !== undefined) headers["x-tiergate-cost-usd"] = (micros / 1e6).toFixed(8);
  return headers;
}
