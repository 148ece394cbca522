-- Tenants' own provider credentials (issue 38, BYOK). Each is AES-256-GCM ciphertext under the
-- key-encryption key named by kek_id (a short hash of PROVIDER_KEYS_KEK), with a fresh IV per row
-- and the tenant and provider bound as additional authenticated data: a row copied to another
-- tenant or provider does not decrypt. last_four is all that is ever shown of it. A deleted
-- tenant's credentials are deleted with it (key-store.ts revokeTenant), and with the tenant row.
CREATE TABLE provider_credentials (
  tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  provider text NOT NULL CHECK (provider ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
  kek_id text NOT NULL,
  iv text NOT NULL,
  ciphertext text NOT NULL,
  last_four text NOT NULL,
  set_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, provider)
);

-- A tenant that must be served on its own credentials only: a provider it has none for is not used.
ALTER TABLE tenants ADD COLUMN byok_only boolean NOT NULL DEFAULT false;

-- Whose credential served the request: 'router' or 'tenant'; NULL when no provider answered, and for rows from before.
ALTER TABLE audit_log ADD COLUMN credential text;
