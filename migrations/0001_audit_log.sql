-- The audit log: one row per request, partitioned by month, signed (hmac) and
-- numbered (seq) so that edits, deletions and gaps can be proven.
CREATE TABLE audit_log (
  -- Global sequence number from Redis INCR; NULL only while a row written with
  -- Redis unreachable waits for the flush to number it.
  seq bigint,
  request_id uuid NOT NULL,
  ts timestamptz NOT NULL,
  constitutional_hash text,
  key_id text,
  tier smallint,
  score double precision,
  model text,
  provider text,
  fallbacks_tried jsonb NOT NULL DEFAULT '[]',
  cache_status text NOT NULL,
  http_status smallint NOT NULL,
  error_code text,
  prompt_tokens integer,
  completion_tokens integer,
  cost_usd double precision,
  latency_ms double precision NOT NULL,
  upstream_ms double precision,
  overhead_ms double precision NOT NULL,
  streamed boolean NOT NULL,
  truncated boolean NOT NULL,
  -- SHA-256 of the normalised request: proves what was asked without storing it.
  request_sha256 text,
  -- HMAC-SHA-256 (AUDIT_HMAC_KEY) over the canonical JSON of every column above.
  hmac text NOT NULL
) PARTITION BY RANGE (ts);

-- Unique keys of a partitioned table must hold the partition key.
CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq, ts);
CREATE UNIQUE INDEX audit_log_request ON audit_log (request_id, ts);
CREATE INDEX audit_log_ts ON audit_log (ts DESC, request_id DESC);
CREATE INDEX audit_log_key_ts ON audit_log (key_id, ts DESC);
CREATE INDEX audit_log_tier_model_ts ON audit_log (tier, model, ts DESC);
CREATE INDEX audit_log_status_ts ON audit_log (http_status, ts DESC);
CREATE INDEX audit_log_unsequenced ON audit_log (ts) WHERE seq IS NULL;

-- Rows outside every monthly partition land here rather than fail.
CREATE TABLE audit_log_default PARTITION OF audit_log DEFAULT;

-- Creates the monthly partitions from `months_back` before this month to
-- `months_ahead` after it; the cron calls it so the months ahead always exist.
CREATE FUNCTION audit_ensure_partitions(months_back integer, months_ahead integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  first_day date;
BEGIN
  FOR i IN -months_back..months_ahead LOOP
    first_day := (date_trunc('month', now()) + make_interval(months => i))::date;
    EXECUTE format(
      'CREATE TABLE IF NOT EXISTS %I PARTITION OF audit_log FOR VALUES FROM (%L) TO (%L)',
      'audit_log_' || to_char(first_day, 'YYYY_MM'), first_day, (first_day + interval '1 month')::date
    );
  END LOOP;
END
$$;

SELECT audit_ensure_partitions(1, 12);
