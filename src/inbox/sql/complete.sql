-- complete: row $1, claimed with token $2, is done. Run inside the
-- handler's transaction, so that it commits with the work's effects or
-- not at all; no row changes (roll back then) once another claim took it.
UPDATE webhook_inbox
   SET state = 'done', finished_at = statement_timestamp(), token = NULL,
       next_attempt_at = NULL,
       attempt_log = attempt_log || jsonb_build_array(jsonb_build_object(
         'n', jsonb_array_length(attempt_log) + 1,
         'started_us', (extract(epoch FROM started_at) * 1000000)::int8,
         'finished_us', (extract(epoch FROM statement_timestamp()) * 1000000)::int8,
         'error', NULL))
 WHERE seq = $1 AND token = $2 AND state = 'running'
