//! Accept: a verified delivery's items stored in one statement and one
//! commit, before the vendor is answered.

use std::borrow::Cow;
use std::collections::HashSet;

use time::OffsetDateTime;

use super::{Inbox, Item, OPERATION_DEADLINE, closed_connection, unix_micros};
use crate::idempotency::StoreError;
use crate::idempotency::postgres::{error, no_answer};
use crate::unreadable::Unreadable;
use crate::{Vendor, smartcomply, smarterwx};

/// What [`Inbox::accept`] takes: what a verifier gave, with the body it
/// verified (the raw bytes, as received), so that each item is stored byte
/// for byte.
///
/// - `(smartcomply::Event, body)`: from `verify_and_parse`;
/// - `(Result<smartcomply::Event, Unreadable>, body)`: the event, or the
///   signed event the model cannot read (the payload error's
///   [`unreadable`](crate::PayloadError::unreadable)), which is stored
///   `parked`;
/// - `(Vec<smarterwx::Item>, body)`: a SmarterWX batch from
///   [`verify_and_parse_each`](smarterwx::Verifier::verify_and_parse_each),
///   one row per notification, the unreadable ones `parked`; a stale one
///   (outside the verifier's replay window) is not stored, since it is
///   never to be processed;
/// - `(Vec<smarterwx::Notification>, body)`: a batch read all or nothing;
/// - an [`Unreadable`] alone: its [`raw`](Unreadable::raw) JSON, `parked`.
///
/// `body` is anything that gives bytes: `&[u8]`, `Vec<u8>`, `Bytes`.
/// Sealed: the crate implements it for these types only.
pub trait Accept: sealed::Sealed {
    /// The rows to store, one per item.
    #[doc(hidden)]
    fn rows(&self, inbox: &Inbox) -> Vec<rows::Row<'_>>;
}

mod sealed {
    /// Only the crate implements [`super::Accept`].
    pub trait Sealed {}
}

/// The row of one item, as accept stores it.
mod rows {
    use std::borrow::Cow;

    use time::OffsetDateTime;

    use crate::Vendor;

    /// One item to store.
    #[derive(Debug)]
    pub struct Row<'a> {
        pub(in crate::inbox) key: String,
        pub(in crate::inbox) vendor: Vendor,
        pub(in crate::inbox) id: Option<String>,
        pub(in crate::inbox) event_type: Option<String>,
        pub(in crate::inbox) event_time: Option<OffsetDateTime>,
        pub(in crate::inbox) order_key: Option<String>,
        pub(in crate::inbox) parked: bool,
        pub(in crate::inbox) raw: Cow<'a, [u8]>,
    }
}
use rows::Row;

impl<B: AsRef<[u8]>> sealed::Sealed for (smartcomply::Event, B) {}

impl<B: AsRef<[u8]>> Accept for (smartcomply::Event, B) {
    fn rows(&self, inbox: &Inbox) -> Vec<Row<'_>> {
        vec![event_row(&self.0, self.1.as_ref(), inbox)]
    }
}

impl<B: AsRef<[u8]>> sealed::Sealed for (Result<smartcomply::Event, Unreadable>, B) {}

impl<B: AsRef<[u8]>> Accept for (Result<smartcomply::Event, Unreadable>, B) {
    fn rows(&self, inbox: &Inbox) -> Vec<Row<'_>> {
        vec![match &self.0 {
            Ok(event) => event_row(event, self.1.as_ref(), inbox),
            Err(unreadable) => unreadable_row(unreadable, self.1.as_ref()),
        }]
    }
}

impl<B: AsRef<[u8]>> sealed::Sealed for (Vec<smarterwx::Item>, B) {}

impl<B: AsRef<[u8]>> Accept for (Vec<smarterwx::Item>, B) {
    fn rows(&self, inbox: &Inbox) -> Vec<Row<'_>> {
        let raws = raw_notifications(self.1.as_ref());
        self.0
            .iter()
            .enumerate()
            .filter_map(|(index, each)| notification_row(each, raws.get(index).copied(), inbox))
            .collect()
    }
}

impl<B: AsRef<[u8]>> sealed::Sealed for (Vec<smarterwx::Notification>, B) {}

impl<B: AsRef<[u8]>> Accept for (Vec<smarterwx::Notification>, B) {
    fn rows(&self, inbox: &Inbox) -> Vec<Row<'_>> {
        let raws = raw_notifications(self.1.as_ref());
        self.0
            .iter()
            .enumerate()
            .map(|(index, notification)| {
                typed_notification_row(notification, raws.get(index).copied(), inbox)
            })
            .collect()
    }
}

impl sealed::Sealed for Unreadable {}

impl Accept for Unreadable {
    fn rows(&self, _: &Inbox) -> Vec<Row<'_>> {
        vec![unreadable_row(self, self.raw().as_bytes())]
    }
}

