/**
 * The after-response batch: the one pipeline through which a finished request's work
 * reaches Redis. Each concern contributes: the audit record (queued, numbered,
 * signed), the cache write, the breakers' reports, the metrics' increments, the spend.
 * Requests close in time share one batch: one INCRBY numbers their records, one
 * pipeline carries everything (the breakers, the metrics and the spend in one Lua
 * call), and what Redis does not take goes its own way (records to Postgres or the
 * isolate's hold, increments and spend to the next batch, cache entries stay in the
 * isolate).
 *
 * Workers rule: a request may only wait on I/O it started itself. The request that
 * opens a batch (its leader) sets the timer and sends the batch from its own context,
 * and its `waitUntil` waits for that. A request that joins an open batch hands its
 * work over and waits for nothing, so no request ever waits on a promise another
 * request's context must settle (workerd cancels such a request as hung).
 */
import type { Redis } from "@upstash/redis/cloudflare";
import type { AuditRecord } from "../audit/record.ts";
import type { AuditSink, Destination } from "../audit/sink.ts";
import type { CacheWrite } from "../cache/response-cache.ts";
import type { SessionWrite } from "../cache/session-store.ts";
import type { FinishedRequest, Metrics } from "../observability/metrics.ts";
import { type Breakers, type Report, reportsFrom } from "../reliability/breakers.ts";
import type { Model } from "../routing/registry.ts";
import type { Allowances } from "../security/allowances.ts";
import type { Tracked } from "../storage/availability.ts";
import { isNoScript, runScript, type ScriptRunner } from "../storage/scripts.ts";
import { BATCH_SCRIPT, batchCall } from "./batch-script.ts";

/** What a finished request leaves for after its response. */
export type AfterWork = {
  record: AuditRecord;
  /** The request as the metrics count it. */
  finished: FinishedRequest;
  /** A stream that broke after its first byte: its last attempt failed all the same. */
  brokeMidStream: boolean;
  /** Whose request it was, as the breakers tell callers apart (reliability/breakers.ts's `breakerOwner`). */
  owner: string;
  /** The providers it called on its tenant's own credentials: their outcomes reach that tenant's circuits alone. */
  ownCredentials?: readonly string[];
  /** The Redis half of a complete answer's cache write; never set for errors or broken streams. */
  cacheWrite?: CacheWrite | undefined;
  /** The Redis half of what the answer's session remembers: its model and when its cache expires. */
  sessionWrite?: SessionWrite | undefined;
};

export type Batcher = {
  /**
   * Sends the request's work after the response, in a batch. The promise is the work
   * this request owns: the batch it leads, or nothing when it joined another's.
   */
  afterResponse(work: AfterWork): Promise<void>;
  /**
   * Sends one request's work now, in the caller's context, and says where its record
   * went. Strict mode answers by it: with nowhere durable the record is not held but
   * reported "failed", so the caller can refuse and record the refusal instead.
   */
  afterResponseNow(work: AfterWork): Promise<Destination>;
  /** Sends breaker reports on their own (the probes'; request outcomes ride the batch), through the same script. */
  sendReports(reports: readonly Report[]): Promise<void>;
};

/** A request's work with its breaker reports, read once. */
type Pending = AfterWork & { reports: Report[] };

const BATCH_MAX = 64;
/**
 * How long a batch stays open after its first request, after the response: the client
 * waits for none of it. At 10 ms rather than 2, a loaded isolate sends a third of the
 * batches, so about half the Redis commands per request (bench:profile, 10 in flight).
 * Work with a failed provider call does not wait (afterResponse).
 */
const BATCH_WAIT_MS = 10;

