-- utility-webhooks: the table of `inbox::Inbox`.
--
-- `Inbox::migrate()` runs this file (with the table name it was given,
-- default `webhook_inbox`, in place of every `webhook_inbox` below). Run
-- it in your own migrations instead if you prefer; it can run more than
-- once.
--
-- One row per SmartComply event or SmarterWX notification, keyed by its
-- idempotency key. `raw` is its JSON exactly as the vendor sent it (the
-- whole SmartComply body, or the one notification's slice of the SmarterWX
-- body); `purge` empties it after a retention and keeps the row, so that a
-- late resend is still a duplicate. Every time is the database's clock.
--
-- States: pending -> running -> done; running -> retrying -> running ...;
-- past the attempt limit, dead; parked when the model cannot read it;
-- discarded by an operator. While a row is running, `next_attempt_at` is
-- the end of its lease, when it may be claimed again if its worker is gone.
CREATE TABLE IF NOT EXISTS webhook_inbox (
    seq             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key             text        NOT NULL UNIQUE,
    vendor          text        NOT NULL,
    id              text,
    event_type      text,
    event_time      timestamptz NOT NULL,
    order_key       text,
    state           text        NOT NULL CHECK (state IN
                        ('pending', 'running', 'retrying', 'done', 'dead', 'parked', 'discarded')),
    raw             bytea,
    received_at     timestamptz NOT NULL,
    next_attempt_at timestamptz,
    attempts        integer     NOT NULL DEFAULT 0,
    token           text,
    started_at      timestamptz,
    last_error      text,
    attempt_log     jsonb       NOT NULL DEFAULT '[]',
    finished_at     timestamptz,
    purged_at       timestamptz
);

-- The claim: the rows that are due, soonest first. Only these states are
-- in it, so it stays as small as the work waiting, whatever the table's
-- size.
CREATE INDEX IF NOT EXISTS webhook_inbox_claimable ON webhook_inbox (next_attempt_at, seq)
    WHERE state IN ('pending', 'retrying', 'running');

-- Order per key: the earliest item of a key that is not done yet, found
-- in one step.
CREATE INDEX IF NOT EXISTS webhook_inbox_order ON webhook_inbox (order_key, event_time, seq)
    WHERE order_key IS NOT NULL AND state NOT IN ('done', 'discarded');

-- `purge`: the bodies of finished rows (done or discarded), oldest
-- first; then, if asked, the tombstones they leave.
CREATE INDEX IF NOT EXISTS webhook_inbox_finished ON webhook_inbox (finished_at)
    WHERE raw IS NOT NULL AND state IN ('done', 'discarded');
CREATE INDEX IF NOT EXISTS webhook_inbox_tombstones ON webhook_inbox (finished_at)
    WHERE raw IS NULL AND state IN ('done', 'discarded');

-- `list` of the rows that wait for an operator, newest first: few, and
-- rarely changed, so cheap to keep.
CREATE INDEX IF NOT EXISTS webhook_inbox_attention ON webhook_inbox (state, seq)
    WHERE state IN ('dead', 'parked', 'discarded');
