/**
 * Tenants' own provider credentials (BYOK, docs/byok.md): what each kind of provider takes,
 * and their rows in Postgres, sealed (crypto/credential-seal.ts). Only the last four
 * characters and when it was set are ever shown; the credential itself is read back only
 * on the request path (security/credential-vault.ts), through the key's record.
 */
import * as z from "zod";
import { pemSecrets } from "../config/env.ts";
import { jsonSetting } from "../config/json-setting.ts";
import { AWS_REGION_PATTERN } from "../config/providers.ts";
import { ServiceAccountJson, VertexProject, VertexRegion } from "../config/vertex.ts";
import type { Keyring, Sealed } from "../crypto/credential-seal.ts";
import type { Sql } from "../storage/postgres.ts";

const Secret = z
  .string()
  .min(8, "must be at least 8 characters")
  .max(4096)
  .refine((text) => !/[\u0000-\u001f\u007f]/.test(text), "must not contain control characters");

const ApiKeyCredential = z.strictObject({ api_key: Secret });
const AzureCredential = z.strictObject({ api_key: Secret, endpoint: z.url().optional() });
const AwsCredential = z.strictObject({
  access_key_id: z.string().regex(/^[A-Z0-9]{16,128}$/, "an AWS access key id (AKIA…)"),
  secret_access_key: Secret,
  session_token: Secret.optional(),
  // The router's own AWS_REGION's rule: a region that does not exist is refused here, not at the first call.
  region: z.string().regex(AWS_REGION_PATTERN, "must be an AWS region, like us-east-1 or eu-central-1"),
});
const ServiceAccount = z.looseObject({
  type: z.literal("service_account"),
  client_email: z.email(),
  private_key: z.string().includes("PRIVATE KEY", { message: "must be a PEM private key" }),
  private_key_id: z.string().min(4).optional(),
});
const GcpCredential = z.strictObject({
  service_account: z
    .union([ServiceAccount, jsonSetting(ServiceAccount, "must be the service account's JSON key, as an object or a string")])
    .superRefine((account, context) => {
      // VERTEX_SERVICE_ACCOUNT_JSON's own checks (a PKCS#8 key, an https token_uri): what the router can sign with.
      const checked = ServiceAccountJson.safeParse(JSON.stringify(account));
      if (!checked.success) context.addIssue({ code: "custom", message: checked.error.issues[0]!.message });
    }),
  project: VertexProject,
  region: VertexRegion,
});

/** What a tenant's credential holds, by the wire format of the provider it is for (its `api`). */
export const CREDENTIAL_SCHEMAS = {
  "openai-compatible": ApiKeyCredential,
  "azure-openai": AzureCredential,
  anthropic: ApiKeyCredential,
  gemini: ApiKeyCredential,
  bedrock: AwsCredential,
  vertex: GcpCredential,
  "vertex-anthropic": GcpCredential,
} as const satisfies Record<string, z.ZodType>;

/**
 * A tenant's credential as the admin API took it. Adapters find a key in `Provider.apiKey`
 * (and Azure's endpoint in `baseUrl`), AWS's in `Provider.aws` and GCP's in `Provider.vertex`,
 * as the router's own are (security/credential-vault.ts).
 */
export type TenantCredential =
  | z.infer<typeof ApiKeyCredential>
  | z.infer<typeof AzureCredential>
  | z.infer<typeof AwsCredential>
  | z.infer<typeof GcpCredential>;

export function credentialSchemaFor(api: string): z.ZodType<TenantCredential> | undefined {
  return Object.hasOwn(CREDENTIAL_SCHEMAS, api) ? (CREDENTIAL_SCHEMAS[api as keyof typeof CREDENTIAL_SCHEMAS] as z.ZodType<TenantCredential>) : undefined;
}

/**
 * Every secret text in a credential: what the error sanitiser must hide for a request made
 * with it. As for the router's own: a PEM key whole and line by line (a log may carry either),
 * and the AWS access key id, which AWS's signature errors quote.
 */
export function secretsOf(credential: TenantCredential): string[] {
  const texts: unknown[] = [];
  if ("api_key" in credential) texts.push(credential.api_key);
  if ("secret_access_key" in credential) texts.push(credential.access_key_id, credential.secret_access_key, credential.session_token);
  if ("service_account" in credential) {
    const { private_key: key, private_key_id: keyId } = credential.service_account;
    texts.push(key, ...pemSecrets(key.replaceAll("\\n", "\n")), keyId);
  }
  return texts.filter((text): text is string => typeof text === "string" && text !== "");
}

