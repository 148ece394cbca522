/**
 * Audit verification: walks the whole log in sequence order and names every gap,
 * every row whose HMAC does not match its columns, every row without the
 * constitutional hash, and every record quarantined by the flush. Given the Redis
 * counter and the queue, it also names numbers that were issued but are stored
 * nowhere (deleted newest rows, a lost queue). Used by `npm run audit:verify`.
 */
import { CONSTITUTIONAL_HASH } from "../config/constitution.ts";
import { hmacSigner } from "../crypto/digest.ts";
import { hasValidHmac, recordFromRow } from "./record.ts";

export type Query = (text: string, params: readonly unknown[]) => Promise<Record<string, unknown>[]>;

type Range = { from: number; to: number };

/** What Redis says: the highest number it has issued, and the numbers still waiting in its queue. */
export type IssuedNumbers = { counter: number; queued: readonly number[] };

export type VerifyReport = {
  checked: number;
  lastSeq: number;
  /** Sequence numbers missing from 1 to the last stored one, as inclusive ranges (quarantined and queued ones excepted). */
  gaps: Range[];
  duplicates: number[];
  badHmac: { seq: number | null; request_id: string }[];
  missingHash: { seq: number | null; request_id: string }[];
  /** Rows written while Redis was down, not yet numbered by the flush. */
  unnumbered: number;
  /** Records the flush could not store, kept with their reason: accounted for, not lost. */
  quarantined: { seq: number | null; request_id: string | null; error: string }[];
  /** Compared with Redis: `undefined` when no counter was given. */
  issued?: {
    counter: number;
    /** Numbers above the last stored one still waiting in the queue. */
    queued: number;
    /** Numbers Redis issued that are stored, queued and quarantined nowhere. */
    missing: Range[];
  };
};

export function isClean(report: VerifyReport): boolean {
  const missing = report.issued?.missing.length ?? 0;
  return report.gaps.length + report.duplicates.length + report.badHmac.length + report.missingHash.length + missing === 0;
}

/**
 * Walks the log from `fromSeq` (a checkpoint: everything up to it verified before; 0
 * walks it all). A row missing right after the checkpoint is a gap like any other.
 */
export async function verifyAudit(query: Query, hmacKey: string, redis?: IssuedNumbers, { fromSeq = 0, pageSize = 5_000 } = {}): Promise<VerifyReport> {
  const sign = hmacSigner(hmacKey);
  const report: VerifyReport = {
    checked: 0,
    lastSeq: fromSeq,
    gaps: [],
    duplicates: [],
    badHmac: [],
    missingHash: [],
    unnumbered: 0,
    quarantined: [],
  };
  const check = async (row: Record<string, unknown>): Promise<void> => {
    const { record, hmac } = recordFromRow(row);
    report.checked += 1;
    if (!(await hasValidHmac(record, hmac, sign))) report.badHmac.push({ seq: record.seq, request_id: record.request_id });
    if (record.constitutional_hash !== CONSTITUTIONAL_HASH) report.missingHash.push({ seq: record.seq, request_id: record.request_id });
  };
  const gaps: Range[] = [];
  for (;;) {
    const rows = await query("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2", [report.lastSeq, pageSize]);
    for (const row of rows) {
      const seq = Number(row.seq);
      if (seq === report.lastSeq) report.duplicates.push(seq);
      else if (seq > report.lastSeq + 1) gaps.push({ from: report.lastSeq + 1, to: seq - 1 });
      report.lastSeq = seq;
      await check(row);
    }
    if (rows.length < pageSize) break;
  }
  const unnumbered = await query("SELECT * FROM audit_log WHERE seq IS NULL ORDER BY ts LIMIT $1", [pageSize]);
  report.unnumbered = unnumbered.length;
  for (const row of unnumbered) await check(row);

  const quarantined = await query("SELECT seq, request_id, error FROM audit_quarantine ORDER BY seq NULLS LAST", []);
  report.quarantined = quarantined.map((row) => ({
    seq: row.seq === null ? null : Number(row.seq),
    request_id: row.request_id === null ? null : String(row.request_id),
    error: String(row.error),
  }));
  const accounted = [...report.quarantined.flatMap((q) => (q.seq === null ? [] : [q.seq])), ...(redis?.queued ?? [])];
  report.gaps = subtract(gaps, accounted);
  if (redis !== undefined) {
    const beyond = redis.counter > report.lastSeq ? [{ from: report.lastSeq + 1, to: redis.counter }] : [];
    report.issued = {
      counter: redis.counter,
      queued: redis.queued.filter((seq) => seq > report.lastSeq).length,
      missing: subtract(beyond, accounted),
    };
  }
  return report;
}

/** The ranges without the given numbers. */
function subtract(ranges: readonly Range[], numbers: readonly number[]): Range[] {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  const out: Range[] = [];
  for (const range of ranges) {
    let from = range.from;
    for (const n of sorted) {
      if (n < from || n > range.to) continue;
      if (n > from) out.push({ from, to: n - 1 });
      from = n + 1;
    }
    if (from <= range.to) out.push({ from, to: range.to });
  }
  return out;
}
