/**
 * API keys and tenants in Postgres: made, listed, shown and revoked the same way by
 * the admin routes and by `npm run keys`. A key is stored as its SHA-256 and a short
 * visible prefix; the key itself is returned once, by `createKey`.
 */
import * as z from "zod";
import { sha256Hex } from "../crypto/digest.ts";
import type { Sql } from "../storage/postgres.ts";
import { SEALED_CREDENTIALS_SQL } from "./provider-credentials.ts";

const Slug = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "lower-case letters, digits, _ and -, at most 64");
/** Text Postgres can store: a NUL is refused with a 400 here, not by the database with a 500. */
const Text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((text) => !text.includes("\u0000"), "must not contain a NUL character");
/** Budgets are kept in whole micro-dollars (numeric(14, 6)): a budget is stored exactly or refused. */
const Usd = z
  .number()
  .nonnegative()
  .max(99_999_999.999999)
  .refine((usd) => Number(usd.toFixed(6)) === usd, "must be a whole number of micro-dollars: 0, or 0.000001 and up, at most 6 decimals");

/** Limits and policy a tenant gives its keys, and a key may set for itself. */
const PolicyFields = {
  // Within Postgres's integer, as the columns are.
  rpm: z.number().int().positive().max(2_000_000_000).nullish(),
  tpm: z.number().int().positive().max(2_000_000_000).nullish(),
  daily_budget_usd: Usd.nullish(),
  monthly_budget_usd: Usd.nullish(),
  max_tier: z.number().int().min(1).max(5).nullish(),
  models: z.array(Text(256)).max(256).nullish(),
};

/** A tenant served on its own provider credentials only (docs/byok.md). */
const ByokOnly = z.boolean();
export const NewTenantSchema = z.strictObject({ id: Slug, name: Text(200).optional(), ...PolicyFields, byok_only: ByokOnly.optional() });
/** What `PATCH /v1/admin/tenants/{id}` may change. */
export const TenantChangeSchema = z.strictObject({ byok_only: ByokOnly });
export const NewKeySchema = z.strictObject({
  name: Text(200),
  tenant: Slug.optional(),
  ...PolicyFields,
  expires_at: z.iso.datetime({ offset: true }).nullish(),
});
export type NewTenant = z.infer<typeof NewTenantSchema>;
export type NewKey = z.infer<typeof NewKeySchema>;

const POLICY_COLUMNS = ["rpm", "tpm", "daily_budget_usd", "monthly_budget_usd", "max_tier", "models"] as const;
const KEY_COLUMNS = "id, tenant_id, name, prefix, rpm, tpm, daily_budget_usd, monthly_budget_usd, max_tier, models, expires_at, revoked_at, created_at";

export type KeyRow = Record<string, unknown> & { id: string };

/** `tg_live_` and 32 random base62 characters (190 bits). */
export function generateKey(): string {
  const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let body = "";
  for (const byte of bytes) body += alphabet[byte % 62];
  return `tg_live_${body}`;
}

export const KEY_PATTERN = /^tg_live_[0-9A-Za-z]{32}$/;
export const hashKey = (key: string): Promise<string> => sha256Hex(key);

export async function createTenant(sql: Sql, tenant: NewTenant): Promise<Record<string, unknown>> {
  const values = POLICY_COLUMNS.map((column) => tenant[column] ?? null);
  const [row] = await sql(`INSERT INTO tenants (id, name, ${POLICY_COLUMNS.join(", ")}, byok_only) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`, [
    tenant.id,
    tenant.name ?? tenant.id,
    ...values,
    tenant.byok_only ?? false,
  ]);
  return numbersIn(row!);
}

