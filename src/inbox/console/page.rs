//! The console's HTML, written with `maud`: every value spliced in is
//! escaped (nothing here is marked pre-escaped), every link is relative.

use ::axum::http::StatusCode;
use maud::{DOCTYPE, Markup, html};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use time::OffsetDateTime;

use super::{Action, Filters};
use crate::Vendor;
use crate::inbox::{Change, Entry, EntryDetail, Item, State, Stats};

/// How often the script refreshes a page, in seconds.
const REFRESH_SECONDS: u32 = 5;

/// Every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`): a key
/// becomes one path segment or one query value, whatever it holds.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` percent-encoded as one path segment or query value.
pub(super) fn encoded(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// What a page says after a button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Notice {
    action: Action,
    outcome: Outcome,
}

/// How a button's action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Applied,
    Refused,
    Unreadable,
    NotFound,
}

impl Outcome {
    const ALL: [Outcome; 4] = [
        Outcome::Applied,
        Outcome::Refused,
        Outcome::Unreadable,
        Outcome::NotFound,
    ];

    fn name(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Refused => "refused",
            Outcome::Unreadable => "unreadable",
            Outcome::NotFound => "not_found",
        }
    }
}

impl Notice {
    /// The notice for `change`, the result of `action`.
    pub(super) fn of(action: Action, change: &Change) -> Notice {
        let outcome = match change {
            Change::Applied { .. } => Outcome::Applied,
            Change::Refused { .. } => Outcome::Refused,
            Change::Unreadable { .. } => Outcome::Unreadable,
            _ => Outcome::NotFound,
        };
        Notice { action, outcome }
    }

    /// Its name in a URL: `retry-applied`.
    pub(super) fn name(self) -> String {
        format!("{}-{}", self.action.name(), self.outcome.name())
    }

    /// The notice named `name`, if it is one.
    pub(super) fn named(name: &str) -> Option<Notice> {
        let (action, outcome) = name.split_once('-')?;
        Some(Notice {
            action: Action::named(action)?,
            outcome: Outcome::ALL.into_iter().find(|o| o.name() == outcome)?,
        })
    }

    /// What it says of a delivery now in `state`, and whether it is good
    /// news.
    fn text(self, state: State) -> (String, bool) {
        match (self.outcome, self.action) {
            (Outcome::Applied, Action::Retry) => ("Retried: it is due now.".into(), true),
            (Outcome::Applied, Action::Discard) => {
                ("Discarded: it will not be processed.".into(), true)
            }
            (Outcome::Applied, Action::Replay) => (
                "Replayed: the current model reads it, and it is due now.".into(),
                true,
            ),
            (Outcome::Refused, action) => (
                format!(
                    "Not done: a delivery that is {state} cannot take {}.",
                    action.name()
                ),
                false,
            ),
            (Outcome::Unreadable, _) => (
                "Not replayed: the current model still cannot read it (see below).".into(),
                false,
            ),
            (Outcome::NotFound, _) => ("No delivery has this key.".into(), false),
        }
    }
}

/// The list page.
pub(super) struct Index<'a> {
    pub stats: &'a Stats,
    /// The rows, each with the key it waits for.
    pub rows: &'a [(Entry, Option<String>)],
    pub filters: &'a Filters,
    /// The query string of the first page, when this is a later one.
    pub first: Option<String>,
    /// The query string of the next page, when there may be one.
    pub next: Option<String>,
    /// How many "retry all" retried.
    pub retried: Option<u64>,
}

/// A delivery's page.
pub(super) struct Detail<'a> {
    pub detail: &'a EntryDetail,
    /// The key it waits for.
    pub waits: Option<&'a str>,
    /// The buttons its state takes.
    pub actions: &'a [Action],
    pub notice: Option<Notice>,
}

/// A whole page: `root` leads from it to the console's root.
fn layout(root: &str, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · inbox" }
                link rel="stylesheet" href={ (root) "console.css" };
                script src={ (root) "console.js" } defer {}
            }
            body data-refresh=(REFRESH_SECONDS) {
                header.top {
                    a.brand href=(if root.is_empty() { "./" } else { root }) { "Webhook inbox" }
                    span #refreshed .muted {}
                }
                main { (body) }
            }
        }
    }
}

