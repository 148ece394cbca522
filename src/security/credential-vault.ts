/**
 * Which credential a request's provider calls use: its tenant's own for a provider it has
 * one for, the router's otherwise; with `byok_only`, its own alone (a provider it has none
 * for is not configured, for its requests). The tenant's credentials come sealed in the
 * key's record (key-store.ts `keyForHash`), so reading them costs no round trip, warm or
 * cold; each is opened in the isolate and kept there at most 60 s, under a name that holds
 * no secret (tenant, provider, KEK id and the row's IV: a new credential has a new IV).
 * Failure policy: a credential that cannot be opened (its KEK is gone) is not used, and its
 * provider is not configured for that tenant, rather than served on the router's credential
 * the tenant did not ask for; a log line names the tenant, provider and KEK id, never more.
 */
import { AZURE_PLACEHOLDER_ENDPOINT, type Provider } from "../config/providers.ts";
import { ServiceAccountJson, vertexHost } from "../config/vertex.ts";
import { type Keyring, keyringOf } from "../crypto/credential-seal.ts";
import { lru } from "../storage/lru.ts";
import type { Caller } from "./caller.ts";
import { type SealedCredential, secretsOf, type TenantCredential } from "./provider-credentials.ts";

/** The providers as one tenant's requests see them, and the secrets of its credentials, for the error sanitiser. */
export type TenantView = { providers: ReadonlyMap<string, Provider>; secrets: readonly string[] };

export type CredentialVault = {
  /** The caller's view of `providers`; `undefined` when it is the router's own (no credentials of its own, not `byok_only`). */
  viewFor(providers: ReadonlyMap<string, Provider>, caller: Caller | undefined): Promise<TenantView | undefined>;
  /** The keyring of PROVIDER_KEYS_KEK and PROVIDER_KEYS_KEK_PREVIOUS (the admin API seals with it). */
  keyring(): Promise<Keyring>;
};

const OPENED_TTL_MS = 60_000;

/** Where a tenant may set the credential it lacks. */
export const credentialRoute = (tenant: string, provider: string): string => `PUT /v1/admin/tenants/${tenant}/providers/${provider}`;

export function createCredentialVault(settings: { kek: string | undefined; previousKek: string | undefined }): CredentialVault {
  let ring: Promise<Keyring> | undefined;
  const keyring = (): Promise<Keyring> => {
    ring ??= keyringOf(settings.kek, settings.previousKek);
    return ring;
  };
  const opened = lru<TenantCredential>(1_000, OPENED_TTL_MS);
  const open = async (tenant: string, sealed: SealedCredential): Promise<TenantCredential | undefined> => {
    const name = `${tenant}\u0000${sealed.provider}\u0000${sealed.kekId}\u0000${sealed.iv}`;
    const known = opened.get(name);
    if (known !== undefined) return known;
    try {
      const credential = JSON.parse(await (await keyring()).open(tenant, sealed.provider, sealed)) as TenantCredential;
      opened.set(name, credential);
      return credential;
    } catch {
      console.log(JSON.stringify({ credential_unreadable: { tenant, provider: sealed.provider, kek_id: sealed.kekId } }));
      return undefined;
    }
  };
  return {
    keyring,
    async viewFor(providers, caller) {
      const tenant = caller?.tenantId ?? null;
      const sealed = caller?.tenantCredentials ?? [];
      if (tenant === null || (sealed.length === 0 && caller?.byokOnly !== true)) return undefined;
      const own = new Map<string, TenantCredential | undefined>();
      await Promise.all(sealed.map(async (row) => own.set(row.provider, await open(tenant, row))));
      const view = new Map<string, Provider>();
      const secrets: string[] = [];
      for (const [id, provider] of providers) {
        const credential = own.get(id);
        if (credential !== undefined) {
          view.set(id, withCredential(provider, credential, tenant));
          secrets.push(...secretsOf(credential));
        } else if (own.has(id) || caller?.byokOnly === true) {
          view.set(id, { ...provider, apiKey: undefined, configured: false, configureWith: credentialRoute(tenant, id) });
        } else view.set(id, provider);
      }
      return { providers: view, secrets };
    },
  };
}

/** The provider as a call on the tenant's credential makes it: the seam every adapter reads (providers/adapter.ts). */
function withCredential(provider: Provider, credential: TenantCredential, tenant: string): Provider {
  if ("api_key" in credential) {
    const endpoint = "endpoint" in credential ? credential.endpoint : undefined;
    const baseUrl = endpoint ?? provider.baseUrl;
    // Azure without an endpoint of the tenant's or the router's has nowhere to go.
    const configured = provider.api !== "azure-openai" || baseUrl !== AZURE_PLACEHOLDER_ENDPOINT;
    return { ...provider, baseUrl, apiKey: credential.api_key, credentialOwner: tenant, configured };
  }
  const own = { ...provider, apiKey: undefined, credentialOwner: tenant, configured: true };
  if ("access_key_id" in credential) {
    const { access_key_id: accessKeyId, secret_access_key: secretAccessKey, session_token: sessionToken, region } = credential;
    return { ...own, baseUrl: inRegion(provider.baseUrl, region), aws: { accessKeyId, secretAccessKey, sessionToken, region } };
  }
  // Checked as VERTEX_SERVICE_ACCOUNT_JSON is when it was set (provider-credentials.ts): it parses.
  const serviceAccount = ServiceAccountJson.parse(JSON.stringify(credential.service_account));
  const { project, region } = credential;
  return { ...own, baseUrl: inRegion(provider.baseUrl, region), vertex: { serviceAccount, project, region } };
}

/**
 * The provider's base URL for the tenant's region: AWS's and Google's own hosts name the region, so the
 * router's region's host becomes the tenant's; any other base URL (BEDROCK_BASE_URL, VERTEX_BASE_URL) stays.
 */
function inRegion(baseUrl: string, region: string): string {
  if (/^https:\/\/bedrock-runtime\.[a-z0-9-]+\.amazonaws\.com$/.test(baseUrl)) return `https://bedrock-runtime.${region}.amazonaws.com`;
  if (/^https:\/\/(?:[a-z0-9-]+-)?aiplatform\.googleapis\.com$/.test(baseUrl)) return vertexHost(region);
  return baseUrl;
}
