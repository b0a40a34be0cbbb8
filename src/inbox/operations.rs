//! Operations: what an operator (or a console) sees and does. Every
//! return type serializes to the JSON a console serves.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    Inbox, Item, OPERATION_DEADLINE, State, from_unix_micros, micros, stored_state, unix_micros,
};
use crate::error::Error;
use crate::idempotency::StoreError;
use crate::idempotency::postgres::{error, no_answer};
use crate::{smarterwx, wire};

/// How many rows are in each state, and how long the oldest pending one
/// has waited: `{"pending":n,"running":n,"retrying":n,"done":n,"dead":n,
/// "parked":n,"discarded":n,"oldest_pending_age_s":x}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct Stats {
    /// Waiting for a worker.
    pub pending: u64,
    /// Held by a worker.
    pub running: u64,
    /// Failed, with a retry scheduled.
    pub retrying: u64,
    /// Done.
    pub done: u64,
    /// Out of attempts.
    pub dead: u64,
    /// Unreadable by the model.
    pub parked: u64,
    /// Discarded by an operator.
    pub discarded: u64,
    /// Seconds since the oldest pending row became due; 0 when none is
    /// pending.
    pub oldest_pending_age_s: f64,
}

impl Stats {
    /// The count of rows in `state`.
    pub fn count(&self, state: State) -> u64 {
        match state {
            State::Pending => self.pending,
            State::Running => self.running,
            State::Retrying => self.retrying,
            State::Done => self.done,
            State::Dead => self.dead,
            State::Parked => self.parked,
            State::Discarded => self.discarded,
        }
    }

    fn count_mut(&mut self, state: State) -> &mut u64 {
        match state {
            State::Pending => &mut self.pending,
            State::Running => &mut self.running,
            State::Retrying => &mut self.retrying,
            State::Done => &mut self.done,
            State::Dead => &mut self.dead,
            State::Parked => &mut self.parked,
            State::Discarded => &mut self.discarded,
        }
    }
}

/// One stored item, without its JSON: `{"key","vendor","event_type","id",
/// "state","attempts","last_error","received_at","next_attempt_at",
/// "order_key"}`. Times are RFC 3339 in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct Entry {
    /// Its idempotency key.
    pub key: String,
    /// `"smartcomply"` or `"smarterwx"`.
    pub vendor: String,
    /// The wire event type, when it could be read.
    pub event_type: Option<String>,
    /// The event id or notification uuid, when it could be read.
    pub id: Option<String>,
    /// Where it is.
    pub state: State,
    /// Attempts since it was accepted, or since the last manual retry or
    /// replay.
    pub attempts: u32,
    /// The last failed attempt's message (kept once it is done).
    pub last_error: Option<String>,
    /// When accept stored it.
    #[serde(with = "wire::Instant")]
    pub received_at: OffsetDateTime,
    /// When it is due: pending and retrying rows; for a running row, when
    /// its lease ends. `null` for the others.
    #[serde(with = "wire::OptInstant")]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// Its order key, if any.
    pub order_key: Option<String>,
}

/// One stored item with its JSON and its attempts: an [`Entry`]'s
/// fields plus `"raw"` (the JSON as the vendor sent it, `null` once
/// purged) and `"attempt_log"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct EntryDetail {
    /// The fields of the list.
    #[serde(flatten)]
    pub entry: Entry,
    /// The JSON as the vendor sent it, byte for byte; `None` once purged.
    pub raw: Option<String>,
    /// Every attempt, the first first; a running attempt last, unfinished.
    pub attempt_log: Vec<Attempt>,
}

/// One attempt: `{"n","started_at","finished_at","error"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct Attempt {
    /// 1 for the first attempt ever, counted across manual retries.
    pub n: u32,
    /// When its worker claimed it.
    #[serde(with = "wire::Instant")]
    pub started_at: OffsetDateTime,
    /// When it ended; `None` while it runs. A worker that died ends its
    /// attempt when its lease does.
    #[serde(with = "wire::OptInstant")]
    pub finished_at: Option<OffsetDateTime>,
    /// Why it failed, escaped and bounded; `None` when it succeeded or
    /// runs.
    pub error: Option<String>,
}

