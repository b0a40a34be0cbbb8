-- get: row $1 (a key), its JSON as stored and its attempt log, with when
-- its last attempt started and when it finished. Times are microseconds
-- since the Unix epoch.
SELECT key, vendor, event_type, id, state, attempts, last_error,
       (extract(epoch FROM received_at) * 1000000)::int8,
       (extract(epoch FROM next_attempt_at) * 1000000)::int8, order_key, raw, attempt_log::text,
       (extract(epoch FROM started_at) * 1000000)::int8,
       (extract(epoch FROM finished_at) * 1000000)::int8
  FROM webhook_inbox
 WHERE key = $1
