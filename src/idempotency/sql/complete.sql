-- `complete` and `complete_in`: the same fence as `claim`, but the row
-- becomes completed, kept for the retention. The attempts and the last
-- error stay with it.
-- $1 the key, $2 the lease's token, $3 the retention in microseconds (int8).
WITH acted AS (
  INSERT INTO webhook_claims AS c (key, token, state, expires, completed_at, attempts)
  VALUES ($1, $2, 'completed', statement_timestamp() + $3::int8 * interval '1 microsecond',
          statement_timestamp(), 1)
  ON CONFLICT (key) DO UPDATE
     SET token = excluded.token, state = 'completed',
         expires = excluded.expires, completed_at = excluded.completed_at
   WHERE c.expires <= statement_timestamp()
      OR (c.token = excluded.token AND c.state = 'in_progress')
  RETURNING 0 AS code, 0::int8 AS left_us -- ACTED
)
