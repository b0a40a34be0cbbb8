-- replay: parked row $1 (a key), which the model reads now, becomes
-- pending with what it read: $2 id, $3 event type, $4 event time
-- (microseconds since the Unix epoch), $5 order key.
UPDATE webhook_inbox
   SET state = 'pending', attempts = 0, next_attempt_at = statement_timestamp(),
       id = $2, event_type = $3, event_time = timestamptz 'epoch' + $4::int8 * interval '1 microsecond', order_key = $5, token = NULL
 WHERE key = $1 AND state = 'parked' AND raw IS NOT NULL
