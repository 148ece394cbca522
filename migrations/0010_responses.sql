-- Stored responses of the Responses API (issue 25): what `previous_response_id`
-- continues from, and what GET /v1/responses/{id} returns. Each is scoped to its
-- caller (its key's tenant, else its key, else "anonymous"): another scope's id is not
-- found. `history` is the whole conversation as chat messages up to and including this
-- response's output, so a continuation reads one row. A row lives RESPONSES_RETENTION_DAYS;
-- the daily job deletes the expired.
CREATE TABLE responses (
  id text PRIMARY KEY,
  scope text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  response jsonb NOT NULL,
  input_items jsonb NOT NULL,
  history jsonb NOT NULL
);
CREATE INDEX responses_expires_at ON responses (expires_at);

-- The audit row says a response was stored, by its id; never what it held.
ALTER TABLE audit_log ADD COLUMN stored_response text;
