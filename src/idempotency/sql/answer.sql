-- The answer of `claim`, `complete` and `release`, after the `acted`
-- part of each: what the statement did, or, when it did nothing, why.
-- The fallback reads the statement's snapshot, while the `acted` part
-- acts on the newest row: when a concurrent change committed in between,
-- it answers no row (for `claim` and `complete`) or STALE, and the
-- statement is run again; it changed nothing.
SELECT code, left_us FROM acted
UNION ALL
SELECT CASE WHEN c.expires <= statement_timestamp()
              OR (c.token = $2 AND c.state = 'in_progress') THEN 9 -- STALE
            WHEN c.state = 'completed' AND c.token = $2 THEN 4 -- OWN_COMPLETION
            WHEN c.state = 'completed' THEN 2 -- COMPLETED
            ELSE 3 END, -- HELD
       greatest(0, floor(extract(epoch FROM c.expires - statement_timestamp()) * 1e6))::int8
  FROM webhook_claims c
 WHERE c.key = $1 AND NOT EXISTS (SELECT 1 FROM acted)
