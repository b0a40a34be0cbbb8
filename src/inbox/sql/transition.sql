-- transition: row $1 (a key) goes to state $2 if it is in one of the
-- states $3. To 'pending' (retry, replay) it is due at once with a fresh
-- count of attempts, and only while its JSON is kept; to 'discarded' it
-- is finished. Returns its state and whether it changed; no row when
-- there is no such key.
WITH acted AS (
  UPDATE webhook_inbox
     SET state = $2::text,
         attempts = CASE WHEN $2::text = 'pending' THEN 0 ELSE attempts END,
         next_attempt_at = CASE WHEN $2::text = 'pending' THEN statement_timestamp() END,
         finished_at = CASE WHEN $2::text = 'discarded' THEN statement_timestamp() END,
         token = NULL
   WHERE key = $1 AND state = ANY($3::text[])
     AND ($2::text <> 'pending' OR raw IS NOT NULL)
  RETURNING state
)
SELECT state, true FROM acted
UNION ALL
SELECT state, false FROM webhook_inbox
 WHERE key = $1 AND NOT EXISTS (SELECT 1 FROM acted)
