/**
 * Audit verification: walks the whole log in sequence order and names every gap,
 * every row whose HMAC does not match its columns, and every row without the
 * constitutional hash. Used by `npm run audit:verify` and the daily cron.
 */
import { CONSTITUTIONAL_HASH } from "../config/constitution.ts";
import { hasValidHmac, recordFromRow } from "./record.ts";

export type Query = (text: string, params: readonly unknown[]) => Promise<Record<string, unknown>[]>;

export type VerifyReport = {
  checked: number;
  lastSeq: number;
  /** Sequence numbers missing from 1 to the last one, as inclusive ranges. */
  gaps: { from: number; to: number }[];
  duplicates: number[];
  badHmac: { seq: number | null; request_id: string }[];
  missingHash: { seq: number | null; request_id: string }[];
  /** Rows written while Redis was down, not yet numbered by the flush. */
  unnumbered: number;
};

export function isClean(report: VerifyReport): boolean {
  return report.gaps.length + report.duplicates.length + report.badHmac.length + report.missingHash.length === 0;
}

export async function verifyAudit(query: Query, hmacKey: string, pageSize = 5_000): Promise<VerifyReport> {
  const report: VerifyReport = { checked: 0, lastSeq: 0, gaps: [], duplicates: [], badHmac: [], missingHash: [], unnumbered: 0 };
  const check = async (row: Record<string, unknown>): Promise<void> => {
    const { record, hmac } = recordFromRow(row);
    report.checked += 1;
    if (!(await hasValidHmac(record, hmac, hmacKey))) report.badHmac.push({ seq: record.seq, request_id: record.request_id });
    if (record.constitutional_hash !== CONSTITUTIONAL_HASH) report.missingHash.push({ seq: record.seq, request_id: record.request_id });
  };
  for (;;) {
    const rows = await query("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2", [report.lastSeq, pageSize]);
    for (const row of rows) {
      const seq = Number(row.seq);
      if (seq === report.lastSeq) report.duplicates.push(seq);
      else if (seq > report.lastSeq + 1) report.gaps.push({ from: report.lastSeq + 1, to: seq - 1 });
      report.lastSeq = seq;
      await check(row);
    }
    if (rows.length < pageSize) break;
  }
  const unnumbered = await query("SELECT * FROM audit_log WHERE seq IS NULL ORDER BY ts LIMIT $1", [pageSize]);
  report.unnumbered = unnumbered.length;
  for (const row of unnumbered) await check(row);
  return report;
}