/// Each notification of a SmarterWX body as its raw JSON, in order.
fn raw_notifications(body: &[u8]) -> Vec<&[u8]> {
    match smarterwx::split(body) {
        Some((elements, _)) => elements
            .into_iter()
            .map(|raw| raw.get().as_bytes())
            .collect(),
        None => Vec::new(),
    }
}

/// The row of one element of a batch read notification by notification,
/// `raw` its JSON as sent (found by its index); `None` for an element
/// that must not be stored.
fn notification_row<'a>(
    item: &'a smarterwx::Item,
    raw: Option<&'a [u8]>,
    inbox: &Inbox,
) -> Option<Row<'a>> {
    match item {
        smarterwx::Item::Notification(notification) => {
            Some(typed_notification_row(notification, raw, inbox))
        }
        smarterwx::Item::Unreadable(unreadable) => {
            Some(unreadable_row(unreadable, unreadable.raw().as_bytes()))
        }
        // Stale, or a kind a later version adds: never processed.
        _ => None,
    }
}

/// The row of a typed notification whose JSON as sent is `raw`.
fn typed_notification_row<'a>(
    notification: &'a smarterwx::Notification,
    raw: Option<&'a [u8]>,
    inbox: &Inbox,
) -> Row<'a> {
    let order_key = inbox
        .order_key
        .as_ref()
        .and_then(|order_key| order_key(&Item::SmarterWx(Box::new(notification.clone()))));
    typed_row(
        Vendor::SmarterWx,
        notification.idempotency_key(),
        notification.uuid.as_str(),
        notification.event_type(),
        notification.timestamp,
        order_key,
        // A body the verifier read is one well-formed array or object, so
        // it splits; were it not to, the notification is stored as the
        // model writes it rather than lost.
        raw.map_or_else(
            || Cow::Owned(serde_json::to_vec(notification).unwrap_or_default()),
            Cow::Borrowed,
        ),
    )
}

/// The row of a SmartComply event whose body is `raw`.
fn event_row<'a>(event: &'a smartcomply::Event, raw: &'a [u8], inbox: &Inbox) -> Row<'a> {
    let order_key = inbox
        .order_key
        .as_ref()
        .and_then(|order_key| order_key(&Item::SmartComply(event.clone())));
    typed_row(
        Vendor::SmartComply,
        event.idempotency_key(),
        event.id.as_str(),
        event.event_type(),
        event.created_at,
        order_key,
        Cow::Borrowed(raw),
    )
}

/// The row of a typed item.
fn typed_row<'a>(
    vendor: Vendor,
    key: String,
    id: &str,
    event_type: &str,
    event_time: OffsetDateTime,
    order_key: Option<String>,
    raw: Cow<'a, [u8]>,
) -> Row<'a> {
    Row {
        key: column(key),
        vendor,
        id: Some(column(id.to_owned())),
        event_type: Some(column(event_type.to_owned())),
        event_time: Some(event_time),
        order_key: order_key.map(column),
        parked: false,
        raw,
    }
}

/// The row of an item the model cannot read: parked, no order key, its
/// time the time it arrived.
fn unreadable_row<'a>(unreadable: &Unreadable, raw: &'a [u8]) -> Row<'a> {
    Row {
        key: column(unreadable.idempotency_key()),
        vendor: unreadable.vendor(),
        id: unreadable.id().map(|id| column(id.to_owned())),
        event_type: unreadable.event_type().map(|t| column(t.to_owned())),
        event_time: None,
        order_key: None,
        parked: true,
        raw: Cow::Borrowed(raw),
    }
}

/// `text` as a PostgreSQL `text` value: NUL, which `text` refuses, as
/// U+FFFD. Every other character is kept.
fn column(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text
    }
}

/// What accept did with a delivery: one entry per item, in order.
///
/// Whatever it holds, the answer to the vendor is `202`
/// (`Answer::from(&receipt)`): the items are committed (or were before).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct Receipt {
    items: Vec<Admitted>,
}

impl Receipt {
    /// Each item of the delivery, in order.
    pub fn items(&self) -> &[Admitted] {
        &self.items
    }
}

/// One item of a delivery, as accept found it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct Admitted {
    key: String,
    id: Option<String>,
    admission: Admission,
}

impl Admitted {
    /// Its idempotency key: the row's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The event's id or the notification's uuid, when it could be read.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Its id, or else its key: what a log line names it by (sender text:
    /// print it through [`Escaped`](crate::Escaped)).
    pub fn label(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.key)
    }

    /// What accept did with it.
    pub fn admission(&self) -> Admission {
        self.admission
    }
}

/// What accept did with one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub enum Admission {
    /// Stored, `pending`: a worker will process it.
    Accepted,
    /// Its key was stored before (a resend): nothing changed.
    Duplicate,
    /// Stored, `parked`: signed, but the model cannot read it.
    Parked,
}

