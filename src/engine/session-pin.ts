/**
 * A turn decided again once Redis has said what it remembers of a session the isolate did
 * not know (engine/session-step.ts): pinned to the session's model when the rules keep it,
 * with what was reserved made to cover it.
 */
import type { CanonicalRequest } from "../canonical/request.ts";
import type { Config } from "../config/env.ts";
import type { Decision } from "../routing/decide.ts";
import type { Model } from "../routing/registry.ts";
import type { Caller } from "../security/caller.ts";
import { type Reserves, reserveFor, type Settlement, settle } from "../security/settlement.ts";
import { type DecisionServices, decideFor } from "./decision.ts";
import { planOf, reservationMicros } from "./plan.ts";
import { type SessionLookup, viewAfterRead } from "./session-step.ts";

export type PinServices = DecisionServices & Reserves & { config: Pick<Config, "providers" | "retry"> };

/**
 * The decision made again once Redis has said what it remembers of a session the isolate
 * did not know (engine/session-step.ts), perhaps pinned to the session's model. What was
 * reserved must cover the new pick: else it is reserved again, and if that is refused the
 * first decision stands. Undefined when Redis added nothing, or the first was refused.
 */
export async function decideInSession(
  services: PinServices,
  input: { caller: Caller | undefined; defer: (work: Promise<unknown>) => void },
  /** The request as the provider is to be sent it (its max_tokens within the key's tpm and its budget). */
  sent: CanonicalRequest,
  session: SessionLookup,
  first: Decision,
  held: Settlement | undefined,
): Promise<{ decision: Decision; plan: Model[]; settlement: Settlement | undefined } | undefined> {
  const view = await viewAfterRead(session);
  if (view === undefined || held?.refusal !== undefined) return undefined;
  const decision = await decideFor(services, sent, input.caller, { digest: session.digest, view }, input.defer);
  const plan = planOf(decision, services.config);
  const pickAlone = reservationMicros(plan.slice(0, 1), decision, sent);
  if (held?.spend === undefined || held.spend.micros >= pickAlone || decision.model === first.model) return { decision, plan, settlement: held };
  const again = await reserveFor(
    services,
    held.caller,
    { micros: reservationMicros(plan, decision, sent), orMicros: pickAlone, tokens: decision.estimatedTokens },
    input.defer,
  );
  if (again.refusal !== undefined) return undefined;
  settle(services, held, 0, 0);
  return { decision, plan, settlement: again };
}
