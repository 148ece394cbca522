-- Every provider call a request made, in order: model, outcome (ok or the error code)
-- and milliseconds. NULL for requests that called no provider.
ALTER TABLE audit_log ADD COLUMN attempts jsonb;
