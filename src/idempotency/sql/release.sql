-- `release` and `release_with_error`: this token's lease ends now, so the
-- key is free for the next claim; the row stays, with the attempts and
-- the error (when one is given) for `status`. A row that has expired
-- already (another lease's, run out) is free: it acts, and changes
-- nothing. No row at all means the key is free already.
-- $1 the key, $2 the lease's token, $3 the error (text, or NULL to keep the last one).
WITH acted AS (
  UPDATE webhook_claims c
     SET expires = CASE WHEN c.token = $2 THEN statement_timestamp() ELSE c.expires END,
         last_error = CASE WHEN c.token = $2 THEN coalesce($3::text, c.last_error)
                           ELSE c.last_error END
   WHERE c.key = $1
     AND ((c.token = $2 AND c.state = 'in_progress') OR c.expires <= statement_timestamp())
  RETURNING 0 AS code, 0::int8 AS left_us -- ACTED
)