/** Makes a key; the returned `key` is the only time anyone sees it. A named tenant that does not exist is made. */
export async function createKey(sql: Sql, fields: NewKey): Promise<KeyRow & { key: string }> {
  const key = generateKey();
  const id = `key_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
  if (fields.tenant !== undefined) {
    await sql("INSERT INTO tenants (id, name) VALUES ($1, $1) ON CONFLICT (id) DO NOTHING", [fields.tenant]);
  }
  const values = POLICY_COLUMNS.map((column) => fields[column] ?? null);
  const [row] = await sql(
    `INSERT INTO api_keys (id, tenant_id, name, prefix, key_sha256, ${POLICY_COLUMNS.join(", ")}, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ${KEY_COLUMNS}`,
    [id, fields.tenant ?? null, fields.name, key.slice(0, 12), await hashKey(key), ...values, fields.expires_at ?? null],
  );
  return { ...numbersIn(row as KeyRow), key };
}

/** The numeric columns as numbers, not the text Postgres's numeric type comes back as (`"0.010000"`). */
function numbersIn<T extends Record<string, unknown>>(row: T): T {
  const out: Record<string, unknown> = { ...row };
  for (const column of ["rpm", "tpm", "daily_budget_usd", "monthly_budget_usd", "max_tier"]) {
    if (out[column] !== null && out[column] !== undefined) out[column] = Number(out[column]);
  }
  return out as T;
}

export async function listKeys(sql: Sql, tenant?: string): Promise<KeyRow[]> {
  const rows = await sql(
    `SELECT ${KEY_COLUMNS} FROM api_keys ${tenant === undefined ? "" : "WHERE tenant_id = $1"} ORDER BY created_at, id`,
    tenant === undefined ? [] : [tenant],
  );
  return rows.map((row) => numbersIn(row as KeyRow));
}

export async function getKey(sql: Sql, id: string): Promise<KeyRow | undefined> {
  const [row] = await sql(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = $1`, [id]);
  return row === undefined ? undefined : numbersIn(row as KeyRow);
}

/** Marks the key revoked (idempotent); returns it, or `undefined` if there is no such key. */
export async function revokeKey(sql: Sql, id: string): Promise<(KeyRow & { key_sha256: string }) | undefined> {
  const [row] = await sql(`UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING ${KEY_COLUMNS}, key_sha256`, [id]);
  return row === undefined ? undefined : numbersIn(row as KeyRow & { key_sha256: string });
}

/**
 * Deletes a tenant: revokes every key of it, deletes its own provider credentials and bumps its generation, in one statement, so
 * a key made later with the same tenant id reaches none of its cached answers or stored
 * responses (security/caller.ts `ownerOf`). Returns the keys' hashes so callers can forget
 * them, or `undefined` for no such tenant.
 */
export async function revokeTenant(sql: Sql, id: string): Promise<string[] | undefined> {
  if ((await getTenant(sql, id)) === undefined) return undefined;
  const rows = await sql(
    `WITH bumped AS (UPDATE tenants SET generation = generation + 1 WHERE id = $1 RETURNING id),
          forgotten AS (DELETE FROM provider_credentials WHERE tenant_id IN (SELECT id FROM bumped))
     UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE tenant_id IN (SELECT id FROM bumped) RETURNING key_sha256`,
    [id],
  );
  return rows.map((row) => String(row.key_sha256));
}

/** Sets whether the tenant is served on its own credentials only; the tenant, or `undefined` for none. */
export async function changeTenant(sql: Sql, id: string, change: z.infer<typeof TenantChangeSchema>): Promise<Record<string, unknown> | undefined> {
  const [row] = await sql("UPDATE tenants SET byok_only = $2 WHERE id = $1 RETURNING *", [id, change.byok_only]);
  return row === undefined ? undefined : numbersIn(row);
}

export async function listTenants(sql: Sql): Promise<Record<string, unknown>[]> {
  return (await sql("SELECT * FROM tenants ORDER BY id", [])).map(numbersIn);
}

export async function getTenant(sql: Sql, id: string): Promise<Record<string, unknown> | undefined> {
  const [row] = await sql("SELECT * FROM tenants WHERE id = $1", [id]);
  return row === undefined ? undefined : numbersIn(row);
}

/**
 * The key as the hot path needs it: its own policy merged over its tenant's, with its state, and its tenant's own
 * provider credentials, sealed (so a request reads them with its key: no round trip of their own).
 */
export async function keyForHash(sql: Sql, keySha256: string): Promise<Record<string, unknown> | undefined> {
  const merged = POLICY_COLUMNS.map((column) => `coalesce(k.${column}, t.${column}) AS ${column}`).join(", ");
  const [row] = await sql(
    `SELECT k.id, k.tenant_id, k.expires_at, k.revoked_at, ${merged},
            coalesce(t.generation, 0) AS tenant_generation, t.daily_budget_usd AS tenant_daily_budget_usd, t.monthly_budget_usd AS tenant_monthly_budget_usd,
            coalesce(t.byok_only, false) AS byok_only, ${SEALED_CREDENTIALS_SQL} AS tenant_credentials
     FROM api_keys k LEFT JOIN tenants t ON t.id = k.tenant_id WHERE k.key_sha256 = $1`,
    [keySha256],
  );
  return row;
}

/** Whether any key that still works exists: with REQUIRE_API_KEY unset, keys become required once one does. */
export async function anyLiveKey(sql: Sql): Promise<boolean> {
  const [row] = await sql("SELECT EXISTS (SELECT 1 FROM api_keys WHERE revoked_at IS NULL) AS live", []);
  return row?.live === true || row?.live === "t";
}
