/**
 * `npm run audit:verify`: checks the whole audit log: sequence gaps, rows whose
 * HMAC does not match, rows without the constitutional hash. Exits 1 if any.
 * Needs DATABASE_URL and AUDIT_HMAC_KEY (and NEON_WS_PROXY locally: `npm run stack` prints it).
 */
import { isClean, verifyAudit } from "../src/audit/verify.ts";
import { openPool, requireEnv } from "./db.ts";

const pool = openPool(requireEnv("DATABASE_URL"));
try {
  const report = await verifyAudit(async (text, params) => (await pool.query(text, [...params])).rows, requireEnv("AUDIT_HMAC_KEY"));
  const name = (r: { seq: number | null; request_id: string }): string => `seq ${r.seq ?? "(unnumbered)"} request ${r.request_id}`;
  console.log(`checked ${report.checked} records, last seq ${report.lastSeq}, ${report.unnumbered} awaiting a number`);
  for (const gap of report.gaps) console.log(`GAP: seq ${gap.from === gap.to ? gap.from : `${gap.from}-${gap.to}`} missing`);
  for (const seq of report.duplicates) console.log(`DUPLICATE: seq ${seq}`);
  for (const bad of report.badHmac) console.log(`BAD HMAC: ${name(bad)}`);
  for (const bad of report.missingHash) console.log(`NO CONSTITUTIONAL HASH: ${name(bad)}`);
  console.log(isClean(report) ? "audit log verified: no gaps, every HMAC valid, every record carries the hash" : "audit log FAILED verification");
  if (!isClean(report)) process.exitCode = 1;
} finally {
  await pool.end();
}
