-- fail: the attempt on row $1, claimed with token $2, failed with the
-- message $5. In a statement of its own, after the handler's transaction
-- rolled back. Past $3 attempts the row is dead; else it is retried $4
-- microseconds from now. When $6 is true the model could not read the
-- stored JSON: the row is parked.
UPDATE webhook_inbox
   SET state = CASE WHEN $6 THEN 'parked' WHEN attempts >= $3 THEN 'dead' ELSE 'retrying' END,
       next_attempt_at = CASE WHEN $6 OR attempts >= $3 THEN NULL
                              ELSE statement_timestamp() + $4::int8 * interval '1 microsecond' END,
       token = NULL, last_error = $5,
       attempt_log = attempt_log || jsonb_build_array(jsonb_build_object(
         'n', jsonb_array_length(attempt_log) + 1,
         'started_us', (extract(epoch FROM started_at) * 1000000)::int8,
         'finished_us', (extract(epoch FROM statement_timestamp()) * 1000000)::int8,
         'error', $5::text))
 WHERE seq = $1 AND token = $2 AND state = 'running'
RETURNING state
