/**
 * A request as its tenant's credentials make it (docs/byok.md): the services with the
 * providers as they are for this caller (security/credential-vault.ts) and the tenant's
 * secrets among those no message may show; what BYOK_BILLING charges; which providers
 * are on the tenant's own credentials. Chat, embeddings and /v1/route all start here.
 */
import type { Config } from "../config/env.ts";
import type { Model } from "../routing/registry.ts";
import type { Caller } from "../security/caller.ts";
import type { CredentialVault } from "../security/credential-vault.ts";

type WithConfig = { config: Config; credentials: Pick<CredentialVault, "viewFor"> };

/** The services as this caller's request sees them: the same object when it has no credentials of its own (nor byok_only). */
export async function inTenantView<S extends WithConfig>(shared: S, caller: Caller | undefined): Promise<S> {
  const view = await shared.credentials.viewFor(shared.config.providers, caller);
  if (view === undefined) return shared;
  return { ...shared, config: { ...shared.config, providers: view.providers, secrets: [...shared.config.secrets, ...view.secrets] } };
}

/** Whether a model's answers (a chat or an embedding model's) are charged nothing to budgets: BYOK_BILLING=none, and its provider is on the tenant's own credential. */
export function unchargedOn(config: Pick<Config, "providerKeys" | "providers">): (model: Pick<Model, "provider">) => boolean {
  if (config.providerKeys.billing !== "none") return () => false;
  return (model) => config.providers.get(model.provider)?.credentialOwner !== undefined;
}

/** The providers this request calls on its tenant's own credentials: their breakers are its own (reliability/breakers.ts). */
export function tenantCredentialProviders(config: { providers: ReadonlyMap<string, { credentialOwner?: string | undefined }> }): string[] {
  return [...config.providers].filter(([, provider]) => provider.credentialOwner !== undefined).map(([id]) => id);
}

/** Whose credential a provider is called with, as the audit row says it. */
export function credentialOf(config: Pick<Config, "providers">, provider: string): "router" | "tenant" {
  return config.providers.get(provider)?.credentialOwner === undefined ? "router" : "tenant";
}
