/**
 * The engine every surface runs a canonical chat request through: decide, look in the
 * cache, reserve, call the providers. Each step returns its value; the request ends in
 * one `Outcome`, a failure included (with what the steps before it decided and
 * reserved), so the audit trail can record it and give back what was reserved.
 */
import { cacheKey } from "../cache/key.ts";
import { type CachePolicy, type CacheStatus, cachePolicy } from "../cache/policy.ts";
import type { CachedCompletion, ResponseCache } from "../cache/response-cache.ts";
import { assembleStream, replayAsStream, type StreamAssembler } from "../cache/stream-assembly.ts";
import type { NativeRequest } from "../canonical/native.ts";
import { type CanonicalRequest, requestedOutputTokens } from "../canonical/request.ts";
import type { Config } from "../config/env.ts";
import { ApiError, asApiError } from "../http/errors.ts";
import type { RawStrings } from "../http/raw-strings.ts";
import { passesThrough } from "../providers/adapters.ts";
import { type Attempt, answerWithFallbacks } from "../providers/attempts.ts";
import { callUpstream, type UpstreamAnswer } from "../providers/upstream.ts";
import { cacheLifetimeOf } from "../routing/cost.ts";
import type { Decision } from "../routing/decide.ts";
import { IMAGE_TOKENS } from "../routing/estimate.ts";
import { findModel, type Model, TIER_NAMES } from "../routing/registry.ts";
import { BudgetSpent, hasBudget } from "../security/budgets.ts";
import type { Caller } from "../security/caller.ts";
import type { CredentialVault } from "../security/credential-vault.ts";
import { type Reserves, reserveFor, type Settlement, toGiveBack } from "../security/settlement.ts";
import { type Charge, chargeFor } from "./charge.ts";
import { type DecisionServices, decideFor } from "./decision.ts";
import { cacheScope, type GateInput, passGate } from "./gate.ts";
import { type Ending, NO_ENDING, type Outcome, routeOf, stoppedAt } from "./outcome.ts";
import { capToBudget, capToTokens, type OutputCap } from "./output-cap.ts";
import { planOf, reservationMicros } from "./plan.ts";
import { decideInSession } from "./session-pin.ts";
import { lookUpSession, rememberAnswer, type SessionLookup, type SessionServices } from "./session-step.ts";
import { credentialOf, inTenantView, tenantCredentialProviders, unchargedOn } from "./tenant-view.ts";

/** What the engine uses of the isolate's services. */
export type ChatServices = Omit<DecisionServices, "config"> &
  Reserves &
  Omit<SessionServices, "config"> & { config: Config; responseCache: ResponseCache; credentials: Pick<CredentialVault, "viewFor"> };

export type ChatInput = GateInput & {
  request: CanonicalRequest;
  /** The request's headers: its cache directives. */
  headers: Headers;
  /** The client's request signal: when the client goes, the provider call stops. */
  signal: AbortSignal | undefined;
  /** The request as its surface read it, for a provider that speaks its format (canonical/native.ts). */
  native?: NativeRequest | undefined;
  /** Its long strings as the client's bytes (http/raw-strings.ts), for the first provider call, which releases them (else the end of `runChat`). */
  raw?: RawStrings | undefined;
};

type Lookup = CachePolicy & { key: string; status: CacheStatus };

