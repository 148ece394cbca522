/**
 * The audit trail middleware: every request that reaches the router, refused or
 * served, leaves exactly one record, written after the response (in strict mode,
 * before it for JSON answers).
 */
import type { Context, MiddlewareHandler } from "hono";
import { CONSTITUTIONAL_HASH } from "../config/constitution.ts";
import type { Config } from "../config/env.ts";
import type { Model } from "../config/registry.ts";
import { canonicalJson } from "../crypto/canonical-json.ts";
import { hmacSha256Hex } from "../crypto/digest.ts";
import type { AppEnv } from "../http/app-env.ts";
import type { ChatRequest } from "../openai/chat-request.ts";
import { ApiError } from "../openai/errors.ts";
import { renderError } from "../openai/render.ts";
import { type AfterContext, type AfterWork, afterResponse, afterResponseNow } from "../pipeline/after-response.ts";
import type { Attempt } from "../providers/attempts.ts";
import type { StreamOutcome } from "../providers/sse-relay.ts";
import { costUsd, type Usage } from "../providers/usage.ts";
import { vectorForAudit } from "../routing/score.ts";
import { toMicros } from "../security/budgets.ts";
import type { LimitState } from "../security/limits.ts";
import { type Settlement, settle } from "../security/settlement.ts";
import { tracked } from "../storage/availability.ts";
import { postgresFor } from "../storage/postgres.ts";
import { type AuditRecord, type CacheStatus, requestDigestKey } from "./record.ts";
import { reserveSequence } from "./sink.ts";

/** What a request's handlers learn along the way; the record is made from it at the end. */
export type AuditDraft = {
  request?: ChatRequest;
  /** The client key's id (never the key) and its tenant. */
  keyId?: string;
  tenantId?: string | null;
  /** Rate-limit states for the answer's headers, and a note when a limit went unchecked. */
  limits?: Partial<Record<"requests" | "tokens", LimitState>>;
  limitNote?: string;
  /** What was reserved before the provider call (tokens per minute, budget), settled with the real usage after. */
  settlement?: Settlement;
  route?: { tier: number; score: number; model: string; provider: string };
  /** The decision's feature vector (numbers only) and the model that scored it. */
  scoring?: { features: Float64Array; routerModel: string };
  fallbacksTried: string[];
  /** Every provider call, in order, with its outcome and time. */
  attempts?: Attempt[];
  cacheStatus: CacheStatus;
  errorCode?: string | null;
  usage?: Usage;
  /** The model whose prices the answer's tokens cost; unset for cache hits, which cost nothing. */
  pricedAs?: Model;
  upstreamMs?: number;
  /** For streamed answers: how the stream ended, known only then. */
  stream?: Promise<StreamOutcome>;
};

/** Recorded when the client hung up before its answer was sent (nginx's "client closed request"). */
const CLIENT_CLOSED = 499;

export type AuditTrailOptions = {
  /** Paths (and everything under them) that leave no record. */
  unaudited: readonly string[];
};

export function auditTrail({ unaudited }: AuditTrailOptions): MiddlewareHandler<AppEnv> {
  const skips = (path: string): boolean => unaudited.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
  return async function auditTrailMiddleware(c, next) {
    if (skips(c.req.path)) {
      await next();
      c.header("x-tiergate-cache", "BYPASS");
      return;
    }
    const config = c.get("config");
    const startedAt = Date.now();
    const draft: AuditDraft = { fallbacksTried: [], cacheStatus: "BYPASS" };
    c.set("audit", draft);
    const after: AfterContext = {};
    c.set("after", after);
    // Strict mode numbers the record up front, as its proof that Redis can take it; otherwise the batch numbers it.
    const strict = config.audit.mode === "strict";
    const sequence = strict ? await reserveSequence(config) : undefined;
    const record = async (): Promise<AuditRecord> => {
      const outcome = draft.stream ? await draft.stream : undefined;
      return buildRecord(c, draft, startedAt, sequence, outcome);
    };
    /** The request's after-response work: its record, and (for an answer the client got) its cache write. */
    const work = (made: AuditRecord, answered: boolean): AfterWork => ({
      record: made,
      cacheWrite: answered ? after.cacheWrite : undefined,
      firstTokenMs: after.firstTokenAt === undefined ? undefined : after.firstTokenAt - startedAt,
    });
    /** Sends the record with the rest of the after-response work, and settles what the request reserved. */
    const finish = (answered: boolean): Promise<unknown> =>
      record().then((made) => Promise.all([afterResponse(config, work(made, answered)), settleFor(config, draft, made)]));
    if (strict && !(await hasDurableHome(c, sequence))) {
      // Refused before any work; the refusal's own record waits in the isolate until a store answers.
      c.res = refuse(c, "Neither Redis nor Postgres can take the audit record; AUDIT_MODE=strict refuses to answer");
      c.executionCtx.waitUntil(finish(false));
      return;
    }
    await next();
    c.header("x-tiergate-cache", draft.cacheStatus);
    if (strict && draft.stream === undefined) {
      const made = await record();
      if ((await afterResponseNow(config, work(made, true))) === "failed") {
        // Nothing durable took the answer's record: the client gets a refusal, and the record says so.
        c.res = refuse(c, "The audit record could not be stored; AUDIT_MODE=strict refuses to answer");
        c.executionCtx.waitUntil(finish(false));
      } else c.executionCtx.waitUntil(settleFor(config, draft, made));
      return;
    }
    c.executionCtx.waitUntil(finish(true));
  };
}