/// Which rows [`Inbox::list`] gives: filters and a page. Deserializes
/// from a query string (`?state=dead&vendor=smarterwx&limit=50&after=<key>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct ListQuery {
    /// Only rows in this state.
    pub state: Option<State>,
    /// Only rows of this vendor (`"smartcomply"`, `"smarterwx"`).
    pub vendor: Option<String>,
    /// Only rows of this event type.
    pub event_type: Option<String>,
    /// At most this many rows (default 50, at most 500).
    pub limit: Option<u32>,
    /// The next page: rows older than the row with this key (the last key
    /// of the page before).
    pub after: Option<String>,
}

impl ListQuery {
    /// The default page size.
    pub const DEFAULT_LIMIT: u32 = 50;
    /// The largest page.
    pub const MAX_LIMIT: u32 = 500;

    /// Every row, newest first, a page of 50.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only rows in `state`.
    pub fn state(mut self, state: State) -> Self {
        self.state = Some(state);
        self
    }

    /// Only rows of `vendor`.
    pub fn vendor(mut self, vendor: &str) -> Self {
        self.vendor = Some(vendor.to_owned());
        self
    }

    /// Only rows of `event_type`.
    pub fn event_type(mut self, event_type: &str) -> Self {
        self.event_type = Some(event_type.to_owned());
        self
    }

    /// At most `limit` rows (1 to 500).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Rows older than the one whose key is `key`.
    pub fn after(mut self, key: &str) -> Self {
        self.after = Some(key.to_owned());
        self
    }
}

/// What a retry, a discard or a replay did: as JSON,
/// `{"result":"applied","state":"pending"}`, `{"result":"not_found"}`,
/// `{"result":"refused","state":"running"}` or
/// `{"result":"unreadable","error":".."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub enum Change {
    /// Done: the row is now in `state`.
    Applied {
        /// Its new state.
        state: State,
    },
    /// No row has this key.
    NotFound,
    /// The row's state does not allow it (a running row, a done one, a
    /// purged one): nothing changed.
    Refused {
        /// Its state.
        state: State,
    },
    /// A replay whose JSON the model still cannot read: still parked.
    Unreadable {
        /// Why, as the vendor's `parse` says.
        error: String,
    },
}

/// What [`Inbox::purge`] removes: the JSON of rows done or discarded
/// longer ago than a retention (the row stays, a tombstone, so that a late
/// resend is still a duplicate), and, if asked, tombstones older than
/// another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct Purge {
    bodies_after: Duration,
    keys_after: Option<Duration>,
    batch: u32,
}

impl Default for Purge {
    fn default() -> Self {
        Purge::bodies_after(Duration::from_secs(7 * 24 * 3600))
    }
}

impl Purge {
    /// Empty the JSON of rows finished more than `retention` ago; keep
    /// every key. In batches of 1 000 rows.
    pub fn bodies_after(retention: Duration) -> Self {
        Purge {
            bodies_after: retention,
            keys_after: None,
            batch: 1000,
        }
    }

    /// Also delete the tombstones of rows finished more than `retention`
    /// ago: a resend of one of those keys is then stored, and processed,
    /// again. Make it far longer than the vendors' retry horizon.
    pub fn keys_after(mut self, retention: Duration) -> Self {
        self.keys_after = Some(retention);
        self
    }