/** The four characters shown of a credential: its key's, its AWS access key id's, or its service account key id's (else its email's). */
function lastFour(credential: TenantCredential): string {
  if ("api_key" in credential) return credential.api_key.slice(-4);
  if ("access_key_id" in credential) return credential.access_key_id.slice(-4);
  return (credential.service_account.private_key_id ?? credential.service_account.client_email).slice(-4);
}

/** A row as the admin API shows it: never the credential. */
export type CredentialInfo = { provider: string; last_four: string; set_at: string; kek_id: string };

const INFO = "provider, last_four, set_at, kek_id";
const shown = (row: Record<string, unknown>): CredentialInfo => ({
  provider: String(row.provider),
  last_four: String(row.last_four),
  set_at: new Date(String(row.set_at instanceof Date ? row.set_at.toISOString() : row.set_at)).toISOString(),
  kek_id: String(row.kek_id),
});

/** Seals and stores (or replaces) the tenant's credential for the provider. */
export async function putCredential(sql: Sql, ring: Keyring, tenant: string, provider: string, credential: TenantCredential): Promise<CredentialInfo> {
  const sealed = await ring.seal(tenant, provider, JSON.stringify(credential));
  const [row] = await sql(
    `INSERT INTO provider_credentials (tenant_id, provider, kek_id, iv, ciphertext, last_four) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (tenant_id, provider) DO UPDATE SET kek_id = $3, iv = $4, ciphertext = $5, last_four = $6, set_at = now()
     RETURNING ${INFO}`,
    [tenant, provider, sealed.kekId, sealed.iv, sealed.ciphertext, lastFour(credential)],
  );
  return shown(row!);
}

export async function listCredentials(sql: Sql, tenant: string): Promise<CredentialInfo[]> {
  return (await sql(`SELECT ${INFO} FROM provider_credentials WHERE tenant_id = $1 ORDER BY provider`, [tenant])).map(shown);
}

/** Removes it; whether there was one. */
export async function deleteCredential(sql: Sql, tenant: string, provider: string): Promise<boolean> {
  return (await sql("DELETE FROM provider_credentials WHERE tenant_id = $1 AND provider = $2 RETURNING provider", [tenant, provider])).length > 0;
}

/** A sealed credential as the key's record carries it (key-store.ts `keyForHash`). */
export type SealedCredential = Sealed & { provider: string };

/** The SQL of a tenant's sealed credentials as one JSON array, for the key's record (`t` is the tenants row). */
export const SEALED_CREDENTIALS_SQL = `(SELECT coalesce(json_agg(json_build_object('provider', c.provider, 'kekId', c.kek_id, 'iv', c.iv, 'ciphertext', c.ciphertext) ORDER BY c.provider), '[]'::json)
   FROM provider_credentials c WHERE c.tenant_id = t.id)`;

/**
 * Re-seals every credential not under the keyring's current KEK (`npm run keys:rotate-kek`), one row at a time, each
 * update conditional on the row being unchanged since it was read: a credential replaced meanwhile is left as set.
 * Returns how many were re-sealed and the tenants whose key records must be written again.
 */
export async function resealAll(sql: Sql, ring: Keyring): Promise<{ resealed: number; tenants: string[] }> {
  if (ring.currentId === undefined) throw new Error("PROVIDER_KEYS_KEK is not set");
  const rows = await sql("SELECT tenant_id, provider, kek_id, iv, ciphertext FROM provider_credentials WHERE kek_id <> $1 ORDER BY tenant_id, provider", [
    ring.currentId,
  ]);
  const tenants = new Set<string>();
  let resealed = 0;
  for (const row of rows) {
    const tenant = String(row.tenant_id);
    const provider = String(row.provider);
    const old = { kekId: String(row.kek_id), iv: String(row.iv), ciphertext: String(row.ciphertext) };
    const sealed = await ring.seal(tenant, provider, await ring.open(tenant, provider, old));
    const updated = await sql(
      `UPDATE provider_credentials SET kek_id = $3, iv = $4, ciphertext = $5
       WHERE tenant_id = $1 AND provider = $2 AND iv = $6 RETURNING provider`,
      [tenant, provider, sealed.kekId, sealed.iv, sealed.ciphertext, old.iv],
    );
    if (updated.length > 0) {
      resealed += 1;
      tenants.add(tenant);
    }
  }
  return { resealed, tenants: [...tenants] };
}

/** The SHA-256 of every key of the tenant: whose records in Redis carry its credentials. */
export async function tenantKeyHashes(sql: Sql, tenant: string): Promise<string[]> {
  return (await sql("SELECT key_sha256 FROM api_keys WHERE tenant_id = $1", [tenant])).map((row) => String(row.key_sha256));
}
