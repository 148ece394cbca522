/**
 * `npm run audit:verify`: checks the whole audit log: sequence gaps, rows whose HMAC
 * does not match, rows without the constitutional hash, quarantined records, and
 * numbers Redis issued that are stored nowhere. Exits 0 when clean, 1 when not, 2 when
 * it cannot run. Needs DATABASE_URL and AUDIT_HMAC_KEY (and the Upstash variables for
 * the counter check); with none set it uses the local stack `npm run dev` runs.
 */
import { readIssued } from "../src/audit/scheduled-audit.ts";
import { isClean, verifyAudit } from "../src/audit/verify.ts";
import { describeDatabase, openPool, openRedis, requireSetting, setting } from "./db.ts";

const databaseUrl = requireSetting("DATABASE_URL");
const hmacKey = requireSetting("AUDIT_HMAC_KEY");
const prefix = setting("KEY_PREFIX") ?? "tg";
console.log(`verifying the audit log in ${describeDatabase(databaseUrl)}`);
const pool = openPool(databaseUrl);
let code = 2;
try {
  const redis = openRedis();
  const issued = redis === undefined ? undefined : await readIssued(redis, prefix);
  const report = await verifyAudit(async (text, params) => (await pool.query(text, [...params])).rows, hmacKey, issued);
  const name = (r: { seq: number | null; request_id: string | null }): string => `seq ${r.seq ?? "(unnumbered)"} request ${r.request_id ?? "(unknown)"}`;
  const range = (r: { from: number; to: number }): string => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`);
  console.log(`checked ${report.checked} records, last seq ${report.lastSeq}, ${report.unnumbered} awaiting a number`);
  for (const gap of report.gaps) console.log(`GAP: seq ${range(gap)} missing`);
  for (const seq of report.duplicates) console.log(`DUPLICATE: seq ${seq}`);
  for (const bad of report.badHmac) console.log(`BAD HMAC: ${name(bad)}`);
  for (const bad of report.missingHash) console.log(`NO CONSTITUTIONAL HASH: ${name(bad)}`);
  for (const q of report.quarantined) console.log(`QUARANTINED: ${name(q)}: ${q.error}`);
  if (report.issued === undefined) console.log("Redis counter not compared: no Upstash endpoint configured");
  else {
    console.log(`Redis counter ${report.issued.counter}; ${report.issued.queued} issued numbers still queued for the flush`);
    for (const missing of report.issued.missing) console.log(`ISSUED, NOT STORED: seq ${range(missing)}`);
  }
  console.log(
    isClean(report)
      ? "audit log verified: no gaps, every HMAC valid, every record carries the hash, every issued number accounted for"
      : "audit log FAILED verification",
  );
  code = isClean(report) ? 0 : 1;
} catch (error) {
  console.error(`audit:verify could not run: ${(error as Error).message}`);
} finally {
  await pool.end().catch(() => {});
}
// The WebSocket driver can keep the event loop alive after end(); the verdict is in, so leave now.
process.exit(code);
