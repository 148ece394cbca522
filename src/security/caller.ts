/** The key behind a request, as routing, limits, budgets and the audit log see it. */
import type { SealedCredential } from "./provider-credentials.ts";

export type Caller = {
  keyId: string;
  tenantId: string | null;
  /** Times the tenant was deleted (migrations/0013); part of its scope, so a later key for the same id sees none of its data. */
  tenantGeneration?: number;
  maxTier: number | null;
  models: string[] | null;
  rpm: number | null;
  tpm: number | null;
  dailyBudgetUsd: number | null;
  monthlyBudgetUsd: number | null;
  /** The tenant's own budgets, for the spend of all its keys together. */
  tenantBudgets: { dailyUsd: number | null; monthlyUsd: number | null };
  /** The admin key, used as a client key: trusted, unlimited. */
  admin: boolean;
  /** The tenant's own provider credentials, sealed (security/credential-vault.ts opens them). */
  tenantCredentials?: readonly SealedCredential[];
  /** The tenant is served on its own credentials only. */
  byokOnly?: boolean;
};

/**
 * Who owns what a request leaves behind (its cache entries, its stored responses): the
 * key's tenant, else the key alone; neither for a request without a key. A tenant deleted
 * and made again is another owner: its generation follows the id after a `#`, which no
 * tenant id can hold, and generation 0 is the bare id, as scopes were before generations.
 */
export function ownerOf(caller: Caller | undefined): { tenant: string | null; key: string | null } {
  const id = caller?.tenantId ?? null;
  const generation = caller?.tenantGeneration ?? 0;
  const tenant = id === null || generation === 0 ? id : `${id}#${generation}`;
  return { tenant, key: caller !== undefined && id === null ? caller.keyId : null };
}

/** The admin key as a caller: no limits, no budgets, no tenant. */
export const ADMIN_CALLER: Caller = {
  keyId: "admin",
  tenantId: null,
  maxTier: null,
  models: null,
  rpm: null,
  tpm: null,
  dailyBudgetUsd: null,
  monthlyBudgetUsd: null,
  tenantBudgets: { dailyUsd: null, monthlyUsd: null },
  admin: true,
};