/** Puts the request's reservations right with what it really used: nothing, for an answer that failed. */
function settleFor(config: Config, draft: AuditDraft, record: AuditRecord): Promise<void> {
  if (draft.settlement === undefined) return Promise.resolve();
  const served = record.http_status < 400;
  const tokens = served ? Number(record.prompt_tokens ?? 0) + Number(record.completion_tokens ?? 0) : 0;
  return settle(config, draft.settlement, served ? toMicros(record.cost_usd ?? 0) : 0, tokens);
}

function refuse(c: Context<AppEnv>, message: string): Response {
  const response = renderError(new ApiError(503, message, { code: "audit_unavailable" }), c);
  response.headers.set("x-tiergate-cache", c.get("audit").cacheStatus);
  return response;
}

/** Strict mode: before any work, a durable home for the record must exist (a sequence number, or Postgres). */
async function hasDurableHome(c: Context<AppEnv>, sequence: number | undefined): Promise<boolean> {
  if (sequence !== undefined) return true;
  const sql = postgresFor(c.get("config"));
  return tracked("postgres", () => sql!("SELECT 1")).then(
    () => true,
    () => false,
  );
}

async function buildRecord(
  c: Context<AppEnv>,
  draft: AuditDraft,
  startedAt: number,
  seq: number | undefined,
  outcome: StreamOutcome | undefined,
): Promise<AuditRecord> {
  const latency = Date.now() - startedAt;
  const usage = outcome?.usage ?? draft.usage;
  // A JSON answer the client hung up on was never delivered, whatever the handler made of it.
  const clientLeft = c.req.raw.signal?.aborted === true && outcome === undefined;
  const hmacKey = c.get("config").audit.hmacKey;
  const record: AuditRecord = {
    seq: seq ?? null,
    request_id: c.get("requestId"),
    ts: new Date(startedAt).toISOString(),
    constitutional_hash: CONSTITUTIONAL_HASH,
    key_id: draft.keyId ?? null,
    tier: draft.route?.tier ?? null,
    score: draft.route?.score ?? null,
    model: draft.route?.model ?? null,
    provider: draft.route?.provider ?? null,
    fallbacks_tried: draft.fallbacksTried,
    cache_status: draft.cacheStatus,
    http_status: clientLeft ? CLIENT_CLOSED : c.res.status,
    error_code: clientLeft ? "client_disconnected" : (draft.errorCode ?? outcome?.error ?? null),
    prompt_tokens: usage?.promptTokens ?? null,
    completion_tokens: usage?.completionTokens ?? null,
    // To the micro-dollar: the unit spend and budgets are kept in, so a key's spend equals the sum of its rows.
    cost_usd:
      draft.cacheStatus === "HIT" ? 0 : draft.pricedAs && usage ? toMicros(costUsd(draft.pricedAs, usage.promptTokens, usage.completionTokens)) / 1e6 : null,
    latency_ms: latency,
    upstream_ms: draft.upstreamMs ?? null,
    overhead_ms: Math.max(0, latency - (draft.upstreamMs ?? 0)),
    streamed: draft.request?.stream === true,
    truncated: outcome?.truncated ?? false,
    request_sha256: null,
  };
  if (draft.request && hmacKey !== undefined) {
    record.request_hmac = await hmacSha256Hex(await requestDigestKey(hmacKey), canonicalJson(draft.request));
  }
  if (usage?.adjusted) record.usage_adjusted = usage.adjusted;
  if (draft.tenantId) record.tenant_id = draft.tenantId;
  if (draft.limitNote) record.limit_note = draft.limitNote;
  if (draft.attempts && draft.attempts.length > 0) record.attempts = draft.attempts;
  if (draft.scoring) {
    record.features = vectorForAudit(draft.scoring.features);
    record.router_model = draft.scoring.routerModel;
  }
  return record;
}
