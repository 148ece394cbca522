/** Who owns a request's data (security/caller.ts `ownerOf`): a tenant's generation is part of it. */
import { describe, expect, it } from "vitest";
import { ADMIN_CALLER, type Caller, ownerOf } from "../../src/security/caller.ts";
import { responseScope } from "../../src/surfaces/openai-responses/store.ts";

const caller = (fields: Partial<Caller>): Caller => ({ ...ADMIN_CALLER, admin: false, keyId: "key_a", ...fields });

describe("ownerOf", () => {
  it("is the bare tenant id in generation 0, as scopes were before generations", () => {
    expect(ownerOf(caller({ tenantId: "acme" }))).toEqual({ tenant: "acme", key: null });
    expect(ownerOf(caller({ tenantId: "acme", tenantGeneration: 0 }))).toEqual({ tenant: "acme", key: null });
  });

  it("is another owner once the tenant was deleted: no id a tenant can have, and not the one before", () => {
    const after = ownerOf(caller({ tenantId: "acme", tenantGeneration: 1 }));
    expect(after).toEqual({ tenant: "acme#1", key: null });
    expect(responseScope(caller({ tenantId: "acme", tenantGeneration: 1 }))).not.toBe(responseScope(caller({ tenantId: "acme" })));
    expect(responseScope(caller({ tenantId: "acme", tenantGeneration: 2 }))).not.toBe(responseScope(caller({ tenantId: "acme", tenantGeneration: 1 })));
  });

  it("is the key alone without a tenant, whatever the generation field says", () => {
    expect(ownerOf(caller({ tenantId: null, tenantGeneration: 3 }))).toEqual({ tenant: null, key: "key_a" });
    expect(ownerOf(undefined)).toEqual({ tenant: null, key: null });
  });
});
