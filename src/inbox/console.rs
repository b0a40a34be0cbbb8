//! The operators' console (features `axum` and `postgres`): an axum
//! [`Router`] with a page that shows what is stuck and acts on it, and
//! the same as JSON under `api/`.
//!
//! ```no_run
//! use utility_webhooks::inbox::Inbox;
//! use utility_webhooks::inbox::console::{self, AdminToken};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let inbox = Inbox::connect("postgres://receiver:secret@127.0.0.1/billing").await?;
//! let mut app = axum::Router::new(); // the host's routes
//! // The console has no auth of its own: guard it. Unset, no console.
//! if let Some(token) = AdminToken::new(&std::env::var("INBOX_ADMIN_TOKEN").unwrap_or_default()) {
//!     app = app.nest_service("/inbox", token.guard(console::router(inbox.clone())));
//! }
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Then open `http://127.0.0.1:3000/inbox/` in a browser: it asks for a
//! user name (any) and a password (the token). Scripts send
//! `Authorization: Bearer <token>`.
//!
//! # Mounting
//!
//! Every link is relative, so the router works under any prefix, behind a
//! proxy that strips one too. Mount it with
//! [`nest_service`](Router::nest_service), which serves both `/inbox`
//! and `/inbox/` (the first redirects to the second, where the relative
//! links resolve), or [`merge`](Router::merge) it at the root.
//! `Router::nest` serves `/inbox` but not `/inbox/`: do not use it here.
//!
//! # The page
//!
//! Server-rendered HTML (with [`maud`], which escapes every value), one
//! stylesheet and one small script, both served by the router itself; no
//! build step, nothing from another origin.
//!
//! - `./`: the count of items in each state and the age of the oldest
//!   pending one; the items newest first, filtered by state, vendor and
//!   event type, 50 to a page; "retry all dead". An item held behind an
//!   earlier one of the same order key shows as waiting, naming that one.
//! - `deliveries/{key}`: one item: its vendor, id, event type, order key
//!   and state, what the current model reads in it, every attempt with
//!   its times and error, the JSON as the vendor sent it (pretty-printed),
//!   and the buttons its state allows: retry, discard, replay.
//!
//! Every button is a plain HTML form that `POST`s, so it works without
//! script; the answer is `303 See Other` back to the page. The script
//! (`console.js`) fetches the page again every 5 seconds and swaps in the
//! parts that change (counts, list, state, attempts). It reads only the
//! DOM and the router's own responses: no value is ever written into a
//! script.
//!
//! # JSON
//!
//! | route | answer |
//! | --- | --- |
//! | `GET api/stats` | [`Stats`](super::Stats): `{"pending":n,"running":n,"retrying":n,"done":n,"dead":n,"parked":n,"discarded":n,"oldest_pending_age_s":x}` |
//! | `GET api/deliveries?state=dead&limit=50` | [`Entry`]s, newest first: `[{"key","vendor","event_type","id","state","attempts","last_error","received_at","next_attempt_at","order_key"}]` |
//! | `GET api/deliveries/{key}` | [`EntryDetail`](super::EntryDetail): the same plus `"raw"` and `"attempt_log":[{"n","started_at","finished_at","error"}]`; `404` for an unknown key |
//! | `POST api/deliveries/{key}/retry`, `.../discard`, `.../replay` | [`Change`], with its status: `200` applied, `404` no such key, `409` refused in the row's state, `422` still unreadable |
//! | `POST api/retry?state=dead` | `{"state":"dead","retried":n}`; the state must be `retrying`, `dead` or `discarded` |
//!
//! The list takes `state`, `vendor`, `event_type`, `limit` (1 to 500,
//! default 50) and `after` (the last key of the page before: the next
//! page). A bad parameter is `400`, the database down `503`, each with
//! `{"error":".."}`.
//!
//! A key in a path is percent-encoded (`smartcomply%3Aevt_1`; a `/` in a
//! key is `%2F`). It is decoded and matched as data: a bound parameter of
//! the statement, never SQL and never a route pattern.
//!
//! # Security
//!
//! Vendor text is sender text: a SmarterWX enquiry's `notes` is typed by
//! a member of the public. So:
//!
//! - every value is escaped in the HTML, and none is ever placed in a
//!   script;
//! - every answer carries [`CONTENT_SECURITY_POLICY`] (no inline script or
//!   style, nothing from elsewhere, no framing, forms only to the console
//!   itself), `X-Content-Type-Options: nosniff`,
//!   `Referrer-Policy: no-referrer` and `Cache-Control: no-store`;
//! - every `POST` from another site is refused `403`: a request whose
//!   `Sec-Fetch-Site` is present and not `same-origin`, or whose `Origin`
//!   is not the host it was sent to. (The scheme is not compared: the
//!   router cannot know whether TLS ended before it. A proxy in front must
//!   pass the `Host` the browser used.) Under `no-referrer` a browser
//!   sends `Origin: null` with the page's own forms: that is accepted only
//!   with `Sec-Fetch-Site: same-origin`, which no page can forge. Clients
//!   that are not browsers send neither header and are not refused.
//!
//! The router has no auth of its own: [`AdminToken::guard`] adds it in
//! one line, or put it behind the host's own.

