-- `purge`: up to $1 (int8) rows past their expiry, the oldest first,
-- skipping rows another transaction holds: completed keys past their
-- retention, and leases that ended (released, or run out) longer ago than
-- the retention, $2 in microseconds (int8), so that a failure's record
-- stays as long as a completion's.
DELETE FROM webhook_claims
 WHERE key IN (SELECT key FROM webhook_claims
                WHERE expires <= statement_timestamp()
                  AND (state = 'completed'
                       OR expires <= statement_timestamp() - $2::int8 * interval '1 microsecond')
                ORDER BY expires
                LIMIT $1
                FOR UPDATE SKIP LOCKED)
   AND expires <= statement_timestamp()
