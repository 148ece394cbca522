/** A finished request as the metrics count it, made from its outcome (as its audit record is, by audit/outcome-record.ts). */
import { costMicrosOf, type RequestFacts } from "../audit/outcome-record.ts";
import type { CacheStatus } from "../cache/policy.ts";
import { CONSTITUTIONAL_HASH } from "../config/constitution.ts";
import type { Ending, Outcome } from "../engine/outcome.ts";
import type { FinishedRequest } from "./metrics.ts";

/** The request as the metrics count it; `recordHash` is the constitutional hash its record carries. */
export function finishedOf(facts: RequestFacts, outcome: Outcome | undefined, ending: Ending | undefined, recordHash: string | null): FinishedRequest {
  const latencyMs = facts.endedAt - facts.startedAt;
  const cache: CacheStatus = outcome?.cache ?? "BYPASS";
  const upstreamMs = ending?.upstreamMs ?? null;
  return {
    tier: outcome?.route?.tier ?? null,
    model: outcome?.route?.model ?? null,
    provider: outcome?.route?.provider ?? null,
    status: facts.status,
    cache,
    latencyMs,
    overheadMs: Math.max(0, latencyMs - (upstreamMs ?? 0)),
    upstreamMs,
    firstTokenMs: outcome?.firstTokenAt === undefined ? undefined : outcome.firstTokenAt - facts.startedAt,
    promptTokens: ending?.usage?.promptTokens ?? 0,
    completionTokens: ending?.usage?.completionTokens ?? 0,
    // As the tokens are: a hit's are those of the answer it replays, so the read share is the answers'.
    classes: {
      cacheRead: ending?.usage?.cacheReadTokens ?? 0,
      cacheWrite: ending?.usage?.cacheWriteTokens ?? 0,
      cacheWrite1h: ending?.usage?.cacheWrite1hTokens ?? 0,
      reasoning: ending?.usage?.reasoningTokens ?? 0,
    },
    costMicros: costMicrosOf(outcome, ending) ?? 0,
    attempts: outcome?.attempts ?? [],
    compliant: recordHash === CONSTITUTIONAL_HASH,
  };
}
