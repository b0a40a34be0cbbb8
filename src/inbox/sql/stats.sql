-- stats: the rows in each state, and how long the oldest pending row has
-- waited (seconds) since it became due.
SELECT state, count(*)::int8,
       extract(epoch FROM statement_timestamp() - min(next_attempt_at))::float8
  FROM webhook_inbox
 GROUP BY state
