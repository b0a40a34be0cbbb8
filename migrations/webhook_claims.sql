-- utility-webhooks: the claims of `idempotency::PostgresStore`.
--
-- `PostgresStore::migrate()` runs this file (with the table name it was
-- given, default `webhook_claims`). Run it in your own migrations instead
-- if you prefer; it can run more than once, and it brings a table made by
-- an earlier version up to date.
--
-- One row per key. While the work runs, `state` is 'in_progress' and
-- `expires` is when the lease ends; a release ends it at once. Once done,
-- `state` is 'completed', `completed_at` when it was, and `expires` when
-- the retention ends. A row whose `expires` has passed counts as absent.
-- `attempts` counts the claims that took the key; `last_error` is what
-- the last failed attempt said. Every time is the database's clock.
CREATE TABLE IF NOT EXISTS webhook_claims (
    key          text        PRIMARY KEY,
    token        text        NOT NULL,
    state        text        NOT NULL CHECK (state IN ('in_progress', 'completed')),
    expires      timestamptz NOT NULL,
    completed_at timestamptz,
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text
);

-- `attempts` and `last_error` came after the first version: add them to
-- a table made before, and take no lock on a table that has them.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_attribute
                    WHERE attrelid = 'webhook_claims'::regclass
                      AND attname = 'last_error' AND NOT attisdropped) THEN
        ALTER TABLE webhook_claims
            ADD COLUMN IF NOT EXISTS attempts   integer NOT NULL DEFAULT 0,
            ADD COLUMN IF NOT EXISTS last_error text;
    END IF;
END
$$;

-- For `purge`, which deletes rows whose `expires` has passed.
CREATE INDEX IF NOT EXISTS webhook_claims_expires ON webhook_claims (expires);