    /// Check at start-up that these tombstones outlast a SmarterWX
    /// verifier's replay window ([`smarterwx::Verifier::check_retention`]):
    /// [`Error::RetentionTooShort`] when [`Purge::keys_after`] deletes keys
    /// sooner than the window needs, so that a captured notification sent
    /// again is always either a duplicate or too old. Keys kept for ever,
    /// or a verifier without a window, are `Ok`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use utility_webhooks::{ErrorKind, inbox::Purge, smarterwx::Verifier};
    ///
    /// const DAY: Duration = Duration::from_secs(24 * 3600);
    /// let verifier = Verifier::new("my-secret")?.with_max_age(3 * DAY);
    /// Purge::default().check_replay_window(&verifier)?; // keys kept
    /// Purge::default().keys_after(30 * DAY).check_replay_window(&verifier)?;
    /// let err = Purge::default().keys_after(DAY).check_replay_window(&verifier);
    /// assert_eq!(err.unwrap_err().kind(), ErrorKind::RetentionTooShort);
    /// # Ok::<(), utility_webhooks::Error>(())
    /// ```
    pub fn check_replay_window(&self, verifier: &smarterwx::Verifier) -> Result<(), Error> {
        match self.keys_after {
            Some(retention) => verifier.check_retention(retention),
            None => Ok(()),
        }
    }

    /// Change at most `batch` rows per statement (1 to 10 000).
    pub fn batch(mut self, batch: u32) -> Self {
        self.batch = batch.clamp(1, 10_000);
        self
    }
}

/// What [`Inbox::purge`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct Purged {
    /// Rows whose JSON was emptied.
    pub bodies: u64,
    /// Tombstones deleted.
    pub keys: u64,
}

/// The states [`Inbox::retry`] and [`Inbox::retry_all`] take a row from.
pub(super) const RETRYABLE: [State; 3] = [State::Retrying, State::Dead, State::Discarded];
/// The states [`Inbox::discard`] takes a row from.
pub(super) const DISCARDABLE: [State; 4] =
    [State::Pending, State::Retrying, State::Dead, State::Parked];

/// A row as `list.sql` and `get.sql` give it (times in microseconds).
type EntryRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i32,
    Option<String>,
    i64,
    Option<i64>,
    Option<String>,
);

/// A row as `get.sql` gives it: a [`EntryRow`], then the JSON, the
/// attempt log, and when the last attempt started and the row finished.
type DetailRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i32,
    Option<String>,
    i64,
    Option<i64>,
    Option<String>,
    Option<Vec<u8>>,
    String,
    Option<i64>,
    Option<i64>,
);

fn delivery(row: EntryRow) -> Entry {
    let (key, vendor, event_type, id, state, attempts, last_error, received_at, next, order_key) =
        row;
    Entry {
        key,
        vendor,
        event_type,
        id,
        state: stored_state(&state),
        attempts: u32::try_from(attempts).unwrap_or(0),
        last_error,
        received_at: from_unix_micros(received_at).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        next_attempt_at: next.and_then(from_unix_micros),
        order_key,
    }
}

/// An attempt as the table's `attempt_log` keeps it.
#[derive(Deserialize)]
struct LoggedAttempt {
    n: u32,
    started_us: Option<i64>,
    finished_us: Option<i64>,
    error: Option<String>,
}

/// The attempts in `log` (the table's JSON), then the last one when the
/// log does not hold it: running (unfinished) or done.
fn attempts(log: &str, last: Option<Attempt>) -> Vec<Attempt> {
    let logged: Vec<LoggedAttempt> = serde_json::from_str(log).unwrap_or_default();
    let mut attempts: Vec<Attempt> = logged
        .into_iter()
        .filter_map(|a| {
            Some(Attempt {
                n: a.n,
                started_at: from_unix_micros(a.started_us?)?,
                finished_at: a.finished_us.and_then(from_unix_micros),
                error: a.error,
            })
        })
        .collect();
    if let Some(mut last) = last {
        last.n = u32::try_from(attempts.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        attempts.push(last);
    }
    attempts
}

/// `query`'s result within the operation deadline, its error classified
/// (`hidden` taken out of the server's message).
async fn bounded<T>(
    what: &'static str,
    hidden: &[&str],
    query: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(OPERATION_DEADLINE, query).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(error(what, &e, hidden)),
        Err(_) => Err(no_answer(what, OPERATION_DEADLINE)),
    }
}

