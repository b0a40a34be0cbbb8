-- retry_all: up to $2 rows in state $1 become pending, due at once with a
-- fresh count of attempts (rows whose JSON was purged stay). Run again
-- until it changes fewer than $2.
UPDATE webhook_inbox
   SET state = 'pending', attempts = 0, next_attempt_at = statement_timestamp(),
       finished_at = NULL, token = NULL
 WHERE seq IN (SELECT seq FROM webhook_inbox
                WHERE state = $1 AND raw IS NOT NULL
                ORDER BY seq
                LIMIT $2
                FOR UPDATE SKIP LOCKED)
   AND state = $1