mod guard;
mod page;

pub use guard::AdminToken;

use ::axum::Json;
use ::axum::Router;
use ::axum::extract::rejection::QueryRejection;
use ::axum::extract::{OriginalUri, Path, Query, Request, State};
use ::axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY as CSP, CONTENT_TYPE, HOST, LOCATION, ORIGIN,
    REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use ::axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use ::axum::middleware::{self, Next};
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::{get, post};
use serde::Deserialize;

use super::operations::{DISCARDABLE, RETRYABLE};
use super::{Change, Entry, Inbox, ListQuery, State as ItemState};
use crate::idempotency::StoreError;

/// The `Content-Security-Policy` of every answer of the console: its own
/// script and stylesheet only, no inline script or style, no other
/// origin, no framing, forms only to itself.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The header the script sends to get only the parts of a page that
/// change.
const PART: HeaderName = HeaderName::from_static("x-console-part");

/// The console's stylesheet.
const STYLESHEET: &str = include_str!("console/console.css");
/// The console's one script.
const SCRIPT: &str = include_str!("console/console.js");

/// The console for `inbox`: its page, its JSON under `api/`, its
/// stylesheet and script. See the [module docs](self) for the routes, how
/// to mount it, and how to guard it.
#[cfg_attr(docsrs, doc(cfg(all(feature = "axum", feature = "postgres"))))]
pub fn router(inbox: Inbox) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/deliveries/{key}", get(detail))
        .route("/deliveries/{key}/{action}", post(act_from_page))
        .route("/retry", post(retry_all_from_page))
        .route("/console.css", get(stylesheet))
        .route("/console.js", get(script))
        .route("/api/stats", get(api_stats))
        .route("/api/deliveries", get(api_list))
        .route("/api/deliveries/{key}", get(api_get))
        .route("/api/deliveries/{key}/{action}", post(api_act))
        .route("/api/retry", post(api_retry_all))
        .layer(middleware::from_fn(same_site_posts))
        .layer(middleware::map_response(secured))
        .with_state(inbox)
}

/// Why a request was not answered as asked.
#[derive(Debug)]
enum Failure {
    /// The database did not answer.
    Store(StoreError),
    /// A parameter that cannot be read.
    BadRequest(String),
    /// No such delivery, or no such action.
    NotFound(&'static str),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl Failure {
    fn status(&self) -> StatusCode {
        match self {
            Failure::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            Failure::BadRequest(_) => StatusCode::BAD_REQUEST,
            Failure::NotFound(_) => StatusCode::NOT_FOUND,
        }
    }

    /// What the answer says: never the store's own message.
    fn message(&self) -> String {
        match self {
            Failure::Store(e) => {
                crate::trace::store_answered(e);
                "the inbox's database is unavailable; try again".to_owned()
            }
            Failure::BadRequest(message) => message.clone(),
            Failure::NotFound(what) => (*what).to_owned(),
        }
    }

    /// As JSON: `{"error":".."}`.
    fn json(self) -> Response {
        let body = serde_json::json!({ "error": self.message() });
        (self.status(), Json(body)).into_response()
    }

    /// As a page whose links start at `root`.
    fn page(self, root: &str) -> Response {
        let status = self.status();
        let markup = page::failure(root, status, &self.message());
        html(status, markup)
    }
}

const NO_DELIVERY: &str = "no delivery has this key";
const NO_ACTION: &str = "no such action: retry, discard or replay";

/// The query parameters of the page and the list.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Params {
    state: Option<String>,
    vendor: Option<String>,
    event_type: Option<String>,
    limit: Option<String>,
    after: Option<String>,
    /// What the page says after a button (the page only).
    notice: Option<String>,
    /// How many "retry all" retried (the page only).
    retried: Option<String>,
}