impl Inbox {
    /// How many rows are in each state, and how long the oldest pending
    /// row has waited. It counts every row: a scan of the table.
    pub async fn stats(&self) -> Result<Stats, StoreError> {
        let query = sqlx::query_as::<_, (String, i64, Option<f64>)>(self.sql.STATS.clone())
            .fetch_all(&self.pool);
        let rows = bounded("stats", &[], query).await?;
        let mut stats = Stats::default();
        for (state, count, oldest) in rows {
            let state = stored_state(&state);
            *stats.count_mut(state) += u64::try_from(count).unwrap_or(0);
            if state == State::Pending {
                stats.oldest_pending_age_s = oldest.unwrap_or(0.0).max(0.0);
            }
        }
        Ok(stats)
    }

    /// The rows `query` selects, newest first; the next page is
    /// `query.after(<the last key>)`.
    pub async fn list(&self, query: &ListQuery) -> Result<Vec<Entry>, StoreError> {
        let limit = query
            .limit
            .unwrap_or(ListQuery::DEFAULT_LIMIT)
            .clamp(1, ListQuery::MAX_LIMIT);
        let rows = sqlx::query_as::<_, EntryRow>(self.sql.LIST.clone())
            .bind(query.state.map(State::as_str))
            .bind(query.vendor.as_deref())
            .bind(query.event_type.as_deref())
            .bind(query.after.as_deref())
            .bind(i64::from(limit))
            .fetch_all(&self.pool);
        let rows = bounded("list", &[], rows).await?;
        Ok(rows.into_iter().map(delivery).collect())
    }

    /// The row of `key`, with its JSON and every attempt; `None` when there
    /// is none.
    pub async fn get(&self, key: &str) -> Result<Option<EntryDetail>, StoreError> {
        let row = sqlx::query_as::<_, DetailRow>(self.sql.GET.clone())
            .bind(key)
            .fetch_optional(&self.pool);
        let Some(row) = bounded("get", &[key], row).await? else {
            return Ok(None);
        };
        let (k, vendor, event_type, id, state, tries, last_error, received_at, next, order_key) = (
            row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9,
        );
        let (raw, log) = (row.10, row.11);
        let (started_at, finished_at) = (
            row.12.and_then(from_unix_micros),
            row.13.and_then(from_unix_micros),
        );
        let delivery = delivery((
            k,
            vendor,
            event_type,
            id,
            state,
            tries,
            last_error,
            received_at,
            next,
            order_key,
        ));
        // The log keeps failed and lost attempts; the one running, and the
        // one that succeeded, are the row's own.
        let last = match (delivery.state, started_at) {
            (State::Running | State::Done, Some(started_at)) => Some(Attempt {
                n: 0,
                started_at,
                finished_at: finished_at.filter(|_| delivery.state == State::Done),
                error: None,
            }),
            _ => None,
        };
        Ok(Some(EntryDetail {
            attempt_log: attempts(&log, last),
            raw: raw.map(|raw| String::from_utf8_lossy(&raw).into_owned()),
            entry: delivery,
        }))
    }

    /// The key of the item that holds `key` back: the earliest item of its
    /// order key that is not done or discarded, or another item of the key
    /// that is running. `None` when nothing holds it (or it has no order
    /// key, is finished, or does not exist).
    pub async fn waiting_for(&self, key: &str) -> Result<Option<String>, StoreError> {
        let query = sqlx::query_scalar::<_, String>(self.sql.WAITING_FOR.clone())
            .bind(key)
            .fetch_optional(&self.pool);
        bounded("waiting_for", &[key], query).await
    }

