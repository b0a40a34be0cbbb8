-- waiting_for: the key that holds row $1 (a key) back: the earliest item
-- of its order key that is not done or discarded, or else another item
-- of the key running under a live lease. No row when nothing holds it.
SELECT e.key
  FROM webhook_inbox i
  JOIN webhook_inbox e ON e.order_key = i.order_key
 WHERE i.key = $1
   AND i.state NOT IN ('done', 'discarded')
   AND e.state NOT IN ('done', 'discarded')
   AND ((e.event_time, e.seq) < (i.event_time, i.seq)
        OR (e.state = 'running' AND e.seq <> i.seq
            AND e.next_attempt_at > statement_timestamp()))
 ORDER BY e.event_time, e.seq
 LIMIT 1
