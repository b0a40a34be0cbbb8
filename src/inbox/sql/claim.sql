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
-- last allowed attempt is not run again: it is dead (`spent`). A lost
-- attempt is written to the log when the row is claimed again.
WITH due AS (
  SELECT i.seq, i.state = 'running' AND i.attempts >= $4 AS spent,
         CASE WHEN i.state = 'running' THEN jsonb_build_array(jsonb_build_object(
                'n', jsonb_array_length(i.attempt_log) + 1,
                'started_us', (extract(epoch FROM i.started_at) * 1000000)::int8,
                'finished_us', (extract(epoch FROM i.next_attempt_at) * 1000000)::int8,
                'error', 'the worker was lost: its lease ended'))
              ELSE '[]'::jsonb END AS lost
    FROM webhook_inbox i
   WHERE i.state IN ('pending', 'retrying', 'running')
     AND i.next_attempt_at <= statement_timestamp()
     AND NOT EXISTS (
           SELECT 1 FROM webhook_inbox e
            WHERE e.order_key = i.order_key
              AND e.state NOT IN ('done', 'discarded')
              AND (e.event_time, e.seq) < (i.event_time, i.seq))
     AND NOT EXISTS (
           SELECT 1 FROM webhook_inbox r
            WHERE r.order_key = i.order_key
              AND r.state NOT IN ('done', 'discarded')
              AND r.state = 'running'
              AND r.seq <> i.seq
              AND r.next_attempt_at > statement_timestamp())
   ORDER BY i.next_attempt_at, i.seq
   LIMIT $1
   FOR UPDATE OF i SKIP LOCKED
), claimed AS (
  UPDATE webhook_inbox i
     SET state = 'running', attempts = i.attempts + 1, token = $2,
         started_at = statement_timestamp(),
         next_attempt_at = statement_timestamp() + $3::int8 * interval '1 microsecond',
         attempt_log = i.attempt_log || due.lost
    FROM due
   WHERE i.seq = due.seq AND NOT due.spent
  RETURNING i.seq, i.key, i.vendor, i.id, i.order_key, i.attempts, i.state, i.raw
), buried AS (
  UPDATE webhook_inbox i
     SET state = 'dead', token = NULL, next_attempt_at = NULL,
         last_error = 'the worker was lost: its lease ended',
         attempt_log = i.attempt_log || due.lost
    FROM due
   WHERE i.seq = due.seq AND due.spent
  RETURNING i.seq, i.key, i.vendor, i.id, i.order_key, i.attempts, i.state, NULL::bytea
)
SELECT * FROM claimed
UNION ALL
SELECT * FROM buried
