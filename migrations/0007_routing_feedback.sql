-- Routing that learns from each deployment's traffic (issue 13).
-- Every audit row keeps the decision's feature vector (numbers only, never text, in the
-- order of src/routing/features.ts) and the routing model that scored it. NULL for rows
-- of requests that were never scored (refused before the decision) and rows from before.
ALTER TABLE audit_log ADD COLUMN features jsonb;
ALTER TABLE audit_log ADD COLUMN router_model text;

-- A client's rating of an answer it received, one per request (POST /v1/feedback).
-- Joined to the audit row by request_id; key_id is the key that rated it, so training
-- counts a rating only when it is the key that made the request.
CREATE TABLE feedback (
  request_id  uuid PRIMARY KEY,
  key_id      text,
  rating      text CHECK (rating IN ('good', 'bad')),
  score       double precision CHECK (score >= 0 AND score <= 1),
  better_tier text CHECK (better_tier IN ('stronger', 'cheaper')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (rating IS NOT NULL OR score IS NOT NULL)
);
