-- `claim` and `extend`: take the key if its row has expired (released,
-- its lease run out, or past its retention) or is this token's lease in
-- progress; otherwise say who has it, and for how long.
-- $1 the key, $2 the lease's token, $3 the lease in microseconds (int8).
WITH acted AS (
  INSERT INTO webhook_claims AS c (key, token, state, expires, attempts)
  VALUES ($1, $2, 'in_progress', statement_timestamp() + $3::int8 * interval '1 microsecond', 1)
  ON CONFLICT (key) DO UPDATE
     SET token = excluded.token, state = 'in_progress',
         expires = excluded.expires, completed_at = NULL,
         -- The same lease again (an extension, a retried claim) is the
         -- same attempt; a key past its retention starts afresh.
         attempts = CASE WHEN c.token = excluded.token THEN c.attempts
                         WHEN c.state = 'completed' THEN 1
                         ELSE c.attempts + 1 END,
         last_error = CASE WHEN c.state = 'completed' AND c.token <> excluded.token THEN NULL
                           ELSE c.last_error END
   WHERE c.expires <= statement_timestamp()
      OR (c.token = excluded.token AND c.state = 'in_progress')
  RETURNING 0 AS code, 0::int8 AS left_us -- ACTED
)
