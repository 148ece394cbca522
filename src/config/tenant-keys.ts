/** Settings of tenants' own provider credentials (BYOK, docs/byok.md): the key that encrypts them, and what they are billed. */
import * as z from "zod";

/** 32 bytes in base64: an AES-256 key. */
const Kek = (name: string) =>
  z.string().refine((text) => /^[A-Za-z0-9+/]{43}=$/.test(text.trim()), `${name} must be 32 random bytes in base64 (openssl rand -base64 32)`);

export const TenantKeySettings = z.object({
  /**
   * The key-encryption key of tenants' own provider credentials (a secret): 32 random bytes in base64
   * (`openssl rand -base64 32`). Credentials are stored AES-256-GCM-encrypted under it; unset, the admin API refuses
   * to store one and stored ones are not used. A malformed one stops the router.
   */
  PROVIDER_KEYS_KEK: Kek("PROVIDER_KEYS_KEK").optional(),
  /**
   * The key-encryption key before the current one (a secret), during a rotation: credentials still under it are
   * read, and `npm run keys:rotate-kek` re-encrypts them under PROVIDER_KEYS_KEK. Remove it once that has run.
   */
  PROVIDER_KEYS_KEK_PREVIOUS: Kek("PROVIDER_KEYS_KEK_PREVIOUS").optional(),
  /**
   * `list`: a request served on its tenant's own credential is charged to budgets at list price, as any other;
   * `none`: it is not charged to budgets (its audit row still records its cost at list price).
   */
  BYOK_BILLING: z.enum(["list", "none"]).default("list"),
});

export type TenantKeyConfig = {
  providerKeys: { kek: string | undefined; previousKek: string | undefined; billing: "list" | "none" };
};

export function tenantKeyConfig(env: z.infer<typeof TenantKeySettings>): TenantKeyConfig {
  return { providerKeys: { kek: env.PROVIDER_KEYS_KEK?.trim(), previousKek: env.PROVIDER_KEYS_KEK_PREVIOUS?.trim(), billing: env.BYOK_BILLING } };
}
