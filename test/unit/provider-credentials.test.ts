/** Tenants' own provider credentials: sealing, what each kind takes, and each tenant's view of the providers. */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config/env.ts";
import { keyringOf } from "../../src/crypto/credential-seal.ts";
import { credentialTarget, modelTarget, reportsFrom } from "../../src/reliability/breakers.ts";
import { DEFAULT_MODELS } from "../../src/routing/registry.ts";
import { ADMIN_CALLER, type Caller } from "../../src/security/caller.ts";
import { createCredentialVault } from "../../src/security/credential-vault.ts";
import { CREDENTIAL_SCHEMAS, credentialSchemaFor, secretsOf } from "../../src/security/provider-credentials.ts";

const kek = (): string => randomBytes(32).toString("base64");
const KEY = "sk-tenant-GREPME-unit-0123456789";

describe("sealing a credential", () => {
  it("opens for its own tenant and provider only, under either KEK of the ring, never under another", async () => {
    const [old, fresh] = [kek(), kek()];
    const before = await keyringOf(old, undefined);
    const sealed = await before.seal("acme", "openrouter", KEY);
    expect(sealed.ciphertext).not.toContain(KEY);
    expect(Buffer.from(sealed.iv, "base64")).toHaveLength(12);
    expect((await before.seal("acme", "openrouter", KEY)).iv).not.toBe(sealed.iv);
    expect(await before.open("acme", "openrouter", sealed)).toBe(KEY);
    await expect(before.open("other", "openrouter", sealed)).rejects.toThrow();
    await expect(before.open("acme", "groq", sealed)).rejects.toThrow();
    const rotating = await keyringOf(fresh, old);
    expect(await rotating.open("acme", "openrouter", sealed)).toBe(KEY);
    expect((await rotating.seal("acme", "openrouter", KEY)).kekId).toBe(rotating.currentId);
    expect(rotating.currentId).not.toBe(before.currentId);
    const after = await keyringOf(fresh, undefined);
    await expect(after.open("acme", "openrouter", sealed)).rejects.toThrow(/no configured key-encryption key/);
    await expect((await keyringOf(undefined, undefined)).seal("acme", "openrouter", KEY)).rejects.toThrow(/PROVIDER_KEYS_KEK/);
  });

  it("stops the router on a malformed KEK, naming it", () => {
    expect(() => parseConfig({ PROVIDER_KEYS_KEK: "too-short" })).toThrow(/PROVIDER_KEYS_KEK must be 32 random bytes/);
    expect(() => parseConfig({ PROVIDER_KEYS_KEK: kek(), PROVIDER_KEYS_KEK_PREVIOUS: "AAAA" })).toThrow(/PROVIDER_KEYS_KEK_PREVIOUS/);
    const config = parseConfig({ PROVIDER_KEYS_KEK: kek(), BYOK_BILLING: "none" });
    expect(config.providerKeys.billing).toBe("none");
    expect(config.secrets).toContain(config.providerKeys.kek);
  });
});

