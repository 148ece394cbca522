/** The decision step every surface shares: where a canonical request goes, around the circuits now open. */

import type { CanonicalRequest } from "../canonical/request.ts";
import { asApiError } from "../http/errors.ts";
import type { Breakers } from "../reliability/breakers.ts";
import { type Decision, decide, type RoutingConfig } from "../routing/decide.ts";
import type { Caller } from "../security/caller.ts";
import { type Outcome, stoppedAt } from "./outcome.ts";

export type DecisionServices = { config: RoutingConfig; breakers: Pick<Breakers, "current" | "routing"> };

export async function decideFor(services: DecisionServices, request: CanonicalRequest, caller: Caller | undefined): Promise<Decision> {
  const { breakers } = services;
  return decide(request, services.config, caller, breakers.routing(await breakers.current()));
}

/** The outcome of deciding alone (`/v1/route`): the decision, or why there is none. */
export async function decisionOutcome(services: DecisionServices, request: CanonicalRequest, caller: Caller | undefined): Promise<Outcome> {
  try {
    return stoppedAt(request, await decideFor(services, request, caller));
  } catch (error) {
    return stoppedAt(request, undefined, asApiError(error));
  }
}
