-- When a rate limit could not be checked (Redis unavailable: limits fail open), the
-- audit row says so; NULL when every limit that applies was checked.
ALTER TABLE audit_log ADD COLUMN limit_note text;