describe("what each kind of provider takes", () => {
  const issues = (api: string, body: unknown): string[] => {
    const parsed = credentialSchemaFor(api)!.safeParse(body);
    return parsed.success ? [] : parsed.error.issues.map((issue) => issue.path.join("."));
  };
  it("names the field that is wrong", () => {
    expect(issues("openai-compatible", { api_key: KEY })).toEqual([]);
    expect(issues("openai-compatible", { api_key: KEY, extra: 1 })).toEqual([""]);
    expect(issues("anthropic", {})).toEqual(["api_key"]);
    expect(issues("azure-openai", { api_key: KEY, endpoint: "nope" })).toEqual(["endpoint"]);
    const aws = { access_key_id: "AKIAIOSFODNN7EXAMPLE", secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1" };
    expect(issues("bedrock", aws)).toEqual([]);
    expect(issues("bedrock", { ...aws, region: "mars" })).toEqual(["region"]);
    expect(issues("bedrock", { ...aws, access_key_id: "lower" })).toEqual(["access_key_id"]);
    const account = {
      type: "service_account",
      client_email: "a@my-project-1.iam.gserviceaccount.com",
      private_key: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    };
    const gcp = { service_account: account, project: "my-project-1", region: "us-central1" };
    expect(issues("vertex", gcp)).toEqual([]);
    expect(issues("vertex", { ...gcp, service_account: JSON.stringify(account) })).toEqual([]);
    expect(issues("vertex", { ...gcp, service_account: "{not json" })).toEqual(["service_account"]);
    // What VERTEX_SERVICE_ACCOUNT_JSON refuses, a tenant's is refused for: a key that is no PKCS#8 key, a region Vertex lacks.
    expect(issues("vertex", { ...gcp, service_account: { ...account, private_key: "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n" } })).toEqual([
      "service_account",
    ]);
    expect(issues("vertex", { ...gcp, region: "us-cental1" })).toEqual(["region"]);
    expect(issues("vertex", { ...gcp, project: "p" })).toEqual(["project"]);
    expect(issues("vertex", { service_account: account, region: "us-central1" })).toEqual(["project"]);
    expect(credentialSchemaFor("__proto__")).toBeUndefined();
    expect(Object.keys(CREDENTIAL_SCHEMAS)).toEqual(["openai-compatible", "azure-openai", "anthropic", "gemini", "bedrock", "vertex", "vertex-anthropic"]);
  });

  it("knows every secret a credential holds", () => {
    expect(secretsOf({ api_key: KEY })).toEqual([KEY]);
    // AWS's signature errors quote the access key id.
    expect(secretsOf({ access_key_id: "AKIAIOSFODNN7EXAMPLE", secret_access_key: "s3cr3t-0123", region: "us-east-1" })).toEqual([
      "AKIAIOSFODNN7EXAMPLE",
      "s3cr3t-0123",
    ]);
    // A PEM key whole and line by line, as the router's own: one line of it in a provider's message is masked too.
    const pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\nhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";
    const account = { type: "service_account" as const, client_email: "a@b.iam.gserviceaccount.com", private_key: pem };
    expect(secretsOf({ service_account: account, project: "my-project-1", region: "global" })).toEqual(
      expect.arrayContaining([pem, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "MIIEvQIBADANBgkq", "hkiG9w0BAQEFAASC"]),
    );
  });
});

describe("a tenant's view of the providers", () => {
  const KEK = kek();
  const config = parseConfig({ OPENROUTER_API_KEY: "router-key-0123456789", PROVIDER_KEYS_KEK: KEK });
  const vault = createCredentialVault(config.providerKeys);
  const caller = (fields: Partial<Caller>): Caller => ({ ...ADMIN_CALLER, admin: false, keyId: "k1", tenantId: "acme", ...fields });
  const sealed = async (provider: string, credential: unknown, ring = vault.keyring()) => ({
    provider,
    ...(await (await ring).seal("acme", provider, JSON.stringify(credential))),
  });

  it("is the router's own for a tenant with no credential and no byok_only", async () => {
    expect(await vault.viewFor(config.providers, caller({}))).toBeUndefined();
    expect(await vault.viewFor(config.providers, caller({ tenantId: null, tenantCredentials: [await sealed("groq", { api_key: KEY })] }))).toBeUndefined();
  });

  it("puts the tenant's key on its provider, leaves the others the router's, and knows the key as a secret", async () => {
    const view = (await vault.viewFor(config.providers, caller({ tenantCredentials: [await sealed("groq", { api_key: KEY })] })))!;
    expect(view.providers.get("groq")).toMatchObject({ apiKey: KEY, credentialOwner: "acme", configured: true });
    expect(view.providers.get("openrouter")).toBe(config.providers.get("openrouter"));
    expect(view.secrets).toEqual([KEY]);
    // The router's own provider object is left as it was.
    expect(config.providers.get("groq")!.credentialOwner).toBeUndefined();
  });

  it("with byok_only, leaves unconfigured every provider the tenant has no credential for, naming where to set one", async () => {
    const view = (await vault.viewFor(config.providers, caller({ byokOnly: true })))!;
    expect(view.providers.get("openrouter")).toMatchObject({
      configured: false,
      apiKey: undefined,
      configureWith: "PUT /v1/admin/tenants/acme/providers/openrouter",
    });
  });

  it("takes Azure's endpoint from the tenant, and leaves Azure unconfigured when neither has one", async () => {
    const withEndpoint = (await vault.viewFor(
      config.providers,
      caller({ tenantCredentials: [await sealed("azure-openai", { api_key: KEY, endpoint: "https://acme.openai.azure.com" })] }),
    ))!;
    expect(withEndpoint.providers.get("azure-openai")).toMatchObject({ baseUrl: "https://acme.openai.azure.com", apiKey: KEY, configured: true });
    const without = (await vault.viewFor(config.providers, caller({ tenantCredentials: [await sealed("azure-openai", { api_key: KEY })] })))!;
    expect(without.providers.get("azure-openai")).toMatchObject({ configured: false });
  });

  it("does not use a credential it cannot open (its KEK gone), nor fall back to the router's, and logs no secret", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const foreign = await sealed("openrouter", { api_key: KEY }, keyringOf(kek(), undefined));
    const view = (await vault.viewFor(config.providers, caller({ tenantCredentials: [foreign] })))!;
    expect(view.providers.get("openrouter")).toMatchObject({ configured: false, apiKey: undefined });
    const logged = log.mock.calls.flat().join("\n");
    log.mockRestore();
    expect(logged).toContain("credential_unreadable");
    expect(logged).not.toContain(KEY);
  });
});

describe("breaker reports of calls on a tenant's credential", () => {
  it("go to that tenant's credential circuit alone, never to the shared model or provider circuits", () => {
    const model = DEFAULT_MODELS.find((entry) => entry.provider === "openrouter")!;
    const attempts = [
      { model: model.id, outcome: "upstream_auth_failed", ms: 3 },
      { model: model.id, outcome: "upstream_auth_failed", ms: 3 },
    ];
    expect(reportsFrom(DEFAULT_MODELS, attempts, false, "tenant:acme", ["openrouter"])).toEqual([
      { target: credentialTarget("tenant:acme", "openrouter"), outcome: "fail", ms: -1, owner: "tenant:acme" },
    ]);
    expect(reportsFrom(DEFAULT_MODELS, attempts, false, "tenant:acme", [])[0]).toMatchObject({ target: modelTarget(model.id) });
    // What the client's request caused tells no circuit anything: its own credential's stays shut.
    for (const outcome of ["context_length_exceeded", "content_filtered", "invalid_value", "upstream_invalid_request"])
      expect(reportsFrom(DEFAULT_MODELS, [{ model: model.id, outcome, ms: 3 }], false, "tenant:acme", ["openrouter"])).toEqual([]);
  });
});
