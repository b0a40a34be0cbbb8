-- claim: up to $1 rows that are due, for the worker whose claim token is
-- $2, with a lease of $3 microseconds and an attempt limit of $4.
--
-- Due: pending, retrying, or running past its lease (its worker is gone).
-- Held: an earlier item of the same order key (by event time, then
-- arrival) that is not done or discarded, or another item of the key
-- that is running under a live lease. A held row is not claimed; rows
-- other workers are claiming are skipped, never waited for.
--
-- A claim counts as an attempt. A row whose worker was lost after its
-- last allowed attempt is not run again: it is dead (returned without its
-- JSON). A lost attempt is written to the log when the row is claimed
-- again. The rows are picked by an `ARRAY(..)` of their `seq`, so that one
-- plan serves every call, whatever `$1`.
UPDATE webhook_inbox i
   SET state = CASE WHEN i.state = 'running' AND i.attempts >= $4 THEN 'dead' ELSE 'running' END,
       attempts = CASE WHEN i.state = 'running' AND i.attempts >= $4 THEN i.attempts
                       ELSE i.attempts + 1 END,
       token = CASE WHEN i.state = 'running' AND i.attempts >= $4 THEN NULL ELSE $2 END,
       started_at = CASE WHEN i.state = 'running' AND i.attempts >= $4 THEN i.started_at
                         ELSE statement_timestamp() END,
       next_attempt_at = CASE WHEN i.state = 'running' AND i.attempts >= $4 THEN NULL
                              ELSE statement_timestamp() + $3::int8 * interval '1 microsecond' END,
       last_error = CASE WHEN i.state = 'running' AND i.attempts >= $4
                         THEN 'the worker was lost: its lease ended' ELSE i.last_error END,
       attempt_log = CASE WHEN i.state = 'running' THEN i.attempt_log || jsonb_build_array(
                            jsonb_build_object(
                              'n', jsonb_array_length(i.attempt_log) + 1,
                              'started_us', (extract(epoch FROM i.started_at) * 1000000)::int8,
                              'finished_us', (extract(epoch FROM i.next_attempt_at) * 1000000)::int8,
                              'error', 'the worker was lost: its lease ended'))
                          ELSE i.attempt_log END
 WHERE i.seq = ANY (ARRAY(
         SELECT d.seq
           FROM webhook_inbox d
          WHERE d.state IN ('pending', 'retrying', 'running')
            AND d.next_attempt_at <= statement_timestamp()
            AND NOT EXISTS (
                  SELECT 1 FROM webhook_inbox e
                   WHERE e.order_key = d.order_key
                     AND e.state NOT IN ('done', 'discarded')
                     AND (e.event_time, e.seq) < (d.event_time, d.seq))
            AND NOT EXISTS (
                  SELECT 1 FROM webhook_inbox r
                   WHERE r.order_key = d.order_key
                     AND r.state NOT IN ('done', 'discarded')
                     AND r.state = 'running'
                     AND r.seq <> d.seq
                     AND r.next_attempt_at > statement_timestamp())
          ORDER BY d.next_attempt_at, d.seq
          LIMIT $1
          FOR UPDATE SKIP LOCKED))
RETURNING i.seq, i.key, i.vendor, i.id, i.order_key, i.attempts, i.state,
          CASE WHEN i.state = 'running' THEN i.raw END