export async function runChat(shared: ChatServices, input: ChatInput): Promise<Outcome> {
  const { request, caller } = input;
  // A tenant with credentials of its own (or byok_only): every step below decides, reserves and calls on its view.
  const services = await inTenantView(shared, caller);
  let decision: Decision | undefined;
  let lookup: Lookup | undefined;
  let settlement: Settlement | undefined;
  try {
    // What the isolate remembers of the session steers the decision now; what Redis does, after the gate's wave.
    const session = await lookUpSession(services, request, input.headers, caller);
    decision = await decideFor(services, request, caller, session, input.defer);
    let sent = sentRequest(request, caller, services.config.estimatedOutputTokens);
    // A max_tokens the key's tokens per minute can never take is lowered to what it can, before the request is keyed.
    const tokensCap = caller === undefined || caller.admin ? undefined : capToTokens(decision, sent, caller.tpm);
    if (tokensCap !== undefined) ({ decision, sent } = tokensCap);
    const policy = cachePolicy(input.headers, services.config.cache, caller?.admin === true);
    // Keyed on what the provider is sent: an answer written under the router's own limit is not one written without it.
    const key =
      policy.read || policy.write ? await cacheKey(sent, decision, cacheScope(caller, request.user), keyedNative(services.config, decision, input.native)) : "";
    lookup = { ...policy, key, status: policy.read ? "MISS" : "BYPASS" };
    const refused = (reason: unknown, held: Settlement | undefined): Outcome => ({
      ...stoppedAt(request, decision, asApiError(reason)),
      cache: lookup?.status ?? "BYPASS",
      settlement: toGiveBack(held),
    });
    let plan = planOf(decision, services.config);
    const reserving = caller !== undefined && !caller.admin && services.config.providers.get(decision.model.provider)?.configured === true;
    // BYOK_BILLING=none: a pick on the tenant's own credential reserves no money, and falls back only to its own credentials.
    const uncharged = unchargedOn(services.config);
    const free = uncharged(decision.model);
    if (free) plan = plan.filter(uncharged);
    const gate = await passGate(services, input, {
      readKey: policy.read ? key : undefined,
      servable: (hit) => mayServe(caller, hit),
      // A budget that cannot hold the dearest fallback may still hold the pick alone: served by it, with no fallback.
      estimate: reserving
        ? {
            micros: free ? 0 : reservationMicros(plan, decision, sent),
            orMicros: free ? 0 : reservationMicros(plan.slice(0, 1), decision, sent),
            tokens: decision.estimatedTokens,
          }
        : undefined,
    });
    settlement = gate.settlement;
    if (gate.kind === "refused") return refused(gate.reason, settlement);
    if (gate.kind === "hit") return { ...fromCache(request, decision, gate.hit), settlement };
    const inSession = await decideInSession(services, input, sent, session, decision, settlement);
    if (inSession !== undefined) {
      // The cache was read for the first decision's target; an answer from another is not written under it.
      if (inSession.decision.model !== decision.model) lookup = { ...lookup, write: false };
      ({ decision, plan, settlement } = inSession);
    }
    const capped =
      caller !== undefined && settlement?.refusal instanceof BudgetSpent
        ? await reserveCapped(services, input, caller, decision, sent, settlement.refusal)
        : undefined;
    if (capped !== undefined) {
      ({ decision, sent } = capped.cap);
      settlement = capped.settlement;
      // An answer written under the cap is not the one asked for: it is not cached.
      lookup = { ...lookup, write: false };
    }
    return await fromProvider(services, input, { sent, decision, lookup, plan, settlement, outputCap: capped?.cap ?? tokensCap, session });
  } catch (error) {
    // Whatever was reserved before the error goes back when it is settled at nothing.
    return { ...stoppedAt(request, decision, asApiError(error)), cache: lookup?.status ?? "BYPASS", settlement: toGiveBack(settlement) };
  } finally {
    // The provider call let the body's bytes go once it had made its body; a hit, a refusal or a failed call lets them go here.
    input.raw?.release();
  }
}

/**
 * A reservation refused for a budget, made once more with `max_tokens` capped at what the
 * budget can still pay (output-cap.ts); undefined when no cap is worth sending, or it too is refused.
 * A room the isolate remembered from an earlier refusal (allowances.ts) may have shrunk
 * since: a cap refused with a smaller room is made once more at that one, fresh from Redis.
 */
async function reserveCapped(
  services: ChatServices,
  input: ChatInput,
  caller: Caller,
  decision: Decision,
  sent: CanonicalRequest,
  refusal: BudgetSpent,
): Promise<{ cap: OutputCap; settlement: Settlement } | undefined> {
  let room = refusal.roomMicros;
  for (let tries = 0; tries < 2; tries++) {
    const cap = capToBudget(decision, sent, room);
    if (cap === undefined) return undefined;
    const estimate = { micros: reservationMicros([cap.decision.model], cap.decision, cap.sent), tokens: cap.decision.estimatedTokens };
    const settlement = await reserveFor(services, caller, estimate, input.defer);
    if (settlement.refusal === undefined) return { cap, settlement };
    if (!(settlement.refusal instanceof BudgetSpent) || settlement.refusal.roomMicros >= room) return undefined;
    room = settlement.refusal.roomMicros;
  }
  return undefined;
}

/**
 * The request as the provider is sent it: as the client sent it, but under a budget an
 * answer that sets no limit is bounded by ESTIMATED_OUTPUT_TOKENS, what was reserved for it.
 */
