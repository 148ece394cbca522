-- One rating per request and rater, not per request (issue 23): a rating that waits for
-- its request's audit row must not let another key claim the request's one rating first.
-- A rating counts for training only where the audit row shows the rater made the request
-- (or the rater is the admin, key_id NULL); the others stay pending, and the daily job
-- deletes those that no audit row has matched after a day.
ALTER TABLE feedback DROP CONSTRAINT feedback_pkey;
CREATE UNIQUE INDEX feedback_request_rater ON feedback (request_id, (coalesce(key_id, '')));
CREATE INDEX feedback_created_at ON feedback (created_at);
