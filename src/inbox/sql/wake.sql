-- wake: tell the workers listening on channel $1 that work is due.
SELECT pg_notify($1, '')
