/**
 * `npm run keys -- create|list|show|revoke`: client API keys, the same as the admin
 * routes. With no environment it works on the local stack `npm run dev` runs; with
 * DATABASE_URL (and the Upstash variables, so the key's record in Redis is written: a new
 * key's first request needs no Postgres, and a revoke takes effect within 15 s) on Neon.
 *   npm run keys -- create --name ci-bot [--tenant acme] [--rpm 60] [--tpm 100000]
 *       [--daily-budget-usd 5] [--monthly-budget-usd 100] [--max-tier 3] [--models a,b] [--expires-at 2027-01-01T00:00:00Z]
 *   npm run keys -- list [--tenant acme]
 *   npm run keys -- show KEY_ID
 *   npm run keys -- revoke KEY_ID
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { publishKey } from "../src/security/key-directory.ts";
import { createKey, getKey, hashKey, listKeys, NewKeySchema, revokeKey } from "../src/security/key-store.ts";
import type { Sql } from "../src/storage/postgres.ts";
import { describeDatabase, openPool, openRedis, requireSetting, setting } from "./db.ts";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    name: { type: "string" },
    tenant: { type: "string" },
    rpm: { type: "string" },
    tpm: { type: "string" },
    "daily-budget-usd": { type: "string" },
    "monthly-budget-usd": { type: "string" },
    "max-tier": { type: "string" },
    models: { type: "string" },
    "expires-at": { type: "string" },
  },
});
const [command, id] = positionals;
const databaseUrl = requireSetting("DATABASE_URL");
console.error(`keys in ${describeDatabase(databaseUrl)}`);
const pool = openPool(databaseUrl);
const sql: Sql = async (text, params = []) => (await pool.query(text, [...params])).rows;
let code = 0;
try {
  if (command === "create") {
    const number = (text: string | undefined) => (text === undefined ? undefined : Number(text));
    const fields = NewKeySchema.parse({
      name: values.name,
      tenant: values.tenant,
      rpm: number(values.rpm),
      tpm: number(values.tpm),
      daily_budget_usd: number(values["daily-budget-usd"]),
      monthly_budget_usd: number(values["monthly-budget-usd"]),
      max_tier: number(values["max-tier"]),
      models: values.models?.split(",").map((m) => m.trim()),
      expires_at: values["expires-at"],
    });
    const made = await createKey(sql, fields);
    await publishInRedis(sql, await hashKey(made.key));
    console.log(JSON.stringify(made, null, 2));
    console.error("The key is shown this once; tiergate keeps only its SHA-256.");
  } else if (command === "list") {
    console.log(JSON.stringify(await listKeys(sql, values.tenant), null, 2));
  } else if ((command === "show" || command === "revoke") && id !== undefined) {
    const key = command === "show" ? await getKey(sql, id) : await revokeKey(sql, id);
    if (key === undefined) throw new Error(`no key ${id}`);
    if (command === "revoke") await publishInRedis(sql, String((key as { key_sha256?: unknown }).key_sha256));
    const { key_sha256: _hash, ...shown } = key as Record<string, unknown>;
    console.log(JSON.stringify(shown, null, 2));
  } else {
    console.error("usage: npm run keys -- create --name NAME [options] | list [--tenant T] | show KEY_ID | revoke KEY_ID");
    code = 2;
  }
} catch (error) {
  console.error(error instanceof z.ZodError ? z.prettifyError(error) : (error as Error).message);
  code = 1;
} finally {
  await pool.end().catch(() => {});
}
process.exit(code);

/**
 * The key's record in Redis, as the router's admin API writes it (security/key-directory.ts):
 * a key made here needs no Postgres on its first request, and a revocation reaches every
 * isolate within their 15 s cache. Without the Upstash variables, a revoked key's record
 * (if it has one) lives on: the command says so.
 */
async function publishInRedis(sql: Sql, hash: string): Promise<void> {
  const redis = openRedis();
  if (redis === undefined) {
    console.error("UPSTASH_REDIS_REST_URL is not set: Redis's record of the key is not written (a revocation takes effect when it expires).");
    return;
  }
  await publishKey({ keyPrefix: setting("KEY_PREFIX") ?? "tg", redis, sql }, hash);
}