function sentRequest(request: CanonicalRequest, caller: Caller | undefined, estimatedOutputTokens: number): CanonicalRequest {
  const budgeted = caller !== undefined && !caller.admin && hasBudget(caller);
  return budgeted && requestedOutputTokens(request) === undefined ? { ...request, max_tokens: estimatedOutputTokens } : request;
}

/**
 * The surface's own request, where the cache keys it: when the pick's provider is sent it as
 * it is (a pass-through), the entry is the surface's alone; otherwise the canonical request
 * is all any provider gets, and its entry is shared by every surface that asks it.
 */
function keyedNative(config: Config, decision: Decision, native: NativeRequest | undefined): NativeRequest | undefined {
  return passesThrough(config.providers.get(decision.model.provider), native) ? native : undefined;
}

function mayServe(caller: Caller | undefined, hit: CachedCompletion): boolean {
  if (caller === undefined) return true;
  return (caller.models === null || caller.models.includes(hit.model)) && (caller.maxTier === null || (hit.tier ?? 0) <= caller.maxTier);
}

function fromCache(request: CanonicalRequest, decision: Decision, hit: CachedCompletion): Outcome {
  return {
    ...stoppedAt(request, decision),
    route: { tier: hit.tier, score: hit.score, model: hit.model, provider: hit.provider },
    cache: "HIT",
    // A streamed request is answered as the stream the provider would have sent.
    answer:
      request.stream === true
        ? { kind: "replay", body: replayAsStream(hit.body, request.stream_options?.include_usage === true) }
        : { kind: "json", text: hit.body },
    ending: Promise.resolve({ ...NO_ENDING, usage: hit.usage }),
  };
}

/** What the steps before the provider call decided and reserved. `sent` is the request as the provider gets it; the outcome keeps the client's, which its audit record digests. */
type Prepared = {
  sent: CanonicalRequest;
  decision: Decision;
  lookup: Lookup;
  plan: Model[];
  settlement: Settlement | undefined;
  outputCap: OutputCap | undefined;
  /** The request's session: what it remembers once a model has answered. */
  session: SessionLookup;
};

