-- utility-webhooks: the claims of `idempotency::PostgresStore`.
--
-- `PostgresStore::migrate()` runs this file (with the table name it was
-- given, default `webhook_claims`). Run it in your own migrations instead
-- if you prefer; it can run more than once.
--
-- One row per key. While the work runs, `state` is 'in_progress' and
-- `expires` is when the lease ends; once done, `state` is 'completed',
-- `completed_at` when it was, and `expires` when the retention ends. A row
-- whose `expires` has passed counts as absent. Every time is the
-- database's clock.
CREATE TABLE IF NOT EXISTS webhook_claims (
    key          text        PRIMARY KEY,
    token        text        NOT NULL,
    state        text        NOT NULL CHECK (state IN ('in_progress', 'completed')),
    expires      timestamptz NOT NULL,
    completed_at timestamptz
);

-- For `purge`, which deletes rows whose `expires` has passed.
CREATE INDEX IF NOT EXISTS webhook_claims_expires ON webhook_claims (expires);
