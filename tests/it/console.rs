//! The inbox console's router through `oneshot`, on a real PostgreSQL:
//! every route with items in each of the seven states, the JSON shapes
//! the API promises, the buttons, each refusal (`401` without the token
//! as bearer or Basic, `403` cross-site by `Origin` and by
//! `Sec-Fetch-Site`, `404`, `409`, `422`, `400`), ids that hold quotes,
//! `%`, `/` and `;` shown as text, paths that hold them matched as data,
//! and a stored `<img onerror>` shown as
//! text under a strict CSP. The page in a real browser is in
//! `console_browser`.
#![cfg(all(feature = "axum", feature = "postgres"))]

use crate::common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use common::inbox::{batch_body, notification, smartcomply_body};
use common::postgres::{PgServer, unique_table};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use utility_webhooks::idempotency::TransactionWork;
use utility_webhooks::inbox::console::{self, AdminToken, CONTENT_SECURITY_POLICY};
use utility_webhooks::inbox::{Inbox, Job, Stats, by_subject};
use utility_webhooks::{Error, smartcomply, smarterwx};

const TOKEN: &str = "console-test-token";
const SWX_SECRET: &str = "swx console secret";

/// The fields of each item of `api/deliveries`, as API.md lists them.
const LIST_FIELDS: [&str; 10] = [
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
];

/// An inbox of its own on `server`, ordered by subject, and its console
/// guarded as the example guards it.
async fn console_on(server: &PgServer) -> (Inbox, Router) {
    let inbox = Inbox::connect(server.url())
        .await
        .expect("the server is up")
        .with_table(&unique_table("console"))
        .unwrap()
        .with_order_key(by_subject);
    inbox.migrate().await.unwrap();
    let token = AdminToken::new(TOKEN).unwrap();
    let router = token.guard(console::router(inbox.clone()));
    (inbox, router)
}

/// [`console_on`] with one pending item, `smartcomply:evt_1`.
async fn with_one_pending(server: &PgServer) -> (Inbox, Router) {
    let (inbox, router) = console_on(server).await;
    let body = smartcomply_body("evt_1", "2026-05-05T10:00:00Z", None);
    accept_smartcomply(&inbox, &body).await;
    (inbox, router)
}

/// What the router answered.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", self.status, self.body))
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }
}

/// `method uri` with `headers`, through `oneshot`.
async fn send(router: &Router, method: &str, uri: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

const BEARER: (&str, &str) = ("authorization", "Bearer console-test-token");

/// `GET uri` with the token.
async fn get(router: &Router, uri: &str) -> Answer {
    send(router, "GET", uri, &[BEARER]).await
}

/// `POST uri` with the token, as a script sends it (no `Origin`).
async fn post(router: &Router, uri: &str) -> Answer {
    send(router, "POST", uri, &[BEARER]).await
}

/// Whether `html` has an attribute `on...="`, as maud writes attributes.
fn has_event_handler(html: &str) -> bool {
    html.match_indices(" on").any(|(at, _)| {
        let rest = &html[at + 3..];
        let name = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        name > 0 && rest[name..].starts_with("=\"")
    })
}

/// `key` as one path segment.
fn segment(key: &str) -> String {
    key.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Accept a SmartComply body, readable or not.
async fn accept_smartcomply(inbox: &Inbox, body: &[u8]) {
    let read = match smartcomply::parse(body) {
        Ok(event) => Ok(event),
        Err(Error::Payload(e)) => Err(e.unreadable().expect("an envelope").clone()),
        Err(e) => panic!("{e}"),
    };
    inbox.accept(&(read, body)).await.unwrap();
}

/// Accept a SmarterWX batch of `notifications`.
async fn accept_smarterwx(inbox: &Inbox, notifications: &[Value]) {
    let body = batch_body(notifications);
    let batch = smarterwx::Verifier::new(SWX_SECRET)
        .unwrap()
        .verify_and_parse_each(smarterwx::sign(SWX_SECRET, &body), &body)
        .unwrap();
    inbox.accept(&(batch, &body[..])).await.unwrap();
}

/// A handler that fails the ids in `fail` and hangs on those in `hang`.
fn work(
    fail: &'static [&'static str],
    hang: &'static [&'static str],
) -> impl for<'c> Fn(Job, &'c mut sqlx::PgConnection) -> TransactionWork<'c, (), String>
+ Send
+ Sync
+ 'static {
    move |job, _tx| {
        Box::pin(async move {
            let id = job.item().id();
            if hang.contains(&id) {
                std::future::pending::<()>().await;
            }
            if fail.contains(&id) {
                return Err(format!("{id}: the GIS call failed <b>500</b>"));
            }
            Ok(())
        })
    }
}

