-- complete: row $1, claimed with token $2, is done. Run inside the
-- handler's transaction, so that it commits with the work's effects or
-- not at all; no row changes (roll back then) once another claim took it.
-- The attempt that succeeded is the row's `started_at` to `finished_at`:
-- the attempt log keeps the failed and lost ones.
UPDATE webhook_inbox
   SET state = 'done', finished_at = statement_timestamp(), token = NULL,
       next_attempt_at = NULL
 WHERE seq = $1 AND token = $2 AND state = 'running'