async function fromProvider(services: ChatServices, input: ChatInput, prepared: Prepared): Promise<Outcome> {
  const { config } = services;
  const { request, caller } = input;
  const { sent, decision, lookup, settlement } = prepared;
  let { plan } = prepared;
  // Nothing is charged for a request stopped here (but see a client's hang-up below): its tokens headers show the debit given back.
  const stopped = (error: unknown, held?: Settlement, attempts: Attempt[] = []): Outcome => ({
    ...stoppedAt(request, decision, asApiError(error)),
    cache: lookup.status,
    settlement: toGiveBack(held),
    attempts,
    tenantCredentials: tenantCredentialProviders(config),
  });
  const provider = config.providers.get(decision.model.provider);
  if (provider === undefined || !provider.configured) return stopped(notConfigured(decision, config));
  const uncharged = unchargedOn(config);
  // What was reserved is the pick's alone, not its dearest fallback's: the pick alone serves it (a plan charged nothing reserved nothing).
  if (settlement?.spend !== undefined && !plan.every(uncharged) && settlement.spend.micros < reservationMicros(plan, decision, sent)) plan = plan.slice(0, 1);
  if (settlement?.refusal !== undefined) return stopped(settlement.refusal, settlement);
  const output = requestedOutputTokens(sent);
  const chargeAt = (model: Model, reported: Charge["usage"] | undefined, sentChars: number, writtenChars: number): Charge =>
    chargeFor({
      model,
      reported,
      promptEstimate: decision.promptTokens,
      promptFloor: decision.promptTokens - IMAGE_TOKENS * decision.images,
      sent: { chars: sentChars, images: decision.images },
      writtenChars,
      completionLimit: (output ?? model.context_window) * (request.n ?? 1),
      // A model on the tenant's own credential under BYOK_BILLING=none is charged nothing, so its cost is not bounded by the reservation.
      reservedMicros: caller !== undefined && hasBudget(caller) && !uncharged(model) ? settlement?.spend?.micros : undefined,
      cacheLifetime: cacheLifetimeOf(sent),
    });
  const stream = request.stream === true;
  const attempts: Attempt[] = [];
  const startedAt = Date.now();
  let assembler: StreamAssembler | undefined;
  const call = (model: Model): Promise<UpstreamAnswer> => {
    assembler = stream && lookup.write ? assembleStream() : undefined;
    return callUpstream({
      provider: config.providers.get(model.provider)!,
      request: sent,
      upstreamModel: model.upstream_model,
      stream,
      clientWantsUsage: request.stream_options?.include_usage === true,
      timeoutMs: config.upstreamTimeoutMs,
      secrets: config.secrets,
      clientSignal: input.signal,
      sessionKey: decision.session,
      native: input.native,
      raw: input.raw,
      ...(assembler ? { onData: assembler.add } : {}),
    });
  };
  let served: { model: Model; answer: UpstreamAnswer };
  try {
    served = await answerWithFallbacks(plan, config.retry, call, attempts);
  } catch (error) {
    const failed = stopped(error, settlement, attempts);
    // A client that hung up after its request went out: the provider has the prompt, and bills it.
    const last = attempts.at(-1);
    const gone = last?.outcome === "client_disconnected" ? findModel(config.registry, last.model) : undefined;
    if (gone === undefined) return failed;
    const charged = chargeAt(gone, undefined, 0, 0);
    // On the tenant's own credential with BYOK_BILLING=none, its budget pays nothing for it, as for an answer.
    return { ...failed, pricedAs: gone, uncharged: uncharged(gone), ending: Promise.resolve({ ...NO_ENDING, ...charged }) };
  }
  const { model, answer } = served;
  const charge = (reported: Charge["usage"] | undefined, writtenChars: number): Charge => chargeAt(model, reported, answer.sentChars, writtenChars);
  // The provider has the prompt, and caches it: the session is remembered on this model, however the answer ends.
  const sessionWrite = rememberAnswer(services, prepared.session, decision.session, request, model, decision.promptTokens);
  /**
   * The cache write for a complete answer; the isolate's copy is made now, Redis's goes in the after-response batch.
   * A pass-through answer is in the client's format, which the cache neither keeps nor replays: it is not written.
   */
  const cacheWrite = (body: string | undefined, usage: Ending["usage"]) =>
    body === undefined || !lookup.write || answer.native
      ? undefined
      : services.responseCache.prepareWrite(
          lookup.key,
          { body, usage, model: model.id, provider: model.provider, tier: model.tier, score: decision.score },
          lookup.ttlSeconds,
        );
  // The model that answered is the one the client is told of, the record keeps, and the tokens are priced at.
  const outcome = {
    ...stoppedAt(request, decision),
    route: routeOf({ ...decision, model, tier: model.tier }),
    cache: lookup.status,
    settlement,
    attempts,
    pricedAs: model,
    credential: credentialOf(config, model.provider),
    uncharged: uncharged(model),
    tenantCredentials: tenantCredentialProviders(config),
    outputCap: prepared.outputCap === undefined ? undefined : { asked: prepared.outputCap.asked, cap: prepared.outputCap.cap, by: prepared.outputCap.by },
  };
  if (answer.stream) {
    const firstTokenAt = Date.now(); // the relay has read the stream's first event
    const ending = answer.outcome.then((end): Ending => {
      // What was sent and relayed is charged, however the stream ended.
      const charged = charge(end.usage, end.relayedChars);
      return {
        ...charged,
        truncated: end.truncated,
        streamError: end.error,
        upstreamMs: Date.now() - startedAt,
        cacheWrite: assembler && !end.truncated ? cacheWrite(assembler.result(), charged.usage) : undefined,
        sessionWrite,
      };
    });
    return { ...outcome, answer: { kind: "stream", body: answer.body, ...(answer.native ? { native: true as const } : {}) }, firstTokenAt, ending };
  }
  const charged = charge(answer.usage, answer.outputChars);
  const ending: Ending = {
    ...NO_ENDING,
    ...charged,
    upstreamMs: Date.now() - startedAt,
    cacheWrite: answer.complete ? cacheWrite(answer.text, charged.usage) : undefined,
    sessionWrite,
  };
  return { ...outcome, answer: { kind: "json", text: answer.text, ...(answer.native ? { native: true as const } : {}) }, ending: Promise.resolve(ending) };
}

/** 503 naming every variable that would let some model of the chosen tier serve. */
function notConfigured(decision: Decision, config: Config): ApiError {
  const tierProviders = new Set(config.registry.filter((m) => m.tier === decision.tier).map((m) => m.provider));
  const variables = [...tierProviders].map((id) => config.providers.get(id)?.configureWith ?? id);
  return new ApiError(
    503,
    `No provider is configured for tier ${decision.tier} (${TIER_NAMES[decision.tier]}). Set ${[...new Set(variables)].join(" or ")} (wrangler secret put in production, .dev.vars locally).`,
    { code: "provider_not_configured" },
  );
}
