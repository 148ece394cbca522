/**
 * /v1/admin/tenants/{id}/providers[/{provider}] (admin key): a tenant's own provider credentials
 * (docs/byok.md), set, shown (never the secret: its last four characters and when it was set),
 * listed and removed; and PATCH /v1/admin/tenants/{id}, its `byok_only`. After each change the
 * tenant's keys' records are written again, so every isolate uses the change within 15 s.
 */
import type { Context } from "hono";
import { ApiError } from "../http/errors.ts";
import { readJsonBody } from "../http/json-body.ts";
import type { With } from "../middleware/edge.ts";
import { changeTenant, getTenant, TenantChangeSchema } from "../security/key-store.ts";
import { credentialSchemaFor, deleteCredential, listCredentials, putCredential, tenantKeyHashes } from "../security/provider-credentials.ts";
import type { Sql } from "../storage/postgres.ts";

async function adminSql(c: Context<With>): Promise<Sql> {
  const { sql, stores } = c.get("services");
  if (sql === undefined) throw new ApiError(503, "Tenants' credentials live in Postgres: set DATABASE_URL", { code: "keys_not_configured" });
  return (text, params) => stores.tracked("postgres", () => sql(text, params));
}

/** The tenant of the path, which must exist. */
async function tenantOf(c: Context<With>, sql: Sql): Promise<string> {
  const id = c.req.param("id") ?? "";
  if (/[\u0000-\u001f\u007f]/.test(id) || (await getTenant(sql, id)) === undefined) {
    throw new ApiError(404, "No such tenant", { code: "tenant_not_found" });
  }
  return id;
}

/** The provider of the path, which the router must know; with its wire format, which says what its credential holds. */
function providerOf(c: Context<With>): { id: string; api: string } {
  const id = c.req.param("provider") ?? "";
  const provider = c.get("config").providers.get(id);
  if (provider === undefined || /[\u0000-\u001f\u007f]/.test(id)) {
    const known = [...c.get("config").providers.keys()].join(", ");
    throw new ApiError(404, `No provider '${id.slice(0, 64).replace(/[^\x20-\x7e]/g, "?")}': the router knows ${known}`, {
      code: "provider_not_found",
      param: "provider",
    });
  }
  return { id, api: provider.api };
}

/** Every isolate learns of the change with the tenant's keys' records (within their 15 s isolate cache). */
async function republish(c: Context<With>, sql: Sql, tenant: string): Promise<void> {
  const hashes = await tenantKeyHashes(sql, tenant);
  await Promise.all(hashes.map((hash) => c.get("services").keys.publish(hash)));
}

export async function putProviderKeyRoute(c: Context<With>): Promise<Response> {
  const sql = await adminSql(c);
  const tenant = await tenantOf(c, sql);
  const provider = providerOf(c);
  const schema = credentialSchemaFor(provider.api);
  if (schema === undefined) {
    throw new ApiError(400, `Provider '${provider.id}' (${provider.api}) takes no tenant credential`, { code: "invalid_value", param: "provider" });
  }
  const credential = await readJsonBody(c.req.raw, c.get("config").maxBodyBytes, schema);
  const ring = await c.get("services").credentials.keyring();
  if (ring.currentId === undefined) {
    throw new ApiError(503, "Tenants' credentials are encrypted under PROVIDER_KEYS_KEK: set it (wrangler secret put)", { code: "kek_not_configured" });
  }
  const shown = await putCredential(sql, ring, tenant, provider.id, credential);
  await republish(c, sql, tenant);
  return c.json({ object: "provider_credential", tenant, ...shown, set: true });
}

export async function showProviderKeyRoute(c: Context<With>): Promise<Response> {
  const sql = await adminSql(c);
  const tenant = await tenantOf(c, sql);
  const provider = providerOf(c);
  const found = (await listCredentials(sql, tenant)).find((row) => row.provider === provider.id);
  if (found === undefined) return c.json({ object: "provider_credential", tenant, provider: provider.id, set: false });
  return c.json({ object: "provider_credential", tenant, ...found, set: true });
}

export async function listProviderKeysRoute(c: Context<With>): Promise<Response> {
  const sql = await adminSql(c);
  const tenant = await tenantOf(c, sql);
  const rows = await listCredentials(sql, tenant);
  return c.json({ object: "list", tenant, data: rows.map((row) => ({ object: "provider_credential", tenant, ...row, set: true })) });
}

export async function deleteProviderKeyRoute(c: Context<With>): Promise<Response> {
  const sql = await adminSql(c);
  const tenant = await tenantOf(c, sql);
  const provider = providerOf(c);
  const deleted = await deleteCredential(sql, tenant, provider.id);
  // Published either way: a DELETE sent again after Redis refused the first one's records finds no row, and must still
  // take the credential out of the key records the isolates read (for up to 30 days).
  await republish(c, sql, tenant);
  if (!deleted) throw new ApiError(404, `Tenant ${tenant} has no credential of its own for ${provider.id}`, { code: "credential_not_found" });
  return c.json({ object: "provider_credential", tenant, provider: provider.id, set: false, deleted: true });
}

/** PATCH /v1/admin/tenants/{id}: `{"byok_only": true}` serves the tenant on its own credentials only. */
export async function changeTenantRoute(c: Context<With>): Promise<Response> {
  const sql = await adminSql(c);
  const tenant = await tenantOf(c, sql);
  const change = await readJsonBody(c.req.raw, c.get("config").maxBodyBytes, TenantChangeSchema);
  const row = await changeTenant(sql, tenant, change);
  await republish(c, sql, tenant);
  return c.json({ object: "tenant", ...row });
}
