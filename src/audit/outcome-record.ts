/**
 * A request's audit record, made from its outcome and what the edge knows of it: what
 * was asked, where it went, what it cost, how it ended.
 */
import { CONSTITUTIONAL_HASH } from "../config/constitution.ts";
import type { Ending, Outcome } from "../engine/outcome.ts";
import { capNote } from "../engine/output-cap.ts";
import { vectorForAudit } from "../routing/score.ts";
import type { Caller } from "../security/caller.ts";
import { type LimitKind, type LimitOutcome, limitNote } from "../security/limits.ts";
import type { AuditRecord, AuditSigner } from "./record.ts";

/** What the edge of a request knows of it besides its outcome. */
export type RequestFacts = {
  requestId: string;
  startedAt: number;
  endedAt: number;
  /** Strict mode's number, reserved before any work. */
  seq: number | undefined;
  caller: Caller | undefined;
  requestLimit: LimitOutcome | undefined;
  /** The status the client got (499 when it hung up before a JSON answer). */
  status: number;
  /** The error code the client got, or the audit's fuller one. */
  errorCode: string | null;
  /** The API surface of the request's route, if it is one (surfaces/index.ts). */
  surface: string | undefined;
  /** The SHA-256 of the request body as it arrived (http/body-digest.ts), when it was read. */
  bodyDigest: Promise<string> | undefined;
};

/** What the answer is charged, in micro-dollars (engine/charge.ts): nothing for a hit, unknown when no provider answered. */
export function costMicrosOf(outcome: Outcome | undefined, ending: Ending | undefined): number | undefined {
  return outcome?.cache === "HIT" ? 0 : ending?.costMicros;
}

export async function recordOf(
  facts: RequestFacts,
  outcome: Outcome | undefined,
  ending: Ending | undefined,
  signer: AuditSigner | undefined,
): Promise<AuditRecord> {
  const latency = facts.endedAt - facts.startedAt;
  const usage = ending?.usage;
  const route = outcome?.route;
  const micros = costMicrosOf(outcome, ending);
  const record: AuditRecord = {
    seq: facts.seq ?? null,
    request_id: facts.requestId,
    ts: new Date(facts.startedAt).toISOString(),
    constitutional_hash: CONSTITUTIONAL_HASH,
    key_id: facts.caller?.keyId ?? null,
    tier: route?.tier ?? null,
    score: route?.score ?? null,
    model: route?.model ?? null,
    provider: route?.provider ?? null,
    fallbacks_tried: [...new Set(outcome?.attempts.map((attempt) => attempt.model) ?? [])],
    cache_status: outcome?.cache ?? "BYPASS",
    http_status: facts.status,
    error_code: facts.errorCode ?? ending?.streamError ?? null,
    prompt_tokens: usage?.promptTokens ?? null,
    completion_tokens: usage?.completionTokens ?? null,
    // To the micro-dollar: the unit spend and budgets are kept in, so a key's spend equals the sum of its rows.
    cost_usd: micros === undefined ? null : micros / 1e6,
    latency_ms: latency,
    upstream_ms: ending?.upstreamMs ?? null,
    overhead_ms: Math.max(0, latency - (ending?.upstreamMs ?? 0)),
    streamed: outcome?.streamed === true,
    truncated: ending?.truncated ?? false,
    request_sha256: null,
  };
  // Keyed over the body's digest: the same bytes give the same value, and no one without the key can confirm a guessed prompt.
  if (outcome !== undefined && signer !== undefined && facts.bodyDigest !== undefined) record.request_hmac = await signer.request(await facts.bodyDigest);
  if (usage?.adjusted) record.usage_adjusted = usage.adjusted;
  if (usage !== undefined) {
    // Every class, 0 when none: a row from this release says its prompt had no cache read, rather than saying nothing.
    record.cache_read_tokens = usage.cacheReadTokens ?? 0;
    record.cache_write_tokens = usage.cacheWriteTokens ?? 0;
    record.cache_write_1h_tokens = usage.cacheWrite1hTokens ?? 0;
    record.reasoning_tokens = usage.reasoningTokens ?? 0;
  }
  if (facts.caller?.tenantId) record.tenant_id = facts.caller.tenantId;
  if (facts.surface !== undefined) record.surface = facts.surface;
  if (outcome?.storedResponse !== undefined) record.stored_response = outcome.storedResponse;
  if (outcome?.decision?.session !== undefined) record.session = outcome.decision.session;
  if (outcome?.decision?.affinity !== undefined) record.affinity = outcome.decision.affinity;
  const unchecked: LimitKind[] = [];
  if (facts.requestLimit?.checked === false) unchecked.push("requests");
  if (outcome?.settlement?.tokenLimit?.checked === false) unchecked.push("tokens");
  const notes = unchecked.length > 0 ? [limitNote(unchecked)] : [];
  if (outcome?.outputCap !== undefined) notes.push(capNote(outcome.outputCap));
  if (notes.length > 0) record.limit_note = notes.join("; ");
  if (outcome !== undefined && outcome.attempts.length > 0) record.attempts = [...outcome.attempts];
  if (outcome?.decision !== undefined) {
    record.features = vectorForAudit(outcome.decision.vector);
    record.router_model = outcome.decision.modelVersion;
  }
  return record;
}