/// Wait until the stats satisfy `done`.
async fn until(inbox: &Inbox, what: &str, done: impl Fn(&Stats) -> bool) {
    let start = Instant::now();
    loop {
        let stats = inbox.stats().await.unwrap();
        if done(&stats) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what}: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Items in each of the seven states: `evt_dead` (dead, heads assembly
/// `asm_stuck`), `evt_held` (pending behind it), `evt_gone` (discarded
/// through the API), `evt_done`, `evt_retry` (retrying, its next attempt
/// an hour away), `evt_hang` (running) and `evt_parked`. Returns the
/// stop signal of the worker that runs `evt_hang`.
async fn seven_states(inbox: &Inbox, router: &Router) -> tokio::sync::oneshot::Sender<()> {
    let stuck = Some("asm_stuck");
    for (id, at) in [
        ("evt_dead", "2026-05-05T10:00:00Z"),
        ("evt_held", "2026-05-05T10:05:00Z"),
        ("evt_gone", "2026-05-05T10:10:00Z"),
    ] {
        accept_smartcomply(inbox, &smartcomply_body(id, at, stuck)).await;
    }
    accept_smartcomply(
        inbox,
        &smartcomply_body("evt_done", "2026-05-05T11:00:00Z", None),
    )
    .await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let first = inbox
        .worker(work(&["evt_dead"], &[]))
        .max_attempts(1)
        .poll(Duration::from_millis(50))
        .shutdown(async move {
            let _ = stopped.await;
        });
    let first = tokio::spawn(first.run());
    until(inbox, "dead and done", |s| s.dead == 1 && s.done == 1).await;
    let _ = stop.send(());
    first.await.unwrap().unwrap();

    let answer = post(router, "/api/deliveries/smartcomply%3Aevt_gone/discard").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.json(),
        json!({"result": "applied", "state": "discarded"})
    );

    for id in ["evt_retry", "evt_hang"] {
        accept_smartcomply(inbox, &smartcomply_body(id, "2026-05-05T12:00:00Z", None)).await;
    }
    // Known type, data it cannot read: parked.
    accept_smartcomply(
        inbox,
        br#"{"id":"evt_parked","type":"test.failed","created_at":"2026-05-05T13:00:00Z","data":{"assembly_id":7}}"#,
    )
    .await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let second = inbox
        .worker(work(&["evt_retry"], &["evt_hang"]))
        .max_attempts(5)
        .lease(Duration::from_secs(60))
        .backoff(utility_webhooks::inbox::Backoff::exponential(
            Duration::from_secs(3600),
        ))
        .poll(Duration::from_millis(50))
        .shutdown(async move {
            let _ = stopped.await;
        });
    tokio::spawn(second.run());
    until(inbox, "one in each state", |s| {
        [
            s.pending,
            s.running,
            s.retrying,
            s.done,
            s.dead,
            s.parked,
            s.discarded,
        ] == [1; 7]
    })
    .await;
    stop
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_shows_each_state_in_the_promised_shapes() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let (inbox, router) = console_on(&server).await;
    let _worker = seven_states(&inbox, &router).await;

    // Stats: exactly the promised members.
    let stats = get(&router, "/api/stats").await;
    assert_eq!(stats.status, StatusCode::OK);
    assert_eq!(stats.header("content-type"), "application/json");
    let stats = stats.json();
    let members: BTreeSet<&str> = stats
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        members,
        BTreeSet::from([
            "pending",
            "running",
            "retrying",
            "done",
            "dead",
            "parked",
            "discarded",
            "oldest_pending_age_s"
        ])
    );
    for state in [
        "pending",
        "running",
        "retrying",
        "done",
        "dead",
        "parked",
        "discarded",
    ] {
        assert_eq!(stats[state], 1, "{state}");
    }
    assert!(stats["oldest_pending_age_s"].as_f64().unwrap() > 0.0);

    // The list by state: one item each, with exactly the promised fields.
    for (state, key) in [
        ("pending", "smartcomply:evt_held"),
        ("running", "smartcomply:evt_hang"),
        ("retrying", "smartcomply:evt_retry"),
        ("done", "smartcomply:evt_done"),
        ("dead", "smartcomply:evt_dead"),
        ("parked", "smartcomply:evt_parked"),
        ("discarded", "smartcomply:evt_gone"),
    ] {
        let list = get(&router, &format!("/api/deliveries?state={state}&limit=50")).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        let list = list.json();
        let items = list.as_array().unwrap();
        assert_eq!(items.len(), 1, "{state}: {list}");
        let item = items[0].as_object().unwrap();
        let fields: BTreeSet<&str> = item.keys().map(String::as_str).collect();
        assert_eq!(fields, BTreeSet::from(LIST_FIELDS), "{state}");
        assert_eq!(item["key"], key);
        assert_eq!(item["state"], state);
        assert_eq!(item["vendor"], "smartcomply");

        // The page filtered by the state shows it, marked with its state.
        let page = get(&router, &format!("/?state={state}")).await;
        assert_eq!(page.status, StatusCode::OK);
        let id = key.trim_start_matches("smartcomply:");
        assert!(
            page.body.contains(&format!("title=\"{key}\">{id}</a>")),
            "{state}"
        );
        assert!(
            page.body
                .contains(&format!("<span class=\"state {state}\">{state}</span>")),
            "{state}"
        );
    }
    let dead = get(&router, "/api/deliveries?state=dead").await.json();
    assert_eq!(dead[0]["attempts"], 1);
    assert_eq!(dead[0]["order_key"], "assembly:asm_stuck");
    assert_eq!(
        dead[0]["last_error"],
        "evt_dead: the GIS call failed <b>500</b>"
    );
    assert_eq!(dead[0]["next_attempt_at"], Value::Null);
    let retrying_page = get(&router, "/?state=retrying").await;
    assert!(
        retrying_page
            .body
            .contains("<div class=\"next\">next attempt 20")
    );
    let retrying = get(&router, "/api/deliveries?state=retrying").await.json();
    assert!(
        retrying[0]["next_attempt_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let parked = get(&router, "/api/deliveries?state=parked").await.json();
    assert_eq!(parked[0]["event_type"], "test.failed");
    assert_eq!(parked[0]["order_key"], Value::Null);

    // Filters and pages.
    let all = get(&router, "/api/deliveries").await.json();
    let keys: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 7);
    assert_eq!(keys[0], "smartcomply:evt_parked", "newest first");
    let first = get(&router, "/api/deliveries?limit=3").await.json();
    let after = first[2]["key"].as_str().unwrap();
    let next = get(
        &router,
        &format!("/api/deliveries?limit=3&after={}", segment(after)),
    )
    .await
    .json();
    let paged: Vec<&str> = first
        .as_array()
        .unwrap()
        .iter()
        .chain(next.as_array().unwrap())
        .map(|d| d["key"].as_str().unwrap())
        .collect();
    assert_eq!(paged, keys[..6]);
    let typed = get(&router, "/api/deliveries?event_type=webhook.test")
        .await
        .json();
    let typed: BTreeSet<&str> = typed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        typed,
        BTreeSet::from([
            "smartcomply:evt_done",
            "smartcomply:evt_retry",
            "smartcomply:evt_hang"
        ])
    );
    assert_eq!(
        get(&router, "/api/deliveries?vendor=smarterwx")
            .await
            .json(),
        json!([])
    );
    let empty_filters = get(
        &router,
        "/api/deliveries?state=&vendor=&event_type=&limit=&after=",
    )
    .await;
    assert_eq!(empty_filters.json().as_array().unwrap().len(), 7);
    for bad in [
        "/api/deliveries?state=Dead",
        "/api/deliveries?limit=many",
        "/api/deliveries?limit=-1",
    ] {
        let answer = get(&router, bad).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(answer.json()["error"].is_string(), "{bad}");
    }

    // One delivery: the list's fields, its JSON and every attempt.
    let detail = get(&router, "/api/deliveries/smartcomply%3Aevt_dead").await;
    assert_eq!(detail.status, StatusCode::OK);
    let detail = detail.json();
    let fields: BTreeSet<&str> = detail
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = BTreeSet::from(LIST_FIELDS);
    expected.extend(["raw", "attempt_log"]);
    assert_eq!(fields, expected);
    assert_eq!(
        detail["raw"].as_str().unwrap().as_bytes(),
        smartcomply_body("evt_dead", "2026-05-05T10:00:00Z", Some("asm_stuck"))
    );
    let log = detail["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 1);
    let attempt: BTreeSet<&str> = log[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        attempt,
        BTreeSet::from(["n", "started_at", "finished_at", "error"])
    );
    assert_eq!(log[0]["n"], 1);
    assert_eq!(log[0]["error"], "evt_dead: the GIS call failed <b>500</b>");
    let running = get(&router, "/api/deliveries/smartcomply%3Aevt_hang")
        .await
        .json();
    assert_eq!(running["attempt_log"][0]["finished_at"], Value::Null);
    let missing = get(&router, "/api/deliveries/smartcomply%3Aevt_nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json(), json!({"error": "no delivery has this key"}));

    // The page: counts, the oldest pending age, who waits for whom.
    let page = get(&router, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    for state in ["pending", "running", "dead", "discarded"] {
        assert!(
            page.body
                .contains(&format!("<b data-count=\"{state}\">1</b>")),
            "{state}"
        );
    }
    assert!(page.body.contains("<b id=\"oldest-pending\">"));
    assert!(page.body.contains(
        "waiting for <a class=\"clip\" href=\"deliveries/smartcomply%3Aevt_dead\" \
         title=\"smartcomply:evt_dead\">smartcomply:evt_dead</a>"
    ));
    assert!(page.body.contains("Retry all dead (1)"));
    assert!(
        page.body
            .contains("evt_dead: the GIS call failed &lt;b&gt;500&lt;/b&gt;")
    );
    // Its changing part alone, for the script.
    let live = send(&router, "GET", "/", &[BEARER, ("x-console-part", "live")]).await;
    assert!(live.body.starts_with("<section id=\"live\" data-live>"));
    assert!(!live.body.contains("<html"));
    let held = get(&router, "/deliveries/smartcomply%3Aevt_held").await;
    assert!(
        held.body
            .contains("waiting for <a href=\"smartcomply%3Aevt_dead\">smartcomply:evt_dead</a>")
    );
    assert!(
        held.body
            .contains("action=\"smartcomply%3Aevt_held/discard\"")
    );
    assert!(!held.body.contains("/retry\""), "pending: no retry button");
    let filtered = get(
        &router,
        "/?vendor=smartcomply&event_type=webhook.test&limit=2",
    )
    .await;
    assert!(filtered.body.contains("Next page"));
    assert!(
        filtered.body.contains(
            "href=\"./?vendor=smartcomply&amp;event_type=webhook.test&amp;limit=2&amp;after=smartcomply%3Aevt_retry\""
        ),
        "{}",
        filtered.body
    );
    let bad = get(&router, "/?state=lost").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("state must be one of"));

    // Assets, same origin, with their types.
    let css = get(&router, "/console.css").await;
    assert_eq!(css.header("content-type"), "text/css; charset=utf-8");
    let js = get(&router, "/console.js").await;
    assert_eq!(js.header("content-type"), "text/javascript; charset=utf-8");
    assert!(js.body.contains("data-live"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buttons_and_actions_answer_for_each_state() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let (inbox, router) = console_on(&server).await;
    let _worker = seven_states(&inbox, &router).await;

    // What the operations refuse, with the status the API promises.
    for (uri, status, body) in [
        (
            "/api/deliveries/smartcomply%3Aevt_done/retry",
            409,
            json!({"result": "refused", "state": "done"}),
        ),
        (
            "/api/deliveries/smartcomply%3Aevt_hang/discard",
            409,
            json!({"result": "refused", "state": "running"}),
        ),
        (
            "/api/deliveries/smartcomply%3Aevt_dead/replay",
            409,
            json!({"result": "refused", "state": "dead"}),
        ),
        (
            "/api/deliveries/smartcomply%3Aevt_nope/retry",
            404,
            json!({"result": "not_found"}),
        ),
        (
            "/api/deliveries/smartcomply%3Aevt_dead/delete",
            404,
            json!({"error": "no such action: retry, discard or replay"}),
        ),
    ] {
        let answer = post(&router, uri).await;
        assert_eq!(answer.status.as_u16(), status, "{uri}: {}", answer.body);
        assert_eq!(answer.json(), body, "{uri}");
    }
    let replay = post(&router, "/api/deliveries/smartcomply%3Aevt_parked/replay").await;
    assert_eq!(replay.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(replay.json()["result"], "unreadable");
    assert!(replay.json()["error"].is_string());
    // Only POST changes anything.
    let get_retry = get(&router, "/api/deliveries/smartcomply%3Aevt_dead/retry").await;
    assert_eq!(get_retry.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        inbox
            .get("smartcomply:evt_dead")
            .await
            .unwrap()
            .unwrap()
            .entry
            .state
            .as_str(),
        "dead"
    );

    // The page's buttons: 303 back to the delivery, which says what
    // happened.
    let refused = send(
        &router,
        "POST",
        "/deliveries/smartcomply%3Aevt_done/retry",
        &[
            BEARER,
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
            ("sec-fetch-site", "same-origin"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::SEE_OTHER);
    assert_eq!(
        refused.header("location"),
        "../smartcomply%3Aevt_done?notice=retry-refused"
    );
    let shown = get(
        &router,
        "/deliveries/smartcomply%3Aevt_done?notice=retry-refused",
    )
    .await;
    assert!(
        shown
            .body
            .contains("Not done: a delivery that is done cannot take retry.")
    );
    let discard = post(&router, "/deliveries/smartcomply%3Aevt_parked/discard").await;
    assert_eq!(
        discard.header("location"),
        "../smartcomply%3Aevt_parked?notice=discard-applied"
    );
    assert_eq!(
        get(&router, "/api/deliveries/smartcomply%3Aevt_parked")
            .await
            .json()["state"],
        "discarded"
    );

    // Retry all: the state must be one that retries.
    for bad in ["/api/retry", "/api/retry?state=done", "/api/retry?state=x"] {
        let answer = post(&router, bad).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(answer.json()["error"].is_string());
    }
    let retried = post(&router, "/api/retry?state=discarded").await;
    assert_eq!(retried.status, StatusCode::OK);
    assert_eq!(retried.json(), json!({"state": "discarded", "retried": 2}));
    // evt_gone, evt_parked: pending again (evt_gone behind the dead head).
    let from_page = post(&router, "/retry?state=dead").await;
    assert_eq!(from_page.status, StatusCode::SEE_OTHER);
    assert_eq!(from_page.header("location"), "./?retried=1");
    let after = get(&router, "/?retried=1").await;
    assert!(after.body.contains("1 delivery retried."));
    // The dead head is due again; nothing is dead now.
    let stats = get(&router, "/api/stats").await.json();
    assert_eq!(stats["dead"], 0);
    assert_eq!(stats["discarded"], 0);
    let head = get(&router, "/api/deliveries/smartcomply%3Aevt_dead")
        .await
        .json();
    assert_ne!(head["state"], "dead");
    assert!(head["attempts"].as_u64().unwrap() <= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_token_401_and_from_another_site_403() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let (inbox, router) = with_one_pending(&server).await;
    let basic = |pair: &str| {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    let (right, wrong_password, no_user) = (
        basic(&format!("anyone:{TOKEN}")),
        basic("anyone:console-test-tokeN"),
        basic(TOKEN),
    );
    let wrong: [&[(&str, &str)]; 7] = [
        &[],
        &[("authorization", "Bearer console-test-toke")],
        &[("authorization", "Bearer console-test-token2")],
        &[("authorization", "Bearer")],
        &[("authorization", wrong_password.as_str())],
        &[("authorization", no_user.as_str())],
        &[("authorization", "console-test-token")],
    ];
    for route in [
        ("GET", "/"),
        ("GET", "/api/stats"),
        ("GET", "/api/deliveries/smartcomply%3Aevt_1"),
        ("GET", "/console.js"),
        ("POST", "/api/deliveries/smartcomply%3Aevt_1/discard"),
        ("POST", "/api/retry?state=dead"),
        ("GET", "/no/such/route"),
    ] {
        for headers in wrong {
            let answer = send(&router, route.0, route.1, headers).await;
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{route:?} {headers:?}"
            );
            assert!(answer.header("www-authenticate").starts_with("Basic "));
            assert!(!answer.body.contains("evt_1"));
        }
    }
    assert_eq!(
        inbox.stats().await.unwrap().pending,
        1,
        "nothing was discarded"
    );
    for headers in [
        [("authorization", "Bearer console-test-token")],
        [("authorization", "bearer console-test-token")],
        [("authorization", right.as_str())],
    ] {
        let answer = send(&router, "GET", "/api/stats", &headers).await;
        assert_eq!(answer.status, StatusCode::OK, "{headers:?}");
        assert_eq!(answer.json()["pending"], 1);
    }

    // Every POST from another site: 403, nothing changed.
    let host = ("host", "127.0.0.1:8080");
    for headers in [
        vec![BEARER, host, ("origin", "http://evil.example")],
        vec![BEARER, host, ("origin", "http://127.0.0.1:8081")],
        vec![BEARER, host, ("origin", "null")],
        vec![
            BEARER,
            host,
            ("origin", "null"),
            ("sec-fetch-site", "same-site"),
        ],
        vec![BEARER, host, ("sec-fetch-site", "cross-site")],
        vec![BEARER, host, ("sec-fetch-site", "same-site")],
        vec![
            BEARER,
            host,
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "cross-site"),
        ],
    ] {
        for uri in [
            "/api/deliveries/smartcomply%3Aevt_1/discard",
            "/deliveries/smartcomply%3Aevt_1/discard",
            "/api/retry?state=discarded",
            "/retry?state=discarded",
        ] {
            let answer = send(&router, "POST", uri, &headers).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{uri} {headers:?}");
        }
    }
    assert_eq!(inbox.stats().await.unwrap().pending, 1);
    // A GET from another site changes nothing and is answered.
    let read = send(
        &router,
        "GET",
        "/api/stats",
        &[BEARER, host, ("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_eq!(read.status, StatusCode::OK);
    // The same origin may.
    let same = send(
        &router,
        "POST",
        "/api/deliveries/smartcomply%3Aevt_1/discard",
        &[
            BEARER,
            host,
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin"),
        ],
    )
    .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.body);
    assert_eq!(inbox.stats().await.unwrap().discarded, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_data_and_sender_text_is_shown_as_text() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let (inbox, router) = console_on(&server).await;
    let ids = [
        "evt'quote",
        "evt\"double",
        "evt%25percent%",
        "evt/slash/../x",
        "evt;semi; DROP TABLE x;--",
        "evt' OR '1'='1",
        "evt?q=1#frag",
        "evt space+plus",
        "évt-ünïcode",
        "evt\\back{brace}",
        "evt<b>bold</b>",
        "..",
    ];
    for id in ids {
        accept_smartcomply(&inbox, &smartcomply_body(id, "2026-05-05T10:00:00Z", None)).await;
    }
    for id in ids {
        let key = smartcomply::parse(&smartcomply_body(id, "2026-05-05T10:00:00Z", None))
            .expect("readable")
            .idempotency_key();
        let answer = get(&router, &format!("/api/deliveries/{}", segment(&key))).await;
        assert_eq!(answer.status, StatusCode::OK, "{key}: {}", answer.body);
        assert_eq!(answer.json()["key"], key.as_str());
        assert_eq!(answer.json()["id"], id);
        let page = get(&router, &format!("/deliveries/{}", segment(&key))).await;
        assert_eq!(page.status, StatusCode::OK, "{key}");
        let discard = post(
            &router,
            &format!("/api/deliveries/{}/discard", segment(&key)),
        )
        .await;
        assert_eq!(discard.status, StatusCode::OK, "{key}: {}", discard.body);
    }
    assert_eq!(inbox.stats().await.unwrap().discarded, ids.len() as u64);
    // Near misses and injections match nothing.
    for uri in [
        "/api/deliveries/smartcomply%3Aevt'%20OR%20'1'%3D'1'%20--",
        "/api/deliveries/smartcomply%3Aevt%25",
        "/api/deliveries/smartcomply%3A%25",
        "/api/deliveries/%25",
        "/api/deliveries/smartcomply%3Aevt_",
    ] {
        let answer = get(&router, uri).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri}");
    }
    // Not UTF-8 once decoded: a plain 400, nothing looked up.
    let not_utf8 = get(&router, "/api/deliveries/smartcomply%3A%FF%FE").await;
    assert_eq!(not_utf8.status, StatusCode::BAD_REQUEST);
    // An unencoded `/` splits the path: another route, not another key.
    let split = get(&router, "/api/deliveries/smartcomply:evt/slash").await;
    assert_ne!(split.status, StatusCode::OK);
    // The list page shows every id as text, its link the key as one segment.
    let page = get(&router, "/?state=discarded").await;
    assert!(page.body.contains(">evt&lt;b&gt;bold&lt;/b&gt;</a>"));
    assert!(!page.body.contains("<b>bold"));
    let double = smartcomply::parse(&smartcomply_body(
        "evt\"double",
        "2026-05-05T10:00:00Z",
        None,
    ))
    .expect("readable")
    .idempotency_key();
    assert!(page.body.contains(&format!(
        "href=\"deliveries/{}\" title=\"{double}\">evt&quot;double</a>",
        segment(&double)
    )));

    // A SmarterWX enquiry's notes, typed by a member of the public.
    let mut hostile = notification("u-hostile", "2024-01-01T00:00:00Z", 77, "referral:create");
    hostile["message"]["Enquiry"]["notes"] =
        json!("<img src=x onerror=alert(1)> </script><script>alert(2)</script>");
    accept_smarterwx(&inbox, &[hostile]).await;
    let detail = get(&router, "/deliveries/smarterwx%3Au-hostile").await;
    assert_eq!(detail.status, StatusCode::OK);
    assert_eq!(
        detail.header("content-security-policy"),
        CONTENT_SECURITY_POLICY
    );
    assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self'"));
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    assert_eq!(detail.header("x-content-type-options"), "nosniff");
    assert_eq!(detail.header("referrer-policy"), "no-referrer");
    assert_eq!(detail.header("cache-control"), "no-store");
    assert!(detail.body.contains(
        "&quot;notes&quot;: &quot;&lt;img src=x onerror=alert(1)&gt; &lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;&quot;"
    ));
    assert!(!detail.body.contains("<img"));
    assert!(!detail.body.contains("alert(2)</script>"));
    // The only script is the console's own, by URL: nothing inline.
    assert_eq!(detail.body.matches("<script").count(), 1);
    assert!(
        detail
            .body
            .contains("<script src=\"../console.js\" defer></script>")
    );
    assert!(!detail.body.contains("style=\""));
    assert!(has_event_handler("<p onclick=\"x\">") && !has_event_handler("x onerror=y"));
    assert!(
        !has_event_handler(&detail.body),
        "no event handler attribute"
    );
    // Every answer carries the headers, a refusal too.
    let refused = get(&router, "/api/deliveries/smarterwx%3Anope").await;
    assert_eq!(
        refused.header("content-security-policy"),
        CONTENT_SECURITY_POLICY
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mounted_under_a_prefix_the_page_links_resolve() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let (_inbox, guarded) = with_one_pending(&server).await;
    for prefix in ["/inbox", "/ops/webhooks/inbox"] {
        let app = Router::new().nest_service(prefix, guarded.clone());
        let bare = get(&app, &format!("{prefix}?state=pending")).await;
        assert_eq!(bare.status, StatusCode::TEMPORARY_REDIRECT);
        let name = prefix.rsplit('/').next().unwrap();
        assert_eq!(bare.header("location"), format!("{name}/?state=pending"));
        let page = get(&app, &format!("{prefix}/")).await;
        assert_eq!(page.status, StatusCode::OK);
        // Each link of the page, resolved as a browser resolves it.
        for link in [
            "console.css",
            "console.js",
            "deliveries/smartcomply%3Aevt_1",
        ] {
            assert!(page.body.contains(&format!("\"{link}\"")), "{link}");
            let answer = get(&app, &format!("{prefix}/{link}")).await;
            assert_eq!(answer.status, StatusCode::OK, "{prefix}/{link}");
        }
        let detail = get(&app, &format!("{prefix}/deliveries/smartcomply%3Aevt_1")).await;
        for link in ["../console.css", "../"] {
            assert!(detail.body.contains(&format!("\"{link}\"")), "{link}");
        }
        assert_eq!(
            get(&app, &format!("{prefix}/api/stats")).await.json()["pending"],
            1
        );
    }
}
