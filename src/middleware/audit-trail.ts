/**
 * The audit trail middleware: every request that reaches the router, refused or
 * served, leaves exactly one record, made from its outcome and written after the
 * response (in strict mode, before it for JSON answers). It also puts right what the
 * request reserved, and sets `x-tiergate-cache`.
 */
import type { Context, MiddlewareHandler } from "hono";
import { type RequestFacts, recordOf } from "../audit/outcome-record.ts";
import type { Ending, Outcome, OutcomeVariables } from "../engine/outcome.ts";
import { bodyDigestOf } from "../http/body-digest.ts";
import { ApiError, asApiError } from "../http/errors.ts";
import { finishedOf } from "../observability/finished.ts";
import type { AfterWork } from "../pipeline/after-response.ts";
import { breakerOwner } from "../reliability/breakers.ts";
import { settle } from "../security/settlement.ts";
import type { Services } from "../services/index.ts";
import { surfaceName } from "../surfaces/index.ts";
import type { KeyVariables } from "./api-keys.ts";
import type { With } from "./edge.ts";
import { renderError } from "./render-error.ts";
import { setResponseHeaders } from "./response-headers.ts";

/** Recorded when the client hung up before its answer was sent (nginx's "client closed request"). */
const CLIENT_CLOSED = 499;

export type AuditTrailOptions = {
  /** Paths (and everything under them) that leave no record. */
  unaudited: readonly string[];
};

type TrailContext = Context<With<KeyVariables & OutcomeVariables>>;

export function auditTrail({ unaudited }: AuditTrailOptions): MiddlewareHandler<With<KeyVariables & OutcomeVariables>> {
  const skips = (path: string): boolean => unaudited.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
  return async function auditTrailMiddleware(c, next) {
    if (skips(c.req.path)) {
      await next();
      setResponseHeaders(c, { "x-tiergate-cache": "BYPASS" });
      return;
    }
    const services = c.get("services");
    const startedAt = Date.now();
    // Strict mode numbers the record up front, as its proof that Redis can take it; otherwise the batch numbers it.
    const strict = services.config.audit.mode === "strict";
    const seq = strict ? await services.auditSink.reserveSequence() : undefined;
    if (strict && !(await hasDurableHome(services, seq))) {
      // Refused before any work; the refusal's own record waits in the isolate until a store answers.
      const refusal = refuse(c, "Neither Redis nor Postgres can take the audit record; AUDIT_MODE=strict refuses to answer");
      c.executionCtx.waitUntil(finish(c, services, { startedAt, seq }, refusal));
      return;
    }
    await next();
    const outcome = c.get("outcome");
    setResponseHeaders(c, { "x-tiergate-cache": outcome?.cache ?? "BYPASS" });
    // A live stream's record can only be made once it ends: strict mode writes it after, like any other.
    if (strict && outcome?.answer?.kind !== "stream") {
      // Settled first, so the spend is counted in the batch that carries the record.
      await settleFor(services, outcome);
      const work = await workOf(c, services, { startedAt, seq }, undefined);
      if ((await services.batcher.afterResponseNow(work)) === "failed") {
        // Nothing durable took the answer's record: the client gets a refusal, and the record says so.
        const refusal = refuse(c, "The audit record could not be stored; AUDIT_MODE=strict refuses to answer");
        c.executionCtx.waitUntil(finish(c, services, { startedAt, seq }, refusal, true));
      }
      return;
    }
    c.executionCtx.waitUntil(finish(c, services, { startedAt, seq }, undefined));
  };
}

type Start = { startedAt: number; seq: number | undefined };

/** Settles what the request reserved, and sends the record and the spend with the rest of the after-response work. */
async function finish(c: TrailContext, services: Services, start: Start, refusal: ApiError | undefined, settledAlready = false): Promise<void> {
  // Settling does not wait for the record (a record that cannot be made must not leave a reservation held), and comes
  // before the batch, which counts its spend.
  const settled = settledAlready ? undefined : settleFor(services, c.get("outcome"));
  const work = await workOf(c, services, start, refusal);
  await settled;
  await services.batcher.afterResponse(work);
}

/**
 * The request's after-response work: its record, the event the breakers and metrics
 * hear, and (for an answer the client got) its cache write. A refusal keeps the
 * outcome: the record says what the request did before it was refused.
 */
async function workOf(c: TrailContext, services: Services, start: Start, refusal: ApiError | undefined): Promise<AfterWork> {
  const outcome = c.get("outcome");
  const ending: Ending | undefined = outcome === undefined ? undefined : await outcome.ending;
  // A JSON answer (or a replayed one) the client hung up on was never delivered, whatever the handler made of it.
  const clientLeft = c.req.raw.signal?.aborted === true && outcome?.answer?.kind !== "stream";
  const error = refusal ?? c.error;
  const facts: RequestFacts = {
    requestId: c.get("requestId"),
    startedAt: start.startedAt,
    endedAt: Date.now(),
    seq: start.seq,
    caller: c.get("caller"),
    requestLimit: c.get("requestLimit"),
    status: refusal !== undefined ? refusal.status : clientLeft ? CLIENT_CLOSED : c.res.status,
    // An error that is not the router's own was answered as a 500 internal_error (app.ts).
    errorCode: refusal !== undefined ? refusal.auditCode : clientLeft ? "client_disconnected" : error === undefined ? null : asApiError(error).auditCode,
    surface: surfaceName(c.req.path),
    bodyDigest: bodyDigestOf(c.req.raw),
  };
  const record = await recordOf(facts, outcome, ending, services.signer);
  return {
    record,
    finished: finishedOf(facts, outcome, ending, record.constitutional_hash),
    brokeMidStream: ending?.truncated === true && record.error_code !== "client_disconnected",
    owner: breakerOwner(facts.caller),
    cacheWrite: facts.status < 400 ? ending?.cacheWrite : undefined,
    sessionWrite: ending?.sessionWrite,
  };
}

/**
 * Puts the request's reservations right with what it really used: what a provider
 * served is charged, whatever the client got (a cut stream, a hang-up, strict mode's
 * refusal); nothing, when no provider answered.
 */
async function settleFor(services: Services, outcome: Outcome | undefined): Promise<void> {
  if (outcome?.settlement === undefined) return;
  const ending = await outcome.ending;
  const charged = ending.costMicros;
  const tokens = charged === undefined ? 0 : (ending.usage?.promptTokens ?? 0) + (ending.usage?.completionTokens ?? 0);
  settle(services, outcome.settlement, charged ?? 0, tokens);
}

function refuse(c: TrailContext, message: string): ApiError {
  const error = new ApiError(503, message, { code: "audit_unavailable" });
  c.res = renderError(error, c);
  c.res.headers.set("x-tiergate-cache", c.get("outcome")?.cache ?? "BYPASS");
  return error;
}

/** Strict mode: before any work, a durable home for the record must exist (a sequence number, or Postgres). */
async function hasDurableHome(services: Services, seq: number | undefined): Promise<boolean> {
  if (seq !== undefined) return true;
  const { sql, stores } = services;
  return stores
    .tracked("postgres", () => sql!("SELECT 1"))
    .then(
      () => true,
      () => false,
    );
}
