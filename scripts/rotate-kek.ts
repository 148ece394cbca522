/**
 * `npm run keys:rotate-kek`: re-encrypts every tenant's provider credential under the current
 * key-encryption key, with no downtime (docs/byok.md). Run it once the router holds the new
 * key as PROVIDER_KEYS_KEK and the old one as PROVIDER_KEYS_KEK_PREVIOUS, so every isolate
 * reads rows under either while this runs; give it the same two settings. Each row is
 * re-sealed on its own (a credential changed meanwhile is left as it was set), and the
 * tenant's keys' records in Redis are written again, so nothing still carries the old
 * ciphertext. Remove PROVIDER_KEYS_KEK_PREVIOUS after it says every row is done.
 *   PROVIDER_KEYS_KEK=… PROVIDER_KEYS_KEK_PREVIOUS=… npm run keys:rotate-kek
 */
import { TenantKeySettings } from "../src/config/tenant-keys.ts";
import { keyringOf } from "../src/crypto/credential-seal.ts";
import { publishKey } from "../src/security/key-directory.ts";
import { resealAll, tenantKeyHashes } from "../src/security/provider-credentials.ts";
import type { Sql } from "../src/storage/postgres.ts";
import { describeDatabase, openPool, openRedis, requireSetting, setting } from "./db.ts";

const settings = TenantKeySettings.safeParse({
  PROVIDER_KEYS_KEK: requireSetting("PROVIDER_KEYS_KEK"),
  PROVIDER_KEYS_KEK_PREVIOUS: setting("PROVIDER_KEYS_KEK_PREVIOUS"),
});
if (!settings.success) {
  console.error(settings.error.issues.map((issue) => issue.message).join("; "));
  process.exit(2);
}
const databaseUrl = requireSetting("DATABASE_URL");
console.error(`provider credentials in ${describeDatabase(databaseUrl)}`);
const pool = openPool(databaseUrl);
const sql: Sql = async (text, params = []) => (await pool.query(text, [...params])).rows;
let code = 0;
try {
  const ring = await keyringOf(settings.data.PROVIDER_KEYS_KEK?.trim(), settings.data.PROVIDER_KEYS_KEK_PREVIOUS?.trim());
  const { resealed, tenants } = await resealAll(sql, ring);
  const redis = openRedis();
  if (redis === undefined) {
    // Not done: isolates read the keys' records from Redis, which still hold the old ciphertext (for up to 30 days).
    console.error(
      "UPSTASH_REDIS_REST_URL is not set: the keys' records in Redis keep the old ciphertext until they expire. Keep PROVIDER_KEYS_KEK_PREVIOUS, and run this again with Redis's settings.",
    );
    if (tenants.length > 0) code = 1;
  } else {
    const keyPrefix = setting("KEY_PREFIX") ?? "tg";
    for (const tenant of tenants) for (const hash of await tenantKeyHashes(sql, tenant)) await publishKey({ keyPrefix, redis, sql }, hash);
  }
  const [left] = await sql("SELECT count(*) AS n FROM provider_credentials WHERE kek_id <> $1", [ring.currentId]);
  console.log(JSON.stringify({ resealed, tenants: tenants.length, kek_id: ring.currentId, under_other_keks: Number(left?.n ?? 0) }));
  if (Number(left?.n ?? 0) > 0) {
    console.error("Some credentials changed while this ran and are under another key: run it again.");
    code = 1;
  }
} catch (error) {
  console.error((error as Error).message);
  code = 1;
} finally {
  await pool.end().catch(() => {});
}
process.exit(code);
