-- `status`: what the row of key $1 says now, by the database's clock.
SELECT CASE WHEN expires <= statement_timestamp() THEN 'free'
            ELSE state END,
       greatest(0, floor(extract(epoch FROM expires - statement_timestamp()) * 1e6))::int8,
       attempts,
       last_error
  FROM webhook_claims
 WHERE key = $1