impl Admission {
    /// `"accepted"`, `"duplicate"` or `"parked"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Admission::Accepted => "accepted",
            Admission::Duplicate => "duplicate",
            Admission::Parked => "parked",
        }
    }
}

impl Inbox {
    /// Store a verified delivery: one row per SmartComply event or SmarterWX
    /// notification, with its JSON byte for byte, in one statement and one
    /// commit. Answer the vendor with the result: `Ok` is `202` (a
    /// duplicate and a parked item too), `Err` is `503`.
    ///
    /// `delivery` is what the verifier gave with the body it verified:
    /// see [`Accept`]. A key already stored is a
    /// [duplicate](Admission::Duplicate), also within one batch. An item
    /// the model cannot read is stored [parked](Admission::Parked). The
    /// workers are woken when the statement commits.
    ///
    /// Fails with [`StoreErrorKind::Unavailable`](crate::idempotency::StoreErrorKind::Unavailable)
    /// (nothing stored) or
    /// [`Uncertain`](crate::idempotency::StoreErrorKind::Uncertain) (no
    /// answer in time: perhaps stored, and the vendor's retry is then a
    /// duplicate) within about 1.5 s. A statement sent on a connection the
    /// server had closed (after a restart) is sent again on another, within
    /// that time: it changes nothing twice.
    ///
    /// ```no_run
    /// # use utility_webhooks::{Escaped, idempotency::Answer, inbox::Inbox, smarterwx};
    /// # async fn example(inbox: &Inbox, verifier: &smarterwx::Verifier, header: &str, body: &[u8])
    /// #     -> Result<u16, Box<dyn std::error::Error>> {
    /// let batch = verifier.verify_and_parse_each(header, body)?; // 401 / 400
    /// let receipt = match inbox.accept(&(batch, body)).await {
    ///     Ok(receipt) => receipt,
    ///     Err(down) => return Ok(Answer::from(&down).http_status()), // 503
    /// };
    /// for item in receipt.items() {
    ///     // Escaped: an id is sender text, and must not start a line.
    ///     println!("{} {}", item.admission().as_str(), Escaped(item.label()));
    /// }
    /// Ok(Answer::from(&receipt).http_status()) // 202
    /// # }
    /// ```
    pub async fn accept<D: Accept + ?Sized>(&self, delivery: &D) -> Result<Receipt, StoreError> {
        let rows = delivery.rows(self);
        let receipt = self.store(rows).await;
        #[cfg(feature = "tracing")]
        trace(&receipt);
        receipt
    }

    /// Insert `rows`: one statement, `accept_one.sql` for one item, else
    /// `accept.sql`.
    async fn store(&self, rows: Vec<Row<'_>>) -> Result<Receipt, StoreError> {
        if rows.is_empty() {
            return Ok(Receipt::default());
        }
        // One row per key: a batch that names a key twice stores it once.
        let mut first = HashSet::with_capacity(rows.len());
        let unique: Vec<&Row<'_>> = rows.iter().filter(|row| first.insert(&row.key)).collect();
        let deadline = tokio::time::Instant::from_std(Inbox::deadline());
        let mut closed = 0;
        let stored = loop {
            let stored = match unique.as_slice() {
                [one] => tokio::time::timeout_at(deadline, self.store_one(one)).await,
                _ => tokio::time::timeout_at(deadline, self.store_batch(&unique)).await,
            };
            match stored {
                Ok(Ok(stored)) => break stored,
                // A connection the server closed (it restarted): again, on
                // another (the statement changes nothing twice); at most
                // as many times as the pool has connections, all closed.
                Ok(Err(e))
                    if closed_connection(&e)
                        && closed < self.pool.options().get_max_connections() =>
                {
                    closed += 1;
                }
                Ok(Err(e)) => {
                    let keys: Vec<&str> = unique.iter().map(|r| r.key.as_str()).collect();
                    return Err(error("accept", &e, &keys));
                }
                Err(_) => return Err(no_answer("accept", OPERATION_DEADLINE)),
            }
        };
        let mut stored: HashSet<&str> = stored.iter().map(String::as_str).collect();
        let items = rows
            .into_iter()
            .map(|row| {
                let admission = match (stored.remove(row.key.as_str()), row.parked) {
                    (true, false) => Admission::Accepted,
                    (true, true) => Admission::Parked,
                    (false, _) => Admission::Duplicate,
                };
                Admitted {
                    key: row.key,
                    id: row.id,
                    admission,
                }
            })
            .collect();
        Ok(Receipt { items })
    }

