-- Scheduled audits (daily cron, npm run audit): one row per run, what it checked and
-- what it found. The next run verifies row by row from the last clean run's to_seq (its
-- checkpoint), and the rows before it by their digest.
CREATE TABLE IF NOT EXISTS audit_runs (
  id bigserial PRIMARY KEY,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT now(),
  -- Who ran it: the worker's cron or the npm script.
  runner text NOT NULL,
  from_seq bigint NOT NULL,
  to_seq bigint NOT NULL,
  checked bigint NOT NULL,
  ok boolean NOT NULL,
  -- Gaps, duplicates, bad HMACs, rows without the hash, numbers issued but stored nowhere.
  problems jsonb NOT NULL,
  -- The day's SLOs: each with its target, the measured value and whether it was met.
  slos jsonb NOT NULL,
  constitutional_hash text NOT NULL,
  -- Count and order-free sum of per-row hashes of every row up to to_seq: the next run
  -- recomputes it to see that nothing at or before its checkpoint changed.
  digest text NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_runs_started_at ON audit_runs (started_at DESC);
