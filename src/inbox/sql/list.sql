-- list: up to $5 rows, newest first, in state $1, of vendor $2, of event
-- type $3 (each NULL for any), after the row whose key is $4 (NULL: from
-- the newest). Times are microseconds since the Unix epoch.
SELECT key, vendor, event_type, id, state, attempts, last_error,
       (extract(epoch FROM received_at) * 1000000)::int8,
       (extract(epoch FROM next_attempt_at) * 1000000)::int8, order_key
  FROM webhook_inbox
 WHERE ($1::text IS NULL OR state = $1)
   AND ($2::text IS NULL OR vendor = $2)
   AND ($3::text IS NULL OR event_type = $3)
   AND ($4::text IS NULL OR seq < (SELECT seq FROM webhook_inbox WHERE key = $4))
 ORDER BY seq DESC
 LIMIT $5