/// The list page, or only its changing part.
pub(super) fn index(view: &Index<'_>, live_only: bool) -> Markup {
    let live = index_live(view);
    if live_only {
        return live;
    }
    let f = view.filters;
    let body = html! {
        form.filters method="get" action="./" {
            label { "State "
                select name="state" {
                    option value="" selected[f.state.is_none()] { "any" }
                    @for state in State::ALL {
                        option value=(state.as_str()) selected[f.state == Some(state)] { (state.as_str()) }
                    }
                }
            }
            label { "Vendor "
                select name="vendor" {
                    option value="" selected[f.vendor.is_none()] { "any" }
                    @for vendor in Vendor::ALL.iter().map(|v| v.as_str()) {
                        option value=(vendor) selected[f.vendor.as_deref() == Some(vendor)] { (vendor) }
                    }
                }
            }
            label { "Event type "
                input type="text" name="event_type" value=[f.event_type.as_deref()]
                    placeholder="referral:update" size="18";
            }
            button type="submit" { "Filter" }
            @if *f != Filters::default() {
                a href="./" { "Clear" }
            }
        }
        (live)
    };
    layout("", "Deliveries", body)
}

/// The counts and the list.
fn index_live(view: &Index<'_>) -> Markup {
    let stats = view.stats;
    html! {
        section #live data-live {
            @if let Some(n) = view.retried {
                p.notice.good { (n) " " (if n == 1 { "delivery" } else { "deliveries" }) " retried." }
            }
            nav.counts aria-label="Deliveries by state" {
                @for state in State::ALL {
                    a.count.(state.as_str()).current[view.filters.state == Some(state)]
                        href={ "?state=" (state.as_str()) } {
                        b data-count=(state.as_str()) { (stats.count(state)) }
                        span { (state.as_str()) }
                    }
                }
                span.count.age {
                    b #oldest-pending { (age(stats.oldest_pending_age_s)) }
                    span { "oldest pending" }
                }
            }
            div.bar {
                h1 {
                    @match view.filters.state {
                        Some(state) => { "Deliveries " span.state.(state.as_str()) { (state.as_str()) } },
                        None => "Deliveries",
                    }
                }
                form.inline method="post" action="retry?state=dead" {
                    button.danger type="submit" disabled[stats.dead == 0] {
                        "Retry all dead (" (stats.dead) ")"
                    }
                }
            }
            @if view.rows.is_empty() {
                p.empty { "Nothing here." }
            } @else {
                table.list {
                    thead { tr {
                        th { "Id" } th { "Type" } th { "State" } th.num { "Tries" }
                        th { "Received" } th { "Order key" } th { "Last error" }
                    } }
                    tbody {
                        @for (row, waits) in view.rows {
                            tr {
                                td.key { a.clip href={ "deliveries/" (encoded(&row.key)) } title=(row.key) { (row.id.as_deref().unwrap_or(&row.key)) } }
                                td { span.vendor { (row.vendor) } " " (row.event_type.as_deref().unwrap_or("?")) }
                                td {
                                    span.state.(row.state.as_str()) { (row.state.as_str()) }
                                    @if let Some(waits) = waits {
                                        div.waits { "waiting for " a.clip href={ "deliveries/" (encoded(waits)) } title=(waits) { (waits) } }
                                    }
                                    @if let (State::Retrying, Some(next)) = (row.state, row.next_attempt_at) {
                                        div.next { "next attempt " (when(next)) }
                                    }
                                }
                                td.num { (row.attempts) }
                                td.time { (when(row.received_at)) }
                                td.key { span.clip title=[row.order_key.as_deref()] { (row.order_key.as_deref().unwrap_or("")) } }
                                td.error { span.clip title=[row.last_error.as_deref()] { (row.last_error.as_deref().unwrap_or("")) } }
                            }
                        }
                    }
                }
            }
            nav.pages {
                @if let Some(first) = &view.first {
                    a href={ "./" (first) } { "« First page" }
                }
                @if let Some(next) = &view.next {
                    a href={ "./" (next) } { "Next page »" }
                }
            }
        }
    }
}

