/** /v1/admin/keys and /v1/admin/tenants (admin key): make, list, show (with spend) and revoke client keys and tenants. */
import type { Context } from "hono";
import type { z } from "zod";
import { ApiError } from "../http/errors.ts";
import { readJsonBody } from "../http/json-body.ts";
import type { With } from "../middleware/edge.ts";
import { ADMIN_CALLER } from "../security/caller.ts";
import {
  createKey,
  createTenant,
  getKey,
  getTenant,
  hashKey,
  listKeys,
  listTenants,
  NewKeySchema,
  NewTenantSchema,
  revokeKey,
  revokeTenant,
} from "../security/key-store.ts";
import type { Sql } from "../storage/postgres.ts";

/** The keys' database (the admin guard ran before). */
async function adminSql(c: Context<With>): Promise<Sql> {
  const { sql, stores } = c.get("services");
  if (sql === undefined) throw new ApiError(503, "API keys live in Postgres: set DATABASE_URL", { code: "keys_not_configured" });
  return (text, params) => stores.tracked("postgres", () => sql(text, params));
}

async function body<T extends z.ZodType>(c: Context<With>, schema: T): Promise<z.infer<T>> {
  return readJsonBody(c.req.raw, c.get("config").maxBodyBytes, schema);
}

export async function createKeyRoute(c: Context<With>): Promise<Response> {
  const sql = await adminSql(c);
  const made = await createKey(sql, await body(c, NewKeySchema)).catch(conflict);
  // Its first request then finds it in Redis, without Postgres. A record Redis does not take costs that request one look-up.
  await c
    .get("services")
    .keys.publish(await hashKey(made.key))
    .catch(() => {});
  return c.json({ object: "api_key", ...made }, 201);
}

export async function listKeysRoute(c: Context<With>): Promise<Response> {
  const sql = await adminSql(c);
  const tenant = c.req.query("tenant");
  if (tenant !== undefined && !printable(tenant))
    throw new ApiError(400, "'tenant' must not contain control characters", { code: "invalid_value", param: "tenant" });
  return c.json({ object: "list", data: await listKeys(sql, tenant) });
}

export async function showKeyRoute(c: Context<With>): Promise<Response> {
  const sql = await adminSql(c);
  const key = await getKey(sql, idOf(c, "key"));
  if (key === undefined) throw notFound("key");
  const live = await liveSpend(c, { keyId: key.id, tenantId: null });
  return c.json({ object: "api_key", ...key, spend: { ...(await spend(sql, "key_id", key.id)), live: live && { today_usd: live[0], month_usd: live[1] } } });
}

export async function revokeKeyRoute(c: Context<With>): Promise<Response> {
  const sql = await adminSql(c);
  const key = await revokeKey(sql, idOf(c, "key"));
  if (key === undefined) throw notFound("key");
  const { key_sha256, ...shown } = key;
  await c.get("services").keys.publish(key_sha256);
  return c.json({ object: "api_key", ...shown });
}

export async function createTenantRoute(c: Context<With>): Promise<Response> {
  const sql = await adminSql(c);
  return c.json({ object: "tenant", ...(await createTenant(sql, await body(c, NewTenantSchema)).catch(conflict)) }, 201);
}

export async function listTenantsRoute(c: Context<With>): Promise<Response> {
  const sql = await adminSql(c);
  return c.json({ object: "list", data: await listTenants(sql) });
}

export async function showTenantRoute(c: Context<With>): Promise<Response> {
  const sql = await adminSql(c);
  const tenant = await getTenant(sql, idOf(c, "tenant"));
  if (tenant === undefined) throw notFound("tenant");
  const live = await liveSpend(c, { keyId: "", tenantId: String(tenant.id) });
  return c.json({
    object: "tenant",
    ...tenant,
    spend: { ...(await spend(sql, "tenant_id", String(tenant.id))), live: live && { today_usd: live[2], month_usd: live[3] } },
  });
}

/** Revokes every key of the tenant and bumps its generation (its cache and stored responses become unreachable); the tenant and its audit rows stay. */
export async function revokeTenantRoute(c: Context<With>): Promise<Response> {
  const sql = await adminSql(c);
  const id = idOf(c, "tenant");
  const hashes = await revokeTenant(sql, id);
  if (hashes === undefined) throw notFound("tenant");
  await Promise.all(hashes.map((hash) => c.get("services").keys.publish(hash)));
  return c.json({ object: "tenant", id, keys_revoked: hashes.length });
}

/**
 * Spend today and this month (UTC) from the audit log, in USD, summed in whole
 * micro-dollars (the unit every row is charged in), so the sum is exact. The audit log
 * takes rows from the Redis queue every minute: `live` beside it is the spend counter
 * the budgets are checked against, which is current.
 */
async function spend(sql: Sql, column: "key_id" | "tenant_id", id: string): Promise<{ today_usd: number; month_usd: number }> {
  const micros = "round(cost_usd * 1000000)::bigint";
  const [row] = await sql(
    `SELECT coalesce(sum(${micros}) FILTER (WHERE ts >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'), 0) AS today,
            coalesce(sum(${micros}), 0) AS month
     FROM audit_log WHERE ${column} = $1 AND ts >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`,
    [id],
  );
  return { today_usd: Number(row?.today ?? 0) / 1e6, month_usd: Number(row?.month ?? 0) / 1e6 };
}

/** The live spend counters (key day, key month, tenant day, tenant month) in USD; `null` when Redis cannot say. */
async function liveSpend(c: Context<With>, owner: { keyId: string; tenantId: string | null }): Promise<number[] | null> {
  const caller = { ...ADMIN_CALLER, ...owner, admin: false };
  return (
    (
      await c
        .get("services")
        .budgets.read(caller)
        .catch(() => null)
    )?.map((micros) => micros / 1e6) ?? null
  );
}

/** Text Postgres can compare: a NUL or another control character can name no stored id, and Postgres refuses NUL outright. */
const printable = (text: string): boolean => !/[\u0000-\u001f\u007f]/.test(text);

/** The route's id; one no stored key or tenant can have is unknown before any query. */
function idOf(c: Context<With>, what: "key" | "tenant"): string {
  const id = c.req.param("id") ?? "";
  if (!printable(id)) throw notFound(what);
  return id;
}

function notFound(what: "key" | "tenant"): ApiError {
  return new ApiError(404, `No such ${what}`, { code: `${what}_not_found` });
}

/** A tenant id taken twice (409) or a value the columns cannot hold (400) is the caller's mistake, not an outage. */
function conflict(error: unknown): never {
  const code = String((error as { code?: unknown }).code ?? "");
  if (code === "23505") throw new ApiError(409, "That id is taken", { code: "already_exists" });
  if (code.startsWith("22") || code === "23503" || code === "23514") throw new ApiError(400, "A value is out of range", { code: "invalid_value" });
  throw error;
}
