-- accept_one: `accept.sql` for a delivery of one item, as a plain INSERT,
-- which costs what a bare INSERT of the row costs: $1 to $8 are the
-- item's key, vendor, id, event_type, event_time (microseconds since the
-- Unix epoch; NULL: the time of arrival), order_key, state and raw; $9
-- the channel. Whether it stored the row is its row count (0: a
-- duplicate). It wakes the workers in any case, on commit; a duplicate's
-- wake-up finds nothing to do.
INSERT INTO webhook_inbox
       (key, vendor, id, event_type, event_time, order_key, state, raw,
        received_at, next_attempt_at)
SELECT $1, $2, $3, $4,
       coalesce(timestamptz 'epoch' + $5::int8 * interval '1 microsecond', statement_timestamp()),
       $6, $7::text, $8, statement_timestamp(),
       CASE WHEN $7::text = 'pending' THEN statement_timestamp() END
  FROM (SELECT pg_notify($9, '')) AS woken
ON CONFLICT (key) DO NOTHING
