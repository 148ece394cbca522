-- Sessions and affinity (issue 35): the session a request belonged to, as the digest the
-- client was shown in x-tiergate-session (never the id it sent), and what its turn did to it:
-- "new", "kept" (stayed on the model holding the session's cache) or "moved". NULL for
-- requests that are no chat turn, rows from before, and (affinity) SESSION_AFFINITY=off.
ALTER TABLE audit_log ADD COLUMN session text;
ALTER TABLE audit_log ADD COLUMN affinity text;
CREATE INDEX audit_log_session ON audit_log (session, ts) WHERE session IS NOT NULL;