/// A delivery's page, or only its changing part.
pub(super) fn detail(view: &Detail<'_>, live_only: bool) -> Markup {
    let live = detail_live(view);
    if live_only {
        return live;
    }
    let d = view.detail;
    let body = html! {
        p.crumbs { a href="../" { "« All deliveries" } }
        h1.key { (d.entry.key) }
        (live)
        section {
            h2 { "JSON as received" }
            @match &d.raw {
                Some(raw) => pre.raw { (pretty(raw)) },
                None => p.muted { "Purged: the body went after its retention; the key stays." },
            }
        }
    };
    layout("../", &d.entry.key, body)
}

/// The state, the buttons and the attempts.
fn detail_live(view: &Detail<'_>) -> Markup {
    let d = &view.detail.entry;
    let model = view
        .detail
        .raw
        .as_deref()
        .map(|raw| Item::parse(&d.vendor, raw.as_bytes()));
    let key = encoded(&d.key);
    html! {
        section #live data-live {
            @if let Some(notice) = view.notice {
                @let (text, good) = notice.text(d.state);
                p.notice.good[good].bad[!good] { (text) }
            }
            dl.facts {
                dt { "State" }
                dd {
                    span.state.(d.state.as_str()) { (d.state.as_str()) }
                    @if let Some(waits) = view.waits {
                        " " span.waits { "waiting for " a href=(encoded(waits)) { (waits) } }
                    }
                }
                dt { "Vendor" } dd { (d.vendor) }
                dt { "Id" } dd { (d.id.as_deref().unwrap_or("—")) }
                dt { "Event type" } dd { (d.event_type.as_deref().unwrap_or("—")) }
                dt { "Current model" }
                dd {
                    @match &model {
                        Some(Ok(item)) => { "reads it: " (item.vendor()) " " (item.event_type()) },
                        Some(Err(e)) => span.bad { "cannot read it: " (e.to_string()) },
                        None => span.muted { "nothing to read (purged)" },
                    }
                }
                dt { "Order key" } dd { (d.order_key.as_deref().unwrap_or("—")) }
                dt { "Attempts" } dd { (d.attempts) " since it was accepted or last retried" }
                dt { "Received" } dd { (when(d.received_at)) }
                dt { "Next attempt" } dd { (d.next_attempt_at.map(when).unwrap_or_else(|| "—".into())) }
                dt { "Last error" } dd.error-text { (d.last_error.as_deref().unwrap_or("—")) }
            }
            @if !view.actions.is_empty() {
                div.actions {
                    @for action in view.actions {
                        form.inline method="post" action={ (key) "/" (action.name()) } {
                            button.danger[*action == Action::Discard] type="submit" { (button_label(*action)) }
                        }
                    }
                }
            }
            h2 { "Attempts" }
            @if view.detail.attempt_log.is_empty() {
                p.muted { "None yet." }
            } @else {
                table.list {
                    thead { tr { th.num { "#" } th { "Started" } th { "Finished" } th { "Error" } } }
                    tbody {
                        @for attempt in &view.detail.attempt_log {
                            tr {
                                td.num { (attempt.n) }
                                td.time { (when(attempt.started_at)) }
                                td.time { (attempt.finished_at.map(when).unwrap_or_else(|| "running".into())) }
                                td.error-text { (attempt.error.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn button_label(action: Action) -> &'static str {
    match action {
        Action::Retry => "Retry now",
        Action::Discard => "Discard",
        Action::Replay => "Replay with the current model",
    }
}

/// A page that says why a request failed.
pub(super) fn failure(root: &str, status: StatusCode, message: &str) -> Markup {
    let body = html! {
        h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
        p { (message) }
        p { a href=(if root.is_empty() { "./" } else { root }) { "« All deliveries" } }
    };
    layout(root, "Error", body)
}

/// An instant in UTC, to the second: `2026-05-05 14:00:00`.
fn when(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// A number of seconds as a person reads it: `42 s`, `3 min`, `2 h 5 min`,
/// `3 d 4 h`.
fn age(seconds: f64) -> String {
    let s = if seconds.is_finite() && seconds > 0.0 {
        seconds.min(u64::MAX as f64) as u64
    } else {
        0
    };
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}

/// `raw` JSON indented two spaces a level, each token kept as it was sent
/// (numbers, escapes, the order of members); text that is not JSON is
/// given back as it is.
pub(super) fn pretty(raw: &str) -> String {
    if serde_json::from_str::<serde::de::IgnoredAny>(raw).is_err() {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len() * 2);
    let mut depth = 0usize;
    let mut chars = raw.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push('"');
                while let Some(c) = chars.next() {
                    out.push(c);
                    match c {
                        '\\' => out.extend(chars.next()),
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('}' | ']')) {
                    out.extend(chars.next());
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// Any JSON value, a few levels deep.
    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".*".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".*", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// The same text as serde_json's pretty printer, whatever white
        /// space the vendor sent.
        #[test]
        fn pretty_is_serde_jsons_pretty_whatever_the_white_space(value in json(), spaces in prop::collection::vec(" |\n|\t|\r\n", 1..8)) {
            let compact = serde_json::to_string(&value).unwrap();
            let expected = serde_json::to_string_pretty(&value).unwrap();
            prop_assert_eq!(&pretty(&compact), &expected);
            let spread: String = serde_json::to_string_pretty(&value)
                .unwrap()
                .split('\n')
                .enumerate()
                .map(|(i, line)| format!("{}{}", spaces[i % spaces.len()], line))
                .collect();
            prop_assert_eq!(&pretty(&spread), &expected);
        }

        /// Never a panic, and text that is not JSON comes back as it was.
        #[test]
        fn pretty_keeps_what_is_not_json(text in ".*") {
            let out = pretty(&text);
            if serde_json::from_str::<serde::de::IgnoredAny>(&text).is_err() {
                prop_assert_eq!(out, text);
            }
        }

        /// Escaped text round-trips: `maud` escapes every splice.
        #[test]
        fn spliced_text_is_never_markup(text in ".*") {
            let markup = html! { p title=(text) { (text) } }.into_string();
            prop_assert!(!markup[3..markup.len() - 4].contains('<'));
            let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
            prop_assert_eq!(markup, format!("<p title=\"{escaped}\">{escaped}</p>"));
        }

        #[test]
        fn encoded_keys_are_one_segment_that_decodes_back(key in ".*") {
            let segment = encoded(&key);
            prop_assert!(segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
            let back = percent_encoding::percent_decode_str(&segment).decode_utf8().unwrap();
            prop_assert_eq!(back, key);
        }
    }

    #[test]
    fn pretty_keeps_each_token_as_sent() {
        let raw =
            r#"{"b":1.50,"a":[ ],"big":123456789012345678901234567890,"s":"a\"b\\\u003c","o":{ }}"#;
        assert_eq!(
            pretty(raw),
            "{\n  \"b\": 1.50,\n  \"a\": [],\n  \"big\": 123456789012345678901234567890,\n  \
             \"s\": \"a\\\"b\\\\\\u003c\",\n  \"o\": {}\n}"
        );
        assert_eq!(pretty("not json {"), "not json {");
    }

    #[test]
    fn ages_and_times_read_as_a_person_reads_them() {
        assert_eq!(age(0.0), "0 s");
        assert_eq!(age(-3.0), "0 s");
        assert_eq!(age(f64::NAN), "0 s");
        assert_eq!(age(59.9), "59 s");
        assert_eq!(age(61.0), "1 min");
        assert_eq!(age(7500.0), "2 h 5 min");
        assert_eq!(age(3.0 * 86400.0 + 4.0 * 3600.0), "3 d 4 h");
        assert_eq!(age(f64::INFINITY), "0 s");
        let at = OffsetDateTime::from_unix_timestamp(1_777_989_600).unwrap();
        assert_eq!(when(at), "2026-05-05 14:00:00");
    }

    #[test]
    fn notices_read_back_their_names() {
        for action in Action::ALL {
            for outcome in Outcome::ALL {
                let notice = Notice { action, outcome };
                assert_eq!(Notice::named(&notice.name()), Some(notice));
            }
        }
        for junk in ["", "retry", "retry-", "delete-applied", "retry-applied-x"] {
            assert_eq!(Notice::named(junk), None, "{junk}");
        }
    }
}