/// The list's filters and page, read from [`Params`]; an empty parameter
/// (as an HTML form sends it) is no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Filters {
    state: Option<ItemState>,
    vendor: Option<String>,
    event_type: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
}

/// `Some(text)` unless it is empty.
fn given(text: &Option<String>) -> Option<&str> {
    text.as_deref().filter(|text| !text.is_empty())
}

/// The state named `name`, or a `400` that lists them.
fn state_named(name: &str) -> Result<ItemState, Failure> {
    ItemState::from_name(name).ok_or_else(|| {
        Failure::BadRequest(
            "state must be one of pending, running, retrying, done, dead, parked, discarded"
                .to_owned(),
        )
    })
}

impl Filters {
    fn read(params: &Params) -> Result<Filters, Failure> {
        let limit = match given(&params.limit) {
            None => None,
            Some(text) => Some(text.parse::<u32>().map_err(|_| {
                Failure::BadRequest("limit must be a whole number from 1 to 500".to_owned())
            })?),
        };
        Ok(Filters {
            state: given(&params.state).map(state_named).transpose()?,
            vendor: given(&params.vendor).map(str::to_owned),
            event_type: given(&params.event_type).map(str::to_owned),
            limit: limit.map(|n| n.clamp(1, ListQuery::MAX_LIMIT)),
            after: given(&params.after).map(str::to_owned),
        })
    }

    fn list_query(&self) -> ListQuery {
        let mut query = ListQuery::new().limit(self.limit.unwrap_or(ListQuery::DEFAULT_LIMIT));
        if let Some(state) = self.state {
            query = query.state(state);
        }
        if let Some(vendor) = &self.vendor {
            query = query.vendor(vendor);
        }
        if let Some(event_type) = &self.event_type {
            query = query.event_type(event_type);
        }
        if let Some(after) = &self.after {
            query = query.after(after);
        }
        query
    }

    /// The query string of these filters on the page after `after` (empty
    /// when there is nothing to say), for a link.
    fn link(&self, after: Option<&str>) -> String {
        let limit = self.limit.map(|n| n.to_string());
        let pairs = [
            ("state", self.state.map(ItemState::as_str)),
            ("vendor", self.vendor.as_deref()),
            ("event_type", self.event_type.as_deref()),
            ("limit", limit.as_deref()),
            ("after", after),
        ];
        query_string(&pairs)
    }
}

/// `?name=value&..` of the pairs that have a value, each percent-encoded;
/// `""` when none has.
fn query_string(pairs: &[(&str, Option<&str>)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if let Some(value) = value {
            out.push(if out.is_empty() { '?' } else { '&' });
            out.push_str(name);
            out.push('=');
            out.push_str(&page::encoded(value));
        }
    }
    out
}

/// A button of the page, or an action of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Retry,
    Discard,
    Replay,
}

impl Action {
    const ALL: [Action; 3] = [Action::Retry, Action::Discard, Action::Replay];

    fn named(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    fn name(self) -> &'static str {
        match self {
            Action::Retry => "retry",
            Action::Discard => "discard",
            Action::Replay => "replay",
        }
    }

    /// Whether a row in `state` takes it, as the operation decides.
    fn takes(self, state: ItemState) -> bool {
        match self {
            Action::Retry => RETRYABLE.contains(&state),
            Action::Discard => DISCARDABLE.contains(&state),
            Action::Replay => state == ItemState::Parked,
        }
    }

    async fn apply(self, inbox: &Inbox, key: &str) -> Result<Change, StoreError> {
        match self {
            Action::Retry => inbox.retry(key).await,
            Action::Discard => inbox.discard(key).await,
            Action::Replay => inbox.replay(key).await,
        }
    }
}

