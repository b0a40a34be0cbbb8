-- renew: the lease of row $1, claimed with token $2, now ends $3
-- microseconds from now. No row changes once another claim took it.
UPDATE webhook_inbox
   SET next_attempt_at = statement_timestamp() + $3::int8 * interval '1 microsecond'
 WHERE seq = $1 AND token = $2 AND state = 'running'
