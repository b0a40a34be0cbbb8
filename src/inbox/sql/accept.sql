-- accept: every item of one delivery in one statement, so one commit.
-- $1 to $8 are arrays with one element per item: key, vendor, id,
-- event_type, event_time (microseconds since the Unix epoch; NULL: the
-- time of arrival), order_key, state
-- ('pending', or 'parked' for what the model cannot read) and raw. $9 is
-- the channel the workers listen on. A key already stored is left alone
-- (a duplicate). Returns the keys it stored, and one NULL when it woke
-- the workers: the notification is delivered when the statement commits.
WITH incoming AS (
  SELECT *
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[],
                $6::text[], $7::text[], $8::bytea[])
         WITH ORDINALITY AS item (key, vendor, id, event_type, event_us, order_key, state, raw, n)
), stored AS (
  INSERT INTO webhook_inbox
         (key, vendor, id, event_type, event_time, order_key, state, raw,
          received_at, next_attempt_at)
  SELECT key, vendor, id, event_type,
         coalesce(timestamptz 'epoch' + event_us * interval '1 microsecond', statement_timestamp()),
         order_key, state, raw, statement_timestamp(),
         CASE WHEN state = 'pending' THEN statement_timestamp() END
    FROM incoming
   ORDER BY n
  ON CONFLICT (key) DO NOTHING
  RETURNING key, state
)
SELECT key FROM stored
UNION ALL
SELECT NULL FROM (SELECT pg_notify($9, '') FROM stored WHERE state = 'pending' LIMIT 1) AS woken