    /// `accept_one.sql`: the key, if it was stored.
    async fn store_one(&self, row: &Row<'_>) -> Result<Vec<String>, sqlx::Error> {
        let done = sqlx::query(self.sql.ACCEPT_ONE.clone())
            .bind(row.key.as_str())
            .bind(row.vendor.as_str())
            .bind(row.id.as_deref())
            .bind(row.event_type.as_deref())
            .bind(row.event_time.map(unix_micros))
            .bind(row.order_key.as_deref())
            .bind(state_of(row))
            .bind(row.raw.as_ref())
            .bind(self.channel())
            .execute(&self.pool)
            .await?;
        Ok(if done.rows_affected() == 1 {
            vec![row.key.clone()]
        } else {
            Vec::new()
        })
    }

    /// `accept.sql`: the keys it stored.
    async fn store_batch(&self, rows: &[&Row<'_>]) -> Result<Vec<String>, sqlx::Error> {
        fn column<'r, T>(rows: &[&'r Row<'_>], f: impl Fn(&'r Row<'_>) -> T) -> Vec<T> {
            rows.iter().map(|row| f(row)).collect()
        }
        let stored: Vec<Option<String>> = sqlx::query_scalar(self.sql.ACCEPT.clone())
            .bind(column(rows, |r| r.key.as_str()))
            .bind(column(rows, |r| r.vendor.as_str()))
            .bind(column(rows, |r| r.id.as_deref()))
            .bind(column(rows, |r| r.event_type.as_deref()))
            .bind(column(rows, |r| r.event_time.map(unix_micros)))
            .bind(column(rows, |r| r.order_key.as_deref()))
            .bind(column(rows, state_of))
            .bind(column(rows, |r| r.raw.as_ref()))
            .bind(self.channel())
            .fetch_all(&self.pool)
            .await?;
        Ok(stored.into_iter().flatten().collect())
    }
}

/// The state accept stores a row in.
fn state_of(row: &Row<'_>) -> &'static str {
    if row.parked { "parked" } else { "pending" }
}

/// An event per item accepted, duplicate or parked, or one for a store
/// that is down.
#[cfg(feature = "tracing")]
fn trace(receipt: &Result<Receipt, StoreError>) {
    use crate::trace::shown;
    match receipt {
        Ok(receipt) => {
            for item in receipt.items() {
                let key = shown(item.key());
                match item.admission() {
                    Admission::Accepted => {
                        tracing::info!(key = key.as_str(), "inbox.accepted: stored, pending")
                    }
                    Admission::Duplicate => tracing::info!(
                        key = key.as_str(),
                        "inbox.duplicate: stored before; acknowledged"
                    ),
                    Admission::Parked => tracing::warn!(
                        key = key.as_str(),
                        "inbox.parked: signed, but the model cannot read it; stored aside"
                    ),
                }
            }
        }
        Err(err) => {
            tracing::error!(error = %err, "inbox.unavailable: nothing was stored; answer 503")
        }
    }
}

/// `202 Accepted`, no body: the items are committed
/// ([`Answer::ACCEPTED`](crate::idempotency::Answer::ACCEPTED)).
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(all(feature = "postgres", feature = "axum"))))]
impl axum_core::response::IntoResponse for Receipt {
    fn into_response(self) -> axum_core::response::Response {
        crate::idempotency::Answer::from(&self).into_response()
    }
}

/// `202`, whatever the receipt holds: every item is committed, or was
/// before.
impl From<&Receipt> for crate::idempotency::Answer {
    fn from(_: &Receipt) -> Self {
        crate::idempotency::Answer::ACCEPTED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_items_without_an_id_are_keyed_by_their_bytes() {
        let body = br#"[{"event":"referral:create","timestamp":"x","message":{}}]"#;
        let batch = smarterwx::Verifier::new("s")
            .unwrap()
            .verify_and_parse_each(smarterwx::sign("s", body), body)
            .unwrap();
        let smarterwx::Item::Unreadable(unreadable) = &batch[0] else {
            panic!("a notification without a uuid does not read");
        };
        let key = unreadable.idempotency_key();
        assert!(key.starts_with("smarterwx:sha256:"), "{key}");
        assert_eq!(key.len(), "smarterwx:sha256:".len() + 64);
        assert_eq!(key, unreadable.idempotency_key());
    }

    #[test]
    fn text_columns_hold_no_nul() {
        assert_eq!(column("a\0b".into()), "a\u{FFFD}b");
        assert_eq!(column("plain".into()), "plain");
    }

    #[test]
    fn notifications_are_split_as_sent() {
        let body = b" [ {\"a\" : 1} ,{\"b\":[2]} ] ";
        let raws = raw_notifications(body);
        assert_eq!(raws, [&b"{\"a\" : 1}"[..], b"{\"b\":[2]}"]);
        assert_eq!(raw_notifications(b"{\"a\":1}"), [&b"{\"a\":1}"[..]]);
        assert!(raw_notifications(b"[").is_empty());
    }
}