export function createBatcher(deps: {
  registry: readonly Model[];
  redis: (ScriptRunner & Pick<Redis, "pipeline">) | undefined;
  tracked: Tracked;
  auditSink: AuditSink;
  metrics: Metrics;
  breakers: Breakers;
  allowances: Pick<Allowances, "takeReports">;
}): Batcher {
  const { redis, tracked, auditSink, metrics, breakers, allowances } = deps;
  let open: Pending[] | undefined;
  const pending = (work: AfterWork): Pending => ({
    ...work,
    reports: reportsFrom(deps.registry, work.finished.attempts, work.brokeMidStream, work.owner, work.ownCredentials),
  });

  const sendBatch = async (batch: Pending[], hold: boolean): Promise<Destination[]> => {
    const audit = await auditSink.prepare(batch.map((work) => work.record));
    for (const work of batch) metrics.count(work.finished);
    const cacheWrites = batch.flatMap((work) => (work.cacheWrite ? [work.cacheWrite] : []));
    const sessionWrites = batch.flatMap((work) => (work.sessionWrite ? [work.sessionWrite] : []));
    const increments = metrics.take();
    const spent = allowances.takeReports();
    const spend = spent.reports.length === 0 ? undefined : { keys: spent.reports.flatMap((r) => r.keys), args: spent.reports.flatMap((r) => r.args) };
    const script = batchCall(breakers.call(batch.flatMap((work) => work.reports)), increments, spend);
    let queued = false;
    let scriptRan = false;
    if (redis !== undefined && (audit.queueable.length + cacheWrites.length + sessionWrites.length > 0 || script !== undefined)) {
      try {
        const pipeline = redis.pipeline();
        // First, so its answer (the circuits it moved) is the pipeline's first.
        if (script !== undefined) pipeline.evalsha(BATCH_SCRIPT.sha1, script.keys, script.args);
        if (audit.queueable.length > 0) pipeline.rpush(auditSink.queueKey, ...audit.queueable.map((record) => JSON.stringify(record)));
        // NX: an entry lives out its TTL; no client's answer replaces another's early.
        for (const write of cacheWrites) pipeline.set(write.key, write.value, { ex: write.ttlSeconds, nx: true });
        // Not NX: a session's last answer is what it remembers.
        for (const write of sessionWrites) pipeline.set(write.key, write.value, { ex: write.ttlSeconds });
        // Each command is judged by its own answer: one that failed leaves the others done.
        const answers = await tracked("redis", () => pipeline.exec({ keepErrors: true }));
        const pushed = answers[script === undefined ? 0 : 1];
        queued = audit.queueable.length > 0 && pushed?.error === undefined;
        if (script !== undefined) {
          let changed = answers[0]?.result;
          // A Redis that does not know the script yet (new, or flushed) ran the rest: send the script itself.
          if (isNoScript(answers[0]?.error)) changed = await tracked("redis", () => redis.eval(BATCH_SCRIPT.source, script.keys, script.args));
          else if (answers[0]?.error !== undefined) throw new Error(answers[0].error);
          scriptRan = true;
          breakers.noteTransitions(changed);
        }
      } catch {
        // Redis failed: records go to Postgres, cache entries stay in the isolate
      }
    }
    // Increments and spend the script did not apply wait for the next batch.
    if (!scriptRan) {
      increments?.putBack();
      spent.putBack();
    }
    return auditSink.storeUnqueued(audit, queued, hold);
  };

  return {
    afterResponse(work) {
      const ready = pending(work);
      // A failed provider call goes at once, in a batch of its own: the breakers must hear of it before the next request picks a model.
      if (ready.reports.some((report) => report.outcome === "fail")) return sendBatch([ready], true).then(() => undefined);
      if (open !== undefined && open.length < BATCH_MAX) {
        open.push(ready);
        return Promise.resolve();
      }
      const batch: Pending[] = [ready];
      open = batch;
      return new Promise<void>((resolve) => {
        setTimeout(() => {
          if (open === batch) open = undefined;
          void sendBatch(batch, true).then(() => resolve());
        }, BATCH_WAIT_MS);
      });
    },
    async afterResponseNow(work) {
      const [where] = await sendBatch([pending(work)], false);
      // The caller answers again, as a refusal, and that record is the one to count.
      if (where === "failed") metrics.count(work.finished, -1);
      return where!;
    },
    async sendReports(reports) {
      const call = batchCall(breakers.call(reports), undefined);
      if (call === undefined || redis === undefined) return;
      breakers.noteTransitions(await tracked("redis", () => runScript(redis, BATCH_SCRIPT, call.keys, call.args)));
    },
  };
}
