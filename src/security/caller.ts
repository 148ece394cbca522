/** The key behind a request, as routing, limits, budgets and the audit log see it. */

export type Caller = {
  keyId: string;
  tenantId: string | null;
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
};

/**
 * Who owns what a request leaves behind (its cache entries, its stored responses): the
 * key's tenant, else the key alone; neither for a request without a key.
 */
export function ownerOf(caller: Caller | undefined): { tenant: string | null; key: string | null } {
  const tenant = caller?.tenantId ?? null;
  return { tenant, key: caller !== undefined && tenant === null ? caller.keyId : null };
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
