/**
 * The after-response batch: the one pipeline through which a finished request's work
 * reaches Redis. Each concern contributes: the audit record (queued, numbered,
 * signed), the cache write, the breakers' reports, the metrics' increments. Requests
 * close in time share one batch: one INCRBY numbers their records, one pipeline
 * carries everything (the breakers and the metrics in one Lua call), and what Redis
 * does not take goes its own way (records to Postgres or the isolate's hold,
 * increments to the next batch, cache entries stay in the isolate).
 *
 * Workers rule: a request may only wait on I/O it started itself. The request that
 * opens a batch (its leader) sets the timer and sends the batch from its own context,
 * and its `waitUntil` waits for that. A request that joins an open batch hands its
 * work over and waits for nothing, so no request ever waits on a promise another
 * request's context must settle (workerd cancels such a request as hung).
 */
import type { AuditRecord } from "../audit/record.ts";
import { type Destination, prepareAudit, queueKey, storeUnqueued } from "../audit/sink.ts";
import type { CacheWrite } from "../cache/response-cache.ts";
import type { Config } from "../config/env.ts";
import { count, takeIncrements } from "../observability/metrics.ts";
import { breakerCall, noteTransitions, type Report, reportsFrom } from "../reliability/breakers.ts";
import { tracked } from "../storage/availability.ts";
import { redisFor } from "../storage/redis.ts";
import { BATCH_SCRIPT, batchCall } from "./batch-script.ts";

/** What a finished request leaves for after its response. */
export type AfterWork = {
  record: AuditRecord;
  /** The Redis half of a complete answer's cache write; never set for errors or broken streams. */
  cacheWrite?: CacheWrite | undefined;
  /** Streams: when the provider's first event arrived, from the request's start (for the metrics). */
  firstTokenMs?: number | undefined;
};

/** What a request's handlers leave for the batch as they go (the audit draft carries the rest). */
export type AfterContext = {
  cacheWrite?: CacheWrite | undefined;
  /** When a stream's first event arrived (ms since the epoch). */
  firstTokenAt?: number | undefined;
};

/** A request's work with its breaker reports, read from its record once. */
type Pending = AfterWork & { reports: Report[] };
const pending = (config: Config, work: AfterWork): Pending => ({ ...work, reports: reportsFrom(config, work.record) });

let open: Pending[] | undefined;
const BATCH_MAX = 64;
/**
 * How long a batch stays open after its first request, after the response: the client
 * waits for none of it. At 10 ms rather than 2, a loaded isolate sends a third of the
 * batches, so about half the Redis commands per request (bench:profile, 10 in flight).
 * Work with a failed provider call does not wait (afterResponse).
 */
const BATCH_WAIT_MS = 10;

/**
 * Sends the request's work after the response, in a batch. The promise is the work
 * this request owns: the batch it leads, or nothing when it joined another's.
 */
export function afterResponse(config: Config, work: AfterWork): Promise<void> {
  const ready = pending(config, work);
  // A failed provider call goes at once, in a batch of its own: the breakers must hear of it before the next request picks a model.
  if (ready.reports.some((report) => report.outcome === "fail")) return sendBatch(config, [ready], true).then(() => undefined);
  if (open !== undefined && open.length < BATCH_MAX) {
    open.push(ready);
    return Promise.resolve();
  }
  const batch: Pending[] = [ready];
  open = batch;
  return new Promise<void>((resolve) => {
    setTimeout(() => {
      if (open === batch) open = undefined;
      void sendBatch(config, batch, true).then(() => resolve());
    }, BATCH_WAIT_MS);
  });
}

/**
 * Sends one request's work now, in the caller's context, and says where its record
 * went. Strict mode answers by it: with nowhere durable the record is not held but
 * reported "failed", so the caller can refuse and record the refusal instead.
 */
export async function afterResponseNow(config: Config, work: AfterWork): Promise<Destination> {
  const [where] = await sendBatch(config, [pending(config, work)], false);
  // The caller answers again, as a refusal, and that record is the one to count.
  if (where === "failed") count(config, work.record, { firstTokenMs: work.firstTokenMs }, -1);
  return where!;
}

async function sendBatch(config: Config, batch: Pending[], hold: boolean): Promise<Destination[]> {
  const records = batch.map((work) => work.record);
  const audit = await prepareAudit(config, records);
  for (const work of batch) count(config, work.record, { firstTokenMs: work.firstTokenMs });
  const cacheWrites = batch.flatMap((work) => (work.cacheWrite ? [work.cacheWrite] : []));
  const breakers = breakerCall(
    config,
    batch.flatMap((work) => work.reports),
  );
  const increments = takeIncrements(config);
  const script = batchCall(breakers, increments);
  const redis = redisFor(config);
  let queued = false;
  if (redis !== undefined && (audit.queueable.length + cacheWrites.length > 0 || script !== undefined)) {
    try {
      const pipeline = redis.pipeline();
      // First, so its answer (the circuits it moved) is the pipeline's first.
      if (script !== undefined) pipeline.eval(BATCH_SCRIPT, script.keys, script.args);
      if (audit.queueable.length > 0) pipeline.rpush(queueKey(config), ...audit.queueable.map((record) => JSON.stringify(record)));
      // NX: an entry lives out its TTL; no client's answer replaces another's early.
      for (const write of cacheWrites) pipeline.set(write.key, write.value, { ex: write.ttlSeconds, nx: true });
      const answers = await tracked("redis", () => pipeline.exec());
      if (script !== undefined) noteTransitions(config, answers[0]);
      queued = true;
    } catch {
      // Redis failed: records go to Postgres, increments wait for the next batch, cache entries stay in the isolate
      increments?.putBack();
    }
  }
  return storeUnqueued(config, audit, queued, hold);
}
