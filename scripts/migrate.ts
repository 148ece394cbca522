/**
 * `npm run migrate`: applies the pending `migrations/NNNN_name.sql` files in order,
 * each in its own transaction, and records them in `schema_migrations`. Running it
 * twice is a no-op; a failed migration leaves the database as it was and exits 1
 * with Postgres's message. The same command migrates a Neon database in production
 * (DATABASE_URL only) or the local one (with NEON_WS_PROXY, as `npm run stack` prints).
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Pool } from "@neondatabase/serverless";
import { describeDatabase, openPool, requireSetting } from "./db.ts";

const MIGRATIONS = fileURLToPath(new URL("../migrations/", import.meta.url));
/** Any constant: only one migrate may run at a time against a database. */
const LOCK_ID = 7_401_265;

export type Migration = { version: number; name: string; sql: string; checksum: string };

export function readMigrations(dir = MIGRATIONS): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const sql = readFileSync(`${dir}/${file}`, "utf8");
      return {
        version: Number(file.slice(0, 4)),
        name: file.slice(5, -4),
        sql,
        checksum: createHash("sha256").update(sql).digest("hex"),
      };
    });
}

/** Applies what is pending; returns the names applied. Throws, having rolled back, on the first failure. */
export async function migrate(pool: Pool, migrations = readMigrations()): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query("SELECT pg_advisory_lock($1)", [LOCK_ID]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Map<number, string>();
    for (const row of (await client.query("SELECT version, checksum FROM schema_migrations")).rows) {
      done.set(Number(row.version), String(row.checksum));
    }
    for (const migration of migrations) {
      const checksum = done.get(migration.version);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) throw new Error(`migration ${migration.version}_${migration.name} changed after it was applied`);
        continue;
      }
      await client.query("BEGIN");
      try {
        await client.query(migration.sql);
        await client.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [
          migration.version,
          migration.name,
          migration.checksum,
        ]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw new Error(`migration ${migration.version}_${migration.name} failed: ${(error as Error).message}`, { cause: error });
      }
      applied.push(`${migration.version}_${migration.name}`);
    }
    return applied;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [LOCK_ID]).catch(() => {});
    client.release();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const databaseUrl = requireSetting("DATABASE_URL");
  console.log(`migrating ${describeDatabase(databaseUrl)}`);
  const pool = openPool(databaseUrl);
  try {
    const applied = await migrate(pool);
    console.log(applied.length === 0 ? "migrations: nothing to apply" : `migrations applied: ${applied.join(", ")}`);
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 1;
  } finally {
    await pool.end();
  }
}
