-- Client API keys and the tenants they belong to. A key is stored as its SHA-256 and
-- a short visible prefix; the key itself is shown once, when it is made. A limit or
-- budget left NULL on a key is inherited from its tenant; NULL on both means none.
CREATE TABLE tenants (
  id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
  name text NOT NULL,
  rpm integer CHECK (rpm > 0),
  tpm integer CHECK (tpm > 0),
  daily_budget_usd numeric(14, 6) CHECK (daily_budget_usd >= 0),
  monthly_budget_usd numeric(14, 6) CHECK (monthly_budget_usd >= 0),
  max_tier smallint CHECK (max_tier BETWEEN 1 AND 5),
  models text[],
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id text PRIMARY KEY,
  tenant_id text REFERENCES tenants (id),
  name text NOT NULL,
  -- The first characters of the key (tg_live_abcd), so people can tell keys apart.
  prefix text NOT NULL,
  key_sha256 text NOT NULL UNIQUE,
  rpm integer CHECK (rpm > 0),
  tpm integer CHECK (tpm > 0),
  daily_budget_usd numeric(14, 6) CHECK (daily_budget_usd >= 0),
  monthly_budget_usd numeric(14, 6) CHECK (monthly_budget_usd >= 0),
  max_tier smallint CHECK (max_tier BETWEEN 1 AND 5),
  models text[],
  expires_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

-- Which tenant's key made each request (key_id holds the key's id, never the key).
ALTER TABLE audit_log ADD COLUMN tenant_id text;
CREATE INDEX audit_log_tenant_ts ON audit_log (tenant_id, ts DESC);