    /// Make a `retrying`, `dead` or `discarded` row pending at once, with a
    /// fresh count of attempts: it does not wait for its schedule. Refused
    /// for the other states, and for a row whose JSON was purged.
    pub async fn retry(&self, key: &str) -> Result<Change, StoreError> {
        self.transition(key, State::Pending, &RETRYABLE).await
    }

    /// [`Inbox::retry`] every row in `state` (`retrying`, `dead` or
    /// `discarded`; any other state changes nothing), in batches of 1 000;
    /// returns how many.
    pub async fn retry_all(&self, state: State) -> Result<u64, StoreError> {
        const BATCH: i64 = 1000;
        if !RETRYABLE.contains(&state) {
            return Ok(0);
        }
        let mut total = 0;
        loop {
            let batch = sqlx::query(self.sql.RETRY_ALL.clone())
                .bind(state.as_str())
                .bind(BATCH)
                .execute(&self.pool);
            let changed = bounded("retry_all", &[], batch).await?.rows_affected();
            total += changed;
            if changed > 0 {
                self.wake().await;
            }
            if changed < BATCH as u64 {
                return Ok(total);
            }
        }
    }

    /// Discard a `pending`, `retrying`, `dead` or `parked` row: it is
    /// never processed, and no longer holds the later items of its order
    /// key. Refused while it runs, and once done.
    pub async fn discard(&self, key: &str) -> Result<Change, StoreError> {
        self.transition(key, State::Discarded, &DISCARDABLE).await
    }

    /// Read a parked row's JSON again with the current model: when it reads
    /// now, the row is pending (with its id, type, time and order key as
    /// read) and a worker processes it; when it still does not,
    /// [`Change::Unreadable`] says why. Refused for a row that is not
    /// parked.
    pub async fn replay(&self, key: &str) -> Result<Change, StoreError> {
        let row = sqlx::query_as::<_, DetailRow>(self.sql.GET.clone())
            .bind(key)
            .fetch_optional(&self.pool);
        let Some(row) = bounded("replay", &[key], row).await? else {
            return Ok(Change::NotFound);
        };
        let (vendor, state, raw) = (row.1, stored_state(&row.4), row.10);
        if state != State::Parked {
            return Ok(Change::Refused { state });
        }
        let Some(raw) = raw else {
            return Ok(Change::Refused { state });
        };
        let item = match Item::parse(&vendor, &raw) {
            Ok(item) => item,
            Err(e) => {
                return Ok(Change::Unreadable {
                    error: e.to_string(),
                });
            }
        };
        let update = sqlx::query(self.sql.REPLAY.clone())
            .bind(key)
            .bind(item.id())
            .bind(item.event_type())
            .bind(unix_micros(item.event_time()))
            .bind(self.order_key_of(&item))
            .execute(&self.pool);
        if bounded("replay", &[key], update).await?.rows_affected() == 1 {
            self.wake().await;
            return Ok(Change::Applied {
                state: State::Pending,
            });
        }
        // Changed meanwhile (another replay, a discard): say how it is now.
        Ok(match self.get(key).await? {
            Some(now) => Change::Refused {
                state: now.entry.state,
            },
            None => Change::NotFound,
        })
    }

    /// Empty the JSON of finished rows, and delete old tombstones if
    /// `purge` says so, a batch at a time (each a short statement), until
    /// none is left. Schedule it (say, hourly). Workers and accept never
    /// depend on it.
    pub async fn purge(&self, purge: &Purge) -> Result<Purged, StoreError> {
        let bodies = self
            .in_batches(
                "purge",
                &self.sql.PURGE_BODIES,
                purge.bodies_after,
                purge.batch,
            )
            .await?;
        let keys = match purge.keys_after {
            Some(keys_after) => {
                self.in_batches("purge", &self.sql.PURGE_KEYS, keys_after, purge.batch)
                    .await?
            }
            None => 0,
        };
        Ok(Purged { bodies, keys })
    }

