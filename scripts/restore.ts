/**
 * `npm run restore -- FILE TARGET_URL [--force]`: checks FILE against its `.sha256`
 * (a file that does not match is refused), refuses a target database that already
 * holds tables unless --force (then what the dump holds replaces them), restores with
 * pg_restore (a `.dump`) or as one transaction (the embedded stack's `.sql`), and
 * verifies the restored audit log: sequence gaps, HMACs (with
 * AUDIT_HMAC_KEY, or the local stack's) and the constitutional hash. Exits 0 only
 * when the restore is complete and the log verifies.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import pg from "pg";
import { isClean, verifyAudit } from "../src/audit/verify.ts";
import { describeDatabase, libpqEnv, requireSetting } from "./db.ts";
import { portableDump } from "./plain-dump.ts";

const args = process.argv.slice(2);
const [file, target] = args.filter((arg) => !arg.startsWith("--"));
try {
  if (file === undefined || target === undefined) throw new Error("usage: npm run restore -- FILE TARGET_URL [--force]");
  checkChecksum(file);
  const tables = await tableCount(target);
  const force = args.includes("--force");
  if (tables > 0 && !force)
    throw new Error(`${describeDatabase(target)} already holds ${tables} tables; restore into an empty database, or pass --force to replace them`);
  console.log(`restoring ${file} into ${describeDatabase(target)}${tables > 0 ? " (replacing what is there)" : ""}`);
  if (file.endsWith(".sql")) await runPlainDump(target, readFileSync(file, "utf8"));
  else pgRestore(file, target, tables > 0);
  const code = await verify(target, requireSetting("AUDIT_HMAC_KEY"));
  process.exitCode = code;
} catch (error) {
  console.error(`restore FAILED: ${(error as Error).message}`);
  process.exitCode = 1;
}

async function withClient<T>(url: string, work: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

function tableCount(url: string): Promise<number> {
  return withClient(url, async (db) => Number((await db.query("SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'")).rows[0].n));
}

/** A custom-format dump (pg_dump's, from a real server): pg_restore, replacing what is there with --clean. */
function pgRestore(path: string, url: string, replace: boolean): void {
  const env = { ...process.env, ...libpqEnv(url) };
  const clean = replace ? ["--clean", "--if-exists"] : [];
  execFileSync("pg_restore", ["--no-owner", "--no-privileges", "--exit-on-error", ...clean, "--dbname", env.PGDATABASE!, path], {
    env,
    stdio: ["ignore", "inherit", "inherit"],
  });
}

/**
 * A plain-SQL dump (the embedded PGlite's, made with DROP ... IF EXISTS): one simple
 * query, so one implicit transaction, whole or not at all. Made portable first, so a
 * backup written before the backup did so still restores into PostgreSQL 15 or 16.
 */
async function runPlainDump(url: string, text: string): Promise<void> {
  await withClient(url, (db) => db.query(portableDump(text)));
}

function checkChecksum(path: string): void {
  if (!existsSync(`${path}.sha256`)) throw new Error(`${path}.sha256 is missing: without it the file cannot be trusted`);
  const expected = readFileSync(`${path}.sha256`, "utf8").trim().split(/\s+/)[0];
  const actual = createHash("sha256").update(readFileSync(path)).digest("hex");
  if (actual !== expected)
    throw new Error(`${path} does not match its checksum (sha256 ${actual}, expected ${expected}): the file is corrupt; refusing to restore it`);
  console.log(`checksum ok (sha256 ${actual})`);
}

function verify(url: string, hmacKey: string): Promise<number> {
  return withClient(url, async (db) => {
    const report = await verifyAudit(async (text, params) => (await db.query(text, [...params])).rows, hmacKey);
    console.log(
      `restored audit log: ${report.checked} records, last seq ${report.lastSeq}, ${report.gaps.length} gaps, ${report.duplicates.length} duplicates, ${report.badHmac.length} bad HMACs, ${report.missingHash.length} without the hash`,
    );
    console.log(isClean(report) ? "restored audit log verified" : "restored audit log FAILED verification");
    return isClean(report) ? 0 : 1;
  });
}
