/**
 * `npm run backup [-- --out DIR] [--keep N] [--neon-branch] [--dry-run]`: a `pg_dump`
 * custom-format file of the audit database (DATABASE_URL, or the local stack's),
 * named with the database and the time, beside a SHA-256 checksum file that
 * `npm run restore` checks; the newest N backups in DIR are kept (BACKUP_KEEP, 14).
 * With --neon-branch it instead asks Neon for a branch of the database as the restore
 * point (NEON_API_KEY, NEON_PROJECT_ID; the branch is named with the time).
 * pg_dump must be as new as the server (Neon runs 16 or 17: use that pg_dump). The
 * embedded local Postgres (PGlite) dumps itself instead, to a plain-SQL `.sql` file
 * (PGLITE_DUMP_URL, which the running local stack records).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { describeDatabase, libpqEnv, requireSetting, setting } from "./db.ts";
import { flag } from "./deploy/environment.ts";
import { portableDump } from "./plain-dump.ts";

const args = process.argv.slice(2);
const dryRun = args.includes("--dry-run");
const stamp = new Date()
  .toISOString()
  .replace(/[-:]/g, "")
  .replace(/\.\d+Z$/, "Z");

try {
  if (args.includes("--neon-branch")) await neonBranch();
  else await dump();
} catch (error) {
  console.error(`backup FAILED: ${(error as Error).message}`);
  process.exitCode = 1;
}

async function dump(): Promise<void> {
  const databaseUrl = requireSetting("DATABASE_URL");
  const embedded = setting("PGLITE_DUMP_URL");
  const dir = flag(args, "out") ?? process.env.BACKUP_DIR ?? "backups";
  const keep = Number(flag(args, "keep") ?? process.env.BACKUP_KEEP ?? 14);
  const name = new URL(databaseUrl).pathname.slice(1) || "postgres";
  const file = `${dir}/tiergate-${name}-${stamp}.${embedded === undefined ? "dump" : "sql"}`;
  console.log(`backing up ${describeDatabase(databaseUrl)}${embedded === undefined ? "" : " (the embedded PGlite)"} to ${file}`);
  if (dryRun) {
    console.log(
      embedded === undefined
        ? `$ pg_dump --format=custom --no-owner --no-privileges --file ${file} <DATABASE_URL>`
        : `POST ${embedded} (PGlite's own pg_dump, plain SQL)`,
    );
    console.log(`then ${file}.sha256, and the newest ${keep} backups in ${dir} kept`);
    return;
  }
  mkdirSync(dir, { recursive: true });
  if (embedded === undefined)
    execFileSync("pg_dump", ["--format=custom", "--no-owner", "--no-privileges", "--file", file], {
      env: { ...process.env, ...libpqEnv(databaseUrl) },
      stdio: ["ignore", "inherit", "inherit"],
    });
  else writeFileSync(file, await embeddedDump(embedded));
  const sum = createHash("sha256").update(readFileSync(file)).digest("hex");
  writeFileSync(`${file}.sha256`, `${sum}  ${basename(file)}\n`);
  console.log(`wrote ${file} (sha256 ${sum})`);
  prune(dir, keep);
}

/**
 * The embedded Postgres dumps itself (scripts/local/pglite-server.ts): the system's pg_dump
 * is older than PGlite's Postgres. The file restores into any PostgreSQL from 15 up.
 */
async function embeddedDump(url: string): Promise<string> {
  const response = await fetch(url, { method: "POST" });
  const text = await response.text();
  if (!response.ok) throw new Error(`the embedded Postgres could not dump itself: ${text.slice(0, 500)}`);
  return portableDump(text);
}

/** Keeps the newest `keep` dumps (names sort by time) and their checksums. */
function prune(dir: string, keep: number): void {
  const dumps = readdirSync(dir)
    .filter((file) => /^tiergate-.*\.(dump|sql)$/.test(file))
    .sort();
  for (const old of dumps.slice(0, Math.max(0, dumps.length - keep))) {
    rmSync(`${dir}/${old}`, { force: true });
    rmSync(`${dir}/${old}.sha256`, { force: true });
    console.log(`removed ${old} (keeping the newest ${keep})`);
  }
}

async function neonBranch(): Promise<void> {
  const project = process.env.NEON_PROJECT_ID;
  const body = { branch: { name: `backup-${stamp}` } };
  const url = `https://console.neon.tech/api/v2/projects/${project ?? "<NEON_PROJECT_ID>"}/branches`;
  console.log(`POST ${url} ${JSON.stringify(body)}`);
  if (dryRun) return;
  if (project === undefined || process.env.NEON_API_KEY === undefined) throw new Error("--neon-branch needs NEON_API_KEY and NEON_PROJECT_ID");
  const response = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${process.env.NEON_API_KEY}`, "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`Neon answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
  const made = (await response.json()) as { branch?: { id?: string } };
  console.log(`made branch ${body.branch.name} (${made.branch?.id ?? "id not given"}): restore by pointing DATABASE_URL at it, or with Neon's branch restore`);
}
