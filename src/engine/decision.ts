/** The decision step every surface shares: where a canonical request goes, around the circuits now open. */

import type { CanonicalRequest } from "../canonical/request.ts";
import type { Breakers } from "../reliability/breakers.ts";
import { type Decision, decide, type RoutingConfig } from "../routing/decide.ts";
import type { Caller } from "../security/caller.ts";

export type DecisionServices = { config: RoutingConfig; breakers: Pick<Breakers, "current" | "routing"> };

export async function decideFor(services: DecisionServices, request: CanonicalRequest, caller: Caller | undefined): Promise<Decision> {
  const { breakers } = services;
  return decide(request, services.config, caller, breakers.routing(await breakers.current()));
}
