/** The decision step every surface shares: where a canonical request goes, around the circuits now open. */

import type { CanonicalRequest } from "../canonical/request.ts";
import { asApiError } from "../http/errors.ts";
import { type Breakers, breakerOwner } from "../reliability/breakers.ts";
import { type Alias, aliasFor, DEFAULT_ALIASES } from "../routing/aliases.ts";
import { catalogModelNamed, embeds } from "../routing/catalog.ts";
import { type Decision, decide, type RoutingConfig } from "../routing/decide.ts";
import { findModel } from "../routing/registry.ts";
import type { Caller } from "../security/caller.ts";
import { type Outcome, stoppedAt } from "./outcome.ts";
import { lookUpSession, type SessionLookup, type SessionServices } from "./session-step.ts";
import { tenantCredentialProviders } from "./tenant-view.ts";

export type DecisionServices = {
  config: RoutingConfig & { aliases: readonly Alias[] };
  breakers: Pick<Breakers, "current" | "routing" | "callerRefusal">;
};

/**
 * Decides, with a model name that is an alias (a client's own name, routing/aliases.ts)
 * decided as what it stands for, under the lower of its highest tier and the key's, and
 * in its session (`session`: what routing remembers of it, engine/session-step.ts), whose
 * digest the decision carries. A registry id or a provider's id is never an alias; an
 * upstream id's last part (`gpt-5.5`) is one only of the operator's own MODEL_ALIASES,
 * which say what the operator means by it.
 */
export async function decideFor(
  services: DecisionServices,
  request: CanonicalRequest,
  caller: Caller | undefined,
  session?: Pick<SessionLookup, "view" | "digest">,
  /** The request's `waitUntil`, which takes the circuit view's refresh (Breakers.current). */
  defer?: (work: Promise<unknown>) => void,
): Promise<Decision> {
  const decision = await decideAlone(services, request, caller, session?.view, defer);
  return session === undefined ? decision : { ...decision, session: await session.digest };
}

async function decideAlone(
  services: DecisionServices,
  request: CanonicalRequest,
  caller: Caller | undefined,
  session: SessionLookup["view"] | undefined,
  defer: ((work: Promise<unknown>) => void) | undefined,
): Promise<Decision> {
  const { breakers, config } = services;
  const state = await breakers.current(defer);
  // A caller whose own requests make the providers fail is refused here, before it costs anyone a circuit.
  const refusal = breakers.callerRefusal(state, caller);
  if (refusal !== undefined) throw refusal;
  // The providers this caller calls on its own credentials (security/credential-vault.ts): their circuits are its own.
  const ownCredentials = tenantCredentialProviders(config);
  const health = breakers.routing(state, ownCredentials.length === 0 ? undefined : { owner: breakerOwner(caller), providers: ownCredentials });
  // `auto` and a tier are the router's own names: no registry look-up for them (most requests).
  const routed = request.model === "auto" || /^tier:[1-5]$/.test(request.model);
  const named = routed ? undefined : findModel(config.registry, request.model, (model) => config.providers.get(model.provider)?.configured === true);
  const own = routed || named?.id === request.model || named?.upstream_model === request.model;
  const found = own ? undefined : aliasFor(request.model, config.aliases);
  const alias = named !== undefined && found !== undefined && DEFAULT_ALIASES.includes(found) ? undefined : found;
  if (alias === undefined) return decide(request, config, caller, health, session);
  const keyTier = caller?.maxTier ?? null;
  const maxTier = alias.target.maxTier === null ? keyTier : Math.min(alias.target.maxTier, keyTier ?? 5);
  // The reason names whichever cap is the lower: the alias's, or the key's.
  const maxTierBy = alias.target.maxTier !== null && alias.target.maxTier < (keyTier ?? 6) ? `the alias '${alias.pattern}'` : "the key";
  // A name routed as auto that the catalog knows (`claude-opus-4-5`) costs no more than the model it names.
  const known = alias.target.model === "auto" ? catalogModelNamed(request.model) : undefined;
  const noDearerThan = known === undefined || embeds(known) ? undefined : known;
  const decision = decide(
    { ...request, model: alias.target.model },
    config,
    { maxTier, maxTierBy, models: caller?.models ?? null, noDearerThan },
    health,
    session,
  );
  return {
    ...decision,
    reasons: [
      `model '${request.model}' is an alias of ${alias.target.model}${alias.target.maxTier === null ? "" : `, at most tier ${alias.target.maxTier}`}`,
      ...decision.reasons,
    ],
  };
}

/**
 * The outcome of deciding alone (`/v1/route`): the decision, in the request's session as a
 * chat request would find it (the isolate's, else Redis's), or why there is none.
 */
export async function decisionOutcome(
  services: DecisionServices & SessionServices,
  request: CanonicalRequest,
  caller: Caller | undefined,
  headers: Headers,
  defer: (work: Promise<unknown>) => void,
): Promise<Outcome> {
  try {
    const session = await lookUpSession(services, request, headers, caller);
    const remembered = session.view.remembered ?? (await session.pending);
    const view = { ...session.view, remembered };
    return stoppedAt(request, await decideFor(services, request, caller, { digest: session.digest, view }, defer));
  } catch (error) {
    return stoppedAt(request, undefined, asApiError(error));
  }
}
