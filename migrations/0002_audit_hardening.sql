-- Audit log hardening: token counts that hold any value the router accepts, a keyed
-- request digest, a note of what the router changed in a provider's usage report,
-- and a quarantine that accounts for records Postgres refuses, so one bad record
-- cannot block the ones behind it.
ALTER TABLE audit_log ALTER COLUMN prompt_tokens TYPE bigint, ALTER COLUMN completion_tokens TYPE bigint;

-- From this release on: HMAC-SHA-256 of the normalised request under a key derived
-- from AUDIT_HMAC_KEY (request_sha256 stays for rows written before, NULL after).
ALTER TABLE audit_log ADD COLUMN request_hmac text;
-- What the router changed in the provider's usage report (clamped, rounded), if anything.
ALTER TABLE audit_log ADD COLUMN usage_adjusted jsonb;

-- A record the flush could not insert, as it came out of the queue, with Postgres's
-- reason. Its sequence number is accounted for: verification names it, not a gap.
CREATE TABLE audit_quarantine (
  seq bigint,
  request_id text,
  record text NOT NULL,
  error text NOT NULL,
  quarantined_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX audit_quarantine_seq ON audit_quarantine (seq) WHERE seq IS NOT NULL;
