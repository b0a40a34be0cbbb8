//! A webhook receiver for both vendors on axum.
//!
//! ```text
//! SMARTCOMPLY_WEBHOOK_SECRET=whsec_... SMARTERWX_WEBHOOK_SECRET=... PORT=3000 \
//!   cargo run --example axum_receiver --features http
//! ```
//!
//! Listens on 127.0.0.1:`PORT` (default 3000):
//!
//! - `POST /webhooks/smartcomply` and `POST /webhooks/smarterwx`: verify the
//!   raw body against the signature header, answer `204` at once, and print
//!   `processed <id>` for the first delivery of each SmartComply event id or
//!   SmarterWX notification uuid, `duplicate <id>` for a repeat. A delivery
//!   that fails gets `401` (signature, timestamp) or `400` (payload), with
//!   the reason as the body;
//! - `GET /` and `GET /webhooks/smarterwx`: `200` (SmarterWX checks that its
//!   endpoint is reachable).
//!
//! `router` is what a service would mount; `tests/axum_receiver.rs` drives
//! the same router over HTTP.

use std::fmt;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use utility_webhooks::dedupe::{Deduplicator, MemoryDeduplicator};
use utility_webhooks::{Error, smartcomply, smarterwx};

/// The largest body a webhook route reads.
///
/// The signature can only be checked once the whole body is in memory, so
/// anyone who can reach the port can make the receiver buffer whatever
/// they send before it knows the request is forged. Real deliveries are a
/// few kilobytes; 1 MiB leaves ample room and bounds what a forged request
/// costs. Larger bodies get `413`.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What the receiver did with one delivered id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The first delivery of this id: its work is done (here, printed).
    Processed(String),
    /// A repeat of an id already processed: acknowledged, nothing done.
    Duplicate(String),
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delivery::Processed(id) => write!(f, "processed {id}"),
            Delivery::Duplicate(id) => write!(f, "duplicate {id}"),
        }
    }
}

/// Everything the handlers share: one verifier and one deduplicator per
/// vendor (so that the two vendors' ids never meet), and what to do with
/// each delivered id.
pub struct Receiver {
    smartcomply: smartcomply::Verifier,
    smarterwx: smarterwx::Verifier,
    smartcomply_seen: MemoryDeduplicator,
    smarterwx_seen: MemoryDeduplicator,
    on_delivery: Box<dyn Fn(Delivery) + Send + Sync>,
}

impl Receiver {
    /// A receiver that hands every delivered id to `on_delivery`.
    pub fn new(
        smartcomply: smartcomply::Verifier,
        smarterwx: smarterwx::Verifier,
        on_delivery: impl Fn(Delivery) + Send + Sync + 'static,
    ) -> Self {
        // Retries stop well within a day; 100 000 ids is far more than a
        // utility receives in one.
        let seen = || MemoryDeduplicator::new(100_000, Duration::from_secs(24 * 3600));
        Receiver {
            smartcomply,
            smarterwx,
            smartcomply_seen: seen(),
            smarterwx_seen: seen(),
            on_delivery: Box::new(on_delivery),
        }
    }

    fn deliver(&self, seen: &MemoryDeduplicator, id: &str) {
        let delivery = if seen.first_delivery(id) {
            // A real service would queue the work here (a channel, a
            // spawned task, a table) rather than do it before answering.
            Delivery::Processed(id.to_owned())
        } else {
            Delivery::Duplicate(id.to_owned())
        };
        (self.on_delivery)(delivery);
    }
}

/// The receiver's routes.
pub fn router(receiver: Receiver) -> Router {
    Router::new()
        .route("/", get(reachable))
        .route("/webhooks/smartcomply", post(smartcomply_webhook))
        .route(
            "/webhooks/smarterwx",
            get(reachable).post(smarterwx_webhook),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(Arc::new(receiver))
}

async fn reachable() -> StatusCode {
    StatusCode::OK
}

async fn smartcomply_webhook(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match receiver
        .smartcomply
        .verify_and_parse_headers(&headers, &body)
    {
        Ok(event) => {
            receiver.deliver(&receiver.smartcomply_seen, event.id.as_str());
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => reject(err),
    }
}

async fn smarterwx_webhook(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match receiver.smarterwx.verify_and_parse_headers(&headers, &body) {
        Ok(notifications) => {
            for notification in &notifications {
                receiver.deliver(&receiver.smarterwx_seen, notification.uuid.as_str());
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => reject(err),
    }
}

/// `401` or `400` with the reason (messages never hold a secret or an
/// expected signature).
fn reject(err: Error) -> Response {
    eprintln!("rejected: {err}");
    (err.status_code(), err.to_string()).into_response()
}

#[allow(dead_code)] // unused where tests/axum_receiver.rs includes this file
#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("axum_receiver: {message}");
            ExitCode::FAILURE
        }
    }
}

#[allow(dead_code)]
async fn run() -> Result<(), String> {
    let secret = |var: &str| {
        std::env::var(var).map_err(|_| format!("set {var} to the endpoint's signing secret"))
    };
    let smartcomply = smartcomply::Verifier::new(secret("SMARTCOMPLY_WEBHOOK_SECRET")?)
        .map_err(|e| format!("SMARTCOMPLY_WEBHOOK_SECRET: {e}"))?;
    let smarterwx = smarterwx::Verifier::new(secret("SMARTERWX_WEBHOOK_SECRET")?)
        .map_err(|e| format!("SMARTERWX_WEBHOOK_SECRET: {e}"))?;
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT must be a port number, not {port:?}"))?,
        Err(_) => 3000,
    };

    let receiver = Receiver::new(smartcomply, smarterwx, |delivery| println!("{delivery}"));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|e| format!("127.0.0.1:{port}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on http://{address}");
    axum::serve(listener, router(receiver))
        .await
        .map_err(|e| e.to_string())
}
