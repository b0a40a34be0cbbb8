//! The inbox's SQL: the schema and every statement, each written once in
//! a `.sql` file that the code runs and the documentation shows, for the
//! default table `webhook_inbox`; [`Statements::new`] names another.

use std::sync::Arc;

use sqlx::{AssertSqlSafe, SqlSafeStr as _, SqlStr};

/// The table every file names; [`for_table`] puts another in its place.
pub(super) const DEFAULT_TABLE: &str = "webhook_inbox";

/// The schema, as shipped in `migrations/webhook_inbox.sql`.
pub(super) const SCHEMA: &str = include_str!("../../migrations/webhook_inbox.sql");

/// Taken before the schema, in the same transaction (`migrate` sends
/// them together, as one implicit transaction).
const MIGRATE_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('webhook_inbox'));";

/// Declares one constant per statement file and [`Statements`], which
/// holds each for one table.
macro_rules! statements {
    ($($(#[$doc:meta])* $name:ident = $file:literal;)*) => {
        $(
            $(#[$doc])*
            pub(super) const $name: &str = include_str!(concat!("sql/", $file));
        )*

        /// Every statement, for one table.
        #[allow(non_snake_case)]
        pub(super) struct Statements {
            /// The schema, for `migrate`, under a lock: processes that
            /// start together do not race to create the same table.
            pub schema: SqlStr,
            $(
                $(#[$doc])*
                pub $name: SqlStr,
            )*
        }

        impl Statements {
            /// The statements on `table`, a plain identifier
            /// ([`super::valid_table`]).
            pub(super) fn new(table: &str) -> Self {
                let sql = |text: &str| AssertSqlSafe(for_table(text, table)).into_sql_str();
                Statements {
                    schema: sql(&format!("{MIGRATE_LOCK}\n{SCHEMA}")),
                    $($name: sql($name),)*
                }
            }
        }
    };
}

statements! {
    /// Stores a delivery's items.
    ACCEPT = "accept.sql";
    /// Stores a delivery's one item.
    ACCEPT_ONE = "accept_one.sql";
    /// Claims due rows for a worker.
    CLAIM = "claim.sql";
    /// Renews a claim's lease.
    RENEW = "renew.sql";
    /// Marks a row done, in the handler's transaction.
    COMPLETE = "complete.sql";
    /// Records a failed attempt: retrying, dead or parked.
    FAIL = "fail.sql";
    /// Wakes the workers.
    WAKE = "wake.sql";
    /// Moves one row between states (retry, discard).
    TRANSITION = "transition.sql";
    /// Retries a batch of the rows in one state.
    RETRY_ALL = "retry_all.sql";
    /// Makes a parked row that reads now pending.
    REPLAY = "replay.sql";
    /// Counts rows per state.
    STATS = "stats.sql";
    /// A page of rows.
    LIST = "list.sql";
    /// One row with its JSON and attempt log.
    GET = "get.sql";
    /// What holds a row back.
    WAITING_FOR = "waiting_for.sql";
    /// Empties the JSON of finished rows.
    PURGE_BODIES = "purge_bodies.sql";
    /// Deletes tombstones.
    PURGE_KEYS = "purge_keys.sql";
}

/// `sql` with every identifier that starts with `webhook_inbox` (the
/// table, its indexes) renamed to start with `table` instead, and quoted.
/// Only whole identifiers change: `xwebhook_inbox` stays as it is.
pub(super) fn for_table(sql: &str, table: &str) -> Arc<str> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(sql.len() + 64);
    let mut rest = sql;
    while let Some(at) = rest.find(DEFAULT_TABLE) {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let whole = !before.ends_with(is_ident);
        let tail_len = from[DEFAULT_TABLE.len()..]
            .find(|c: char| !is_ident(c))
            .unwrap_or(from.len() - DEFAULT_TABLE.len());
        let (name, after) = from.split_at(DEFAULT_TABLE.len() + tail_len);
        if whole {
            out.push('"');
            out.push_str(table);
            out.push_str(&name[DEFAULT_TABLE.len()..]);
            out.push('"');
        } else {
            out.push_str(name);
        }
        rest = after;
    }
    out.push_str(rest);
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_identifier_of_the_table_is_renamed_and_quoted() {
        let sql = "CREATE INDEX webhook_inbox_order ON webhook_inbox (x) -- xwebhook_inbox";
        assert_eq!(
            &*for_table(sql, "billing"),
            "CREATE INDEX \"billing_order\" ON \"billing\" (x) -- xwebhook_inbox"
        );
        let statements = Statements::new("order");
        for sql in [
            &statements.schema,
            &statements.CLAIM,
            &statements.PURGE_KEYS,
        ] {
            let sql = sql.as_str();
            assert!(sql.contains("\"order\""), "{sql}");
            assert!(!sql.contains(" webhook_inbox"), "{sql}");
        }
        assert!(
            statements
                .schema
                .as_str()
                .contains("\"order_claimable\" ON \"order\" (next_attempt_at, seq)")
        );
    }
}
