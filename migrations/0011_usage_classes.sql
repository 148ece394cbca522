-- The classes of a prompt and an answer (issue 35): how many of the prompt's tokens the
-- provider read from its cache, wrote to it for 5 minutes and for 1 hour (each a part of
-- prompt_tokens), and how many of the completion's were reasoning (a part of
-- completion_tokens). Each class is charged at its own price, so the row keeps them.
-- NULL for rows from before, which were signed without them and still verify; a row
-- with usage from this release on has all four, 0 for a class that had none.
ALTER TABLE audit_log
  ADD COLUMN cache_read_tokens bigint,
  ADD COLUMN cache_write_tokens bigint,
  ADD COLUMN cache_write_1h_tokens bigint,
  ADD COLUMN reasoning_tokens bigint;