    /// Run `statement` (retention, batch) until it changes fewer rows than
    /// `batch`; how many it changed.
    async fn in_batches(
        &self,
        what: &'static str,
        statement: &sqlx::SqlStr,
        retention: Duration,
        batch: u32,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let query = sqlx::query(statement.clone())
                .bind(micros(retention))
                .bind(i64::from(batch))
                .execute(&self.pool);
            let changed = bounded(what, &[], query).await?.rows_affected();
            total += changed;
            if changed < u64::from(batch) {
                return Ok(total);
            }
        }
    }

    /// Move `key`'s row to `to` if it is in one of `from`.
    async fn transition(&self, key: &str, to: State, from: &[State]) -> Result<Change, StoreError> {
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let query = sqlx::query_as::<_, (String, bool)>(self.sql.TRANSITION.clone())
            .bind(key)
            .bind(to.as_str())
            .bind(from)
            .fetch_optional(&self.pool);
        Ok(match bounded("transition", &[key], query).await? {
            None => Change::NotFound,
            Some((state, true)) => {
                if to == State::Pending {
                    self.wake().await;
                }
                Change::Applied {
                    state: stored_state(&state),
                }
            }
            Some((state, false)) => Change::Refused {
                state: stored_state(&state),
            },
        })
    }

    /// Wake the workers; a lost notification only waits for their poll.
    async fn wake(&self) {
        let query = sqlx::query(self.sql.WAKE.clone())
            .bind(self.channel())
            .execute(&self.pool);
        let _ = tokio::time::timeout(OPERATION_DEADLINE, query).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shapes_are_the_consoles() {
        assert_eq!(
            serde_json::to_string(&Stats::default()).unwrap(),
            r#"{"pending":0,"running":0,"retrying":0,"done":0,"dead":0,"parked":0,"discarded":0,"oldest_pending_age_s":0.0}"#
        );
        let at = OffsetDateTime::from_unix_timestamp(1_777_989_600).unwrap();
        let detail = EntryDetail {
            entry: Entry {
                key: "smartcomply:evt_1".into(),
                vendor: "smartcomply".into(),
                event_type: Some("test.failed".into()),
                id: Some("evt_1".into()),
                state: State::Dead,
                attempts: 3,
                last_error: Some("boom".into()),
                received_at: at,
                next_attempt_at: None,
                order_key: None,
            },
            raw: Some("{}".into()),
            attempt_log: attempts(
                r#"[{"n":1,"started_us":1777989600000000,"finished_us":1777989600500000,"error":"boom"}]"#,
                None,
            ),
        };
        let json = serde_json::to_value(&detail).unwrap();
        let text = serde_json::to_string(&detail).unwrap();
        let order = [
            "key",
            "vendor",
            "event_type",
            "id",
            "state",
            "attempts",
            "last_error",
            "received_at",
            "next_attempt_at",
            "order_key",
            "raw",
            "attempt_log",
        ];
        let at: Vec<usize> = order
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")).expect(k))
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(json.as_object().unwrap().len(), order.len());
        assert_eq!(json["state"], "dead");
        assert_eq!(json["received_at"], "2026-05-05T14:00:00Z");
        assert_eq!(json["next_attempt_at"], serde_json::Value::Null);
        assert_eq!(
            json["attempt_log"],
            serde_json::json!([{"n":1,"started_at":"2026-05-05T14:00:00Z",
                "finished_at":"2026-05-05T14:00:00.5Z","error":"boom"}])
        );
        let back: EntryDetail = serde_json::from_value(json).unwrap();
        assert_eq!(back, detail);
        assert_eq!(
            serde_json::to_value(Change::Applied {
                state: State::Pending
            })
            .unwrap(),
            serde_json::json!({"result": "applied", "state": "pending"})
        );
    }

    #[test]
    fn list_queries_read_from_query_strings() {
        let query: ListQuery =
            serde_json::from_value(serde_json::json!({"state": "dead", "limit": 10})).unwrap();
        assert_eq!(query, ListQuery::new().state(State::Dead).limit(10));
    }
}
