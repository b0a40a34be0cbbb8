-- purge_keys: up to $2 tombstones (rows whose JSON was purged) finished
-- more than $1 microseconds ago, oldest first. A resend of one of their
-- keys is then stored again.
DELETE FROM webhook_inbox
 WHERE seq IN (SELECT seq FROM webhook_inbox
                WHERE raw IS NULL AND state IN ('done', 'discarded')
                  AND finished_at <= statement_timestamp() - $1::int8 * interval '1 microsecond'
                ORDER BY finished_at
                LIMIT $2
                FOR UPDATE SKIP LOCKED)