/// An HTML answer.
fn html(status: StatusCode, markup: maud::Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// `303 See Other` to `location`, relative to the request's URL.
fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(location) => (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Whether the script asked for the changing parts only.
fn live_only(headers: &HeaderMap) -> bool {
    headers.get(PART).is_some_and(|part| part == "live")
}

/// The rows with, for each pending or retrying one, the key it waits for.
async fn with_waits(
    inbox: &Inbox,
    rows: Vec<Entry>,
) -> Result<Vec<(Entry, Option<String>)>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let held = row.order_key.is_some()
            && matches!(row.state, ItemState::Pending | ItemState::Retrying);
        let waits = if held {
            inbox.waiting_for(&row.key).await?
        } else {
            None
        };
        out.push((row, waits));
    }
    Ok(out)
}

async fn index(
    State(inbox): State<Inbox>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    params: Result<Query<Params>, QueryRejection>,
) -> Response {
    // The page's links are relative to a folder: `/inbox` must be
    // `/inbox/`.
    if !uri.path().ends_with('/') {
        return to_folder(&uri);
    }
    match index_page(&inbox, &headers, params).await {
        Ok(response) => response,
        Err(failure) => failure.page(""),
    }
}

/// `307` from `…/name?query` to `name/?query`.
fn to_folder(uri: &Uri) -> Response {
    let name = uri.path().rsplit('/').next().unwrap_or_default();
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let location = format!("{name}/{query}");
    match HeaderValue::from_str(&location) {
        Ok(location) => (StatusCode::TEMPORARY_REDIRECT, [(LOCATION, location)]).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn index_page(
    inbox: &Inbox,
    headers: &HeaderMap,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Response, Failure> {
    let Query(params) = params.map_err(|e| Failure::BadRequest(e.body_text()))?;
    let filters = Filters::read(&params)?;
    let stats = inbox.stats().await?;
    let rows = inbox.list(&filters.list_query()).await?;
    let limit = filters.limit.unwrap_or(ListQuery::DEFAULT_LIMIT) as usize;
    let next = (rows.len() == limit)
        .then(|| rows.last().map(|last| filters.link(Some(&last.key))))
        .flatten();
    let rows = with_waits(inbox, rows).await?;
    let view = page::Index {
        stats: &stats,
        rows: &rows,
        filters: &filters,
        first: filters.after.is_some().then(|| filters.link(None)),
        next,
        retried: given(&params.retried).and_then(|n| n.parse().ok()),
    };
    Ok(html(StatusCode::OK, page::index(&view, live_only(headers))))
}

async fn detail(
    State(inbox): State<Inbox>,
    Path(key): Path<String>,
    headers: HeaderMap,
    params: Result<Query<Params>, QueryRejection>,
) -> Response {
    let notice = params
        .ok()
        .and_then(|Query(params)| params.notice)
        .and_then(|notice| page::Notice::named(&notice));
    match detail_page(&inbox, &key, &headers, notice).await {
        Ok(response) => response,
        Err(failure) => failure.page("../"),
    }
}

async fn detail_page(
    inbox: &Inbox,
    key: &str,
    headers: &HeaderMap,
    notice: Option<page::Notice>,
) -> Result<Response, Failure> {
    let detail = inbox
        .get(key)
        .await?
        .ok_or(Failure::NotFound(NO_DELIVERY))?;
    let waits = inbox.waiting_for(key).await?;
    let actions: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|action| action.takes(detail.entry.state))
        .collect();
    let view = page::Detail {
        detail: &detail,
        waits: waits.as_deref(),
        actions: &actions,
        notice,
    };
    Ok(html(
        StatusCode::OK,
        page::detail(&view, live_only(headers)),
    ))
}

async fn act_from_page(
    State(inbox): State<Inbox>,
    Path((key, action)): Path<(String, String)>,
) -> Response {
    let Some(action) = Action::named(&action) else {
        return Failure::NotFound(NO_ACTION).page("../../");
    };
    match action.apply(&inbox, &key).await {
        // Back to the delivery, which says what happened.
        Ok(change) => {
            let notice = page::Notice::of(action, &change);
            see_other(&format!(
                "../{}?notice={}",
                page::encoded(&key),
                notice.name()
            ))
        }
        Err(e) => Failure::from(e).page("../../"),
    }
}

/// The state "retry all" takes, from `?state=`.
fn retry_state(params: Result<Query<Params>, QueryRejection>) -> Result<ItemState, Failure> {
    let Query(params) = params.map_err(|e| Failure::BadRequest(e.body_text()))?;
    let wrong = || {
        Failure::BadRequest("retry takes ?state=retrying, ?state=dead or ?state=discarded".into())
    };
    let state = state_named(given(&params.state).ok_or_else(wrong)?)?;
    if !RETRYABLE.contains(&state) {
        return Err(wrong());
    }
    Ok(state)
}

async fn retry_all_from_page(
    State(inbox): State<Inbox>,
    params: Result<Query<Params>, QueryRejection>,
) -> Response {
    let retried = match retry_state(params) {
        Ok(state) => inbox.retry_all(state).await.map_err(Failure::from),
        Err(failure) => Err(failure),
    };
    match retried {
        Ok(n) => see_other(&format!("./?retried={n}")),
        Err(failure) => failure.page(""),
    }
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLESHEET)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

async fn api_stats(State(inbox): State<Inbox>) -> Response {
    match inbox.stats().await {
        Ok(stats) => Json(stats).into_response(),
        Err(e) => Failure::from(e).json(),
    }
}

async fn api_list(
    State(inbox): State<Inbox>,
    params: Result<Query<Params>, QueryRejection>,
) -> Response {
    let listed = async {
        let Query(params) = params.map_err(|e| Failure::BadRequest(e.body_text()))?;
        let filters = Filters::read(&params)?;
        Ok::<_, Failure>(inbox.list(&filters.list_query()).await?)
    };
    match listed.await {
        Ok(rows) => Json(rows).into_response(),
        Err(failure) => failure.json(),
    }
}

async fn api_get(State(inbox): State<Inbox>, Path(key): Path<String>) -> Response {
    match inbox.get(&key).await {
        Ok(Some(detail)) => Json(detail).into_response(),
        Ok(None) => Failure::NotFound(NO_DELIVERY).json(),
        Err(e) => Failure::from(e).json(),
    }
}

async fn api_act(
    State(inbox): State<Inbox>,
    Path((key, action)): Path<(String, String)>,
) -> Response {
    let Some(action) = Action::named(&action) else {
        return Failure::NotFound(NO_ACTION).json();
    };
    match action.apply(&inbox, &key).await {
        Ok(change) => (status(&change), Json(change)).into_response(),
        Err(e) => Failure::from(e).json(),
    }
}

async fn api_retry_all(
    State(inbox): State<Inbox>,
    params: Result<Query<Params>, QueryRejection>,
) -> Response {
    let state = match retry_state(params) {
        Ok(state) => state,
        Err(failure) => return failure.json(),
    };
    match inbox.retry_all(state).await {
        Ok(n) => Json(serde_json::json!({ "state": state, "retried": n })).into_response(),
        Err(e) => Failure::from(e).json(),
    }
}

/// Refuses `403` a request that changes something (any method but `GET`,
/// `HEAD` and `OPTIONS`) and comes from another site.
async fn same_site_posts(request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if safe || same_origin(request.headers(), request.uri()) {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::FORBIDDEN,
        "403: refused: this request comes from another site",
    )
        .into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Whether a browser would call this request same-origin: no
/// `Sec-Fetch-Site`, or `same-origin`; and no `Origin`, or one whose host
/// and port are the `Host` the request was sent to.
///
/// Under `Referrer-Policy: no-referrer` a browser sends `Origin: null`
/// with the page's own forms; `Sec-Fetch-Site: same-origin`, which no page
/// can set, then vouches for the request. Without it, `null` is refused.
fn same_origin(headers: &HeaderMap, uri: &Uri) -> bool {
    let vouched = match headers.get("sec-fetch-site") {
        Some(site) if site == "same-origin" => true,
        Some(_) => return false,
        None => false,
    };
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    if origin == "null" {
        return vouched;
    }
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let Some(origin_host) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        // A scheme a page of the console never has.
        return false;
    };
    let host = match headers.get(HOST) {
        Some(host) => host.to_str().ok(),
        None => uri.authority().map(|a| a.as_str()),
    };
    host.is_some_and(|host| !host.is_empty() && host.eq_ignore_ascii_case(origin_host))
}

/// Every answer's security headers.
async fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (CSP, CONTENT_SECURITY_POLICY),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "no-referrer"),
        (CACHE_CONTROL, "no-store"),
        (X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The status the console answers a change with: `200`, `404`, `409`,
/// `422`.
fn status(change: &Change) -> StatusCode {
    match change {
        Change::Applied { .. } => StatusCode::OK,
        Change::NotFound => StatusCode::NOT_FOUND,
        Change::Refused { .. } => StatusCode::CONFLICT,
        Change::Unreadable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn only_the_same_origin_may_post() {
        let uri = Uri::from_static("/retry");
        let host = ("host", "127.0.0.1:3000");
        for allowed in [
            vec![],
            vec![host],
            vec![host, ("origin", "http://127.0.0.1:3000")],
            vec![host, ("origin", "https://127.0.0.1:3000")],
            vec![
                host,
                ("origin", "http://127.0.0.1:3000"),
                ("sec-fetch-site", "same-origin"),
            ],
            // A form of the page itself under `Referrer-Policy: no-referrer`.
            vec![host, ("origin", "null"), ("sec-fetch-site", "same-origin")],
        ] {
            assert!(same_origin(&headers(&allowed), &uri), "{allowed:?}");
        }
        for refused in [
            vec![host, ("sec-fetch-site", "cross-site")],
            vec![host, ("sec-fetch-site", "same-site")],
            vec![host, ("sec-fetch-site", "none")],
            vec![host, ("origin", "http://evil.example")],
            vec![host, ("origin", "http://127.0.0.1:3001")],
            vec![host, ("origin", "http://127.0.0.1:3000.evil.example")],
            vec![host, ("origin", "null")],
            vec![host, ("origin", "null"), ("sec-fetch-site", "cross-site")],
            vec![
                host,
                ("origin", "http://evil.example"),
                ("sec-fetch-site", "same-origin"),
            ],
            vec![host, ("origin", "http://127.0.0.1:3000/")],
            vec![("origin", "http://127.0.0.1:3000")],
            vec![
                host,
                ("origin", "http://127.0.0.1:3000"),
                ("sec-fetch-site", "cross-site"),
            ],
        ] {
            assert!(!same_origin(&headers(&refused), &uri), "{refused:?}");
        }
        let absolute = Uri::from_static("http://127.0.0.1:3000/retry");
        assert!(same_origin(
            &headers(&[("origin", "http://127.0.0.1:3000")]),
            &absolute
        ));
    }

    #[test]
    fn filters_read_what_forms_send_and_refuse_the_rest() {
        let params = Params {
            state: Some("dead".into()),
            vendor: Some(String::new()),
            event_type: Some("referral:update".into()),
            limit: Some("900".into()),
            ..Params::default()
        };
        let filters = Filters::read(&params).unwrap();
        assert_eq!(filters.state, Some(ItemState::Dead));
        assert_eq!(filters.vendor, None);
        assert_eq!(filters.limit, Some(500));
        assert_eq!(
            filters.link(Some("smarterwx:a&b=c")),
            "?state=dead&event_type=referral%3Aupdate&limit=500&after=smarterwx%3Aa%26b%3Dc"
        );
        assert_eq!(Filters::default().link(None), "");
        for bad in [
            Params {
                state: Some("Dead".into()),
                ..Params::default()
            },
            Params {
                limit: Some("-1".into()),
                ..Params::default()
            },
        ] {
            assert!(matches!(Filters::read(&bad), Err(Failure::BadRequest(_))));
        }
    }

    #[test]
    fn actions_offered_are_those_the_operations_take() {
        use ItemState::*;
        let offered = |state| {
            Action::ALL
                .into_iter()
                .filter(|a| a.takes(state))
                .map(Action::name)
                .collect::<Vec<_>>()
        };
        assert_eq!(offered(Dead), ["retry", "discard"]);
        assert_eq!(offered(Parked), ["discard", "replay"]);
        assert_eq!(offered(Discarded), ["retry"]);
        assert_eq!(offered(Pending), ["discard"]);
        assert!(offered(Running).is_empty());
        assert!(offered(Done).is_empty());
        for action in Action::ALL {
            assert_eq!(Action::named(action.name()), Some(action));
        }
        assert_eq!(Action::named("delete"), None);
    }
}
