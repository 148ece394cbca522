/**
 * The audit trail middleware: every request that reaches the router, refused or
 * served, leaves exactly one record, written after the response (in strict mode,
 * before it for JSON answers).
 */
import type { Context, MiddlewareHandler } from "hono";
import type { CacheWrite } from "../cache/response-cache.ts";
import { CONSTITUTIONAL_HASH } from "../config/constitution.ts";
import { canonicalJson } from "../crypto/canonical-json.ts";
import { sha256Hex } from "../crypto/digest.ts";
import type { AppEnv } from "../http/app-env.ts";
import type { ChatRequest } from "../openai/chat-request.ts";
import { ApiError } from "../openai/errors.ts";
import type { StreamOutcome } from "../providers/sse-relay.ts";
import { costUsd, type Usage } from "../providers/usage.ts";
import type { Model } from "../config/registry.ts";
import { postgresFor } from "../storage/postgres.ts";
import { tracked } from "../storage/availability.ts";
import type { AuditRecord, CacheStatus } from "./record.ts";
import { reserveSequence, writeRecord } from "./sink.ts";

/** What a request's handlers learn along the way; the record is made from it at the end. */
export type AuditDraft = {
  request?: ChatRequest;
  route?: { tier: number; score: number; model: string; provider: string };
  fallbacksTried: string[];
  cacheStatus: CacheStatus;
  errorCode?: string | null;
  usage?: Usage;
  /** The model whose prices the answer's tokens cost; unset for cache hits, which cost nothing. */
  pricedAs?: Model;
  upstreamMs?: number;
  /** For streamed answers: how the stream ended, known only then. */
  stream?: Promise<StreamOutcome>;
  /** The Redis half of a complete answer's cache write, sent with the record; never set for errors or broken streams. */
  cacheWrite?: CacheWrite | undefined;
};

export function auditTrail(): MiddlewareHandler<AppEnv> {
  return async function auditTrailMiddleware(c, next) {
    // Health probes come every few seconds from load balancers; they are not requests a tenant makes.
    if (c.req.path === "/health") {
      await next();
      c.header("x-tiergate-cache", "BYPASS");
      return;
    }
    const config = c.get("config");
    const startedAt = Date.now();
    const draft: AuditDraft = { fallbacksTried: [], cacheStatus: "BYPASS" };
    c.set("audit", draft);
    // Strict mode numbers the record up front, as its proof that Redis can take it; otherwise the batch numbers it.
    const strict = config.audit.mode === "strict";
    const sequence = strict ? reserveSequence(config) : Promise.resolve(undefined);
    const finish = async (): Promise<string> => {
      const outcome = draft.stream ? await draft.stream : undefined;
      const record = await buildRecord(c, draft, startedAt, await sequence, outcome);
      return writeRecord(config, record, draft.cacheWrite);
    };
    if (strict && !(await hasDurableHome(c, sequence))) {
      // Refused before any work; the refusal's own record waits in the isolate until a store answers.
      const refusal = new ApiError(503, "Neither Redis nor Postgres can take the audit record; AUDIT_MODE=strict refuses to answer", {
        code: "audit_unavailable",
      });
      draft.errorCode = refusal.code;
      c.header("x-tiergate-cache", draft.cacheStatus);
      c.res = c.json(refusal.toBody(), refusal.status);
      c.executionCtx.waitUntil(finish());
      return c.res;
    }
    await next();
    c.header("x-tiergate-cache", draft.cacheStatus);
    if (strict && draft.stream === undefined) {
      if ((await finish()) === "held") {
        const refusal = new ApiError(503, "The audit record could not be stored; AUDIT_MODE=strict refuses to answer", {
          code: "audit_unavailable",
        });
        c.res = c.json(refusal.toBody(), refusal.status);
      }
      return;
    }
    c.executionCtx.waitUntil(finish());
  };
}

/** Strict mode: before any work, a durable home for the record must exist (a sequence number, or Postgres). */
async function hasDurableHome(c: Context<AppEnv>, sequence: Promise<number | undefined>): Promise<boolean> {
  if ((await sequence) !== undefined) return true;
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
  return {
    seq: seq ?? null,
    request_id: c.get("requestId"),
    ts: new Date(startedAt).toISOString(),
    constitutional_hash: CONSTITUTIONAL_HASH,
    key_id: null,
    tier: draft.route?.tier ?? null,
    score: draft.route?.score ?? null,
    model: draft.route?.model ?? null,
    provider: draft.route?.provider ?? null,
    fallbacks_tried: draft.fallbacksTried,
    cache_status: draft.cacheStatus,
    http_status: c.res.status,
    error_code: draft.errorCode ?? (outcome?.error ?? null),
    prompt_tokens: usage?.promptTokens ?? null,
    completion_tokens: usage?.completionTokens ?? null,
    cost_usd: draft.cacheStatus === "HIT" ? 0 : draft.pricedAs && usage ? costUsd(draft.pricedAs, usage.promptTokens, usage.completionTokens) : null,
    latency_ms: latency,
    upstream_ms: draft.upstreamMs ?? null,
    overhead_ms: Math.max(0, latency - (draft.upstreamMs ?? 0)),
    streamed: draft.request?.stream === true,
    truncated: outcome?.truncated ?? false,
    request_sha256: draft.request ? await sha256Hex(canonicalJson(draft.request)) : null,
  };
}
