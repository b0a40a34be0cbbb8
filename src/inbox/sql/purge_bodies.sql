-- purge_bodies: the JSON of up to $2 rows done or discarded more than $1
-- microseconds ago, oldest first. The rows stay (tombstones): their keys
-- still make a resend a duplicate.
UPDATE webhook_inbox
   SET raw = NULL, purged_at = statement_timestamp()
 WHERE seq IN (SELECT seq FROM webhook_inbox
                WHERE raw IS NOT NULL AND state IN ('done', 'discarded')
                  AND finished_at <= statement_timestamp() - $1::int8 * interval '1 microsecond'
                ORDER BY finished_at
                LIMIT $2
                FOR UPDATE SKIP LOCKED)
