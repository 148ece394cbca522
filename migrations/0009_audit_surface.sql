-- The API surface a request came through (issue 24): "chat_completions" or "messages".
-- NULL for routes that are no surface (/v1/route, /v1/feedback, ...) and rows from before.
ALTER TABLE audit_log ADD COLUMN surface text;
