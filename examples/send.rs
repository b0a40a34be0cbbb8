//! Send a signed webhook to a URL the way the vendor would, to try a
//! receiver end to end (as `stripe trigger` does).
//!
//! ```text
//! SMARTCOMPLY_WEBHOOK_SECRET=whsec_... \
//!   cargo run --example send --features testing -- http://127.0.0.1:3000/webhooks/smartcomply test.failed
//! SMARTERWX_WEBHOOK_SECRET=... \
//!   cargo run --example send --features testing -- http://127.0.0.1:3000/webhooks/smarterwx referral:create
//! SMARTCOMPLY_WEBHOOK_SECRET=whsec_... \
//!   cargo run --example send --features testing -- --attempts 3 http://127.0.0.1:3000/webhooks/smartcomply body.json
//! ```
//!
//! What is sent is a sample event, chosen by its type name (`test.failed`,
//! `referral:create`: the crate's `testing::sample`), or the bytes of a
//! JSON file, sent exactly as they are (a file is SmartComply's when it is
//! one object with a `type`, SmarterWX's otherwise; `--vendor` says so
//! outright). The secrets come from the same variables as the receiver
//! example's.
//!
//! As the vendors do:
//!
//! - SmartComply signs each attempt at the time it is sent, and retries
//!   any answer that is not `2xx`, and any network failure, with backoff
//!   (1 s, 2 s, 4 s, ... at most 60 s; `--backoff-ms` sets the first);
//! - SmarterWX waits 3 s for each answer (`--timeout-ms`), then sends the
//!   same signed body again, with the same backoff.
//!
//! Each attempt prints its answer and how long it took; the command stops
//! at the first `2xx` (exit 0) or after `--attempts` attempts (default 5;
//! exit 1).

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use utility_webhooks::time::OffsetDateTime;
use utility_webhooks::{smartcomply, smarterwx};

const USAGE: &str = "usage: send [--attempts N] [--backoff-ms MS] [--timeout-ms MS] \
                     [--vendor smartcomply|smarterwx] <url> <event type | file.json>";

/// Which vendor's way of sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vendor {
    /// One event per delivery, `t=..,v1=..`, retried with backoff.
    SmartComply,
    /// A batch per delivery, `sha256=..`, 3 s to answer.
    SmarterWx,
}

impl Vendor {
    fn secret_var(self) -> &'static str {
        match self {
            Vendor::SmartComply => "SMARTCOMPLY_WEBHOOK_SECRET",
            Vendor::SmarterWx => "SMARTERWX_WEBHOOK_SECRET",
        }
    }
}

/// What to send, where, and how patiently.
#[derive(Debug, Clone)]
struct Options {
    /// Where to `POST`.
    url: String,
    /// Whose delivery it is.
    vendor: Vendor,
    /// The body, as it is signed and sent.
    body: Vec<u8>,
    /// What is sent, for the output (`test.failed`, a file name).
    what: String,
    /// At most this many attempts.
    attempts: u32,
    /// The wait before the second attempt; it doubles after each one.
    backoff: Duration,
    /// How long to wait for each answer.
    timeout: Duration,
}

/// Read the command line (without the program name).
fn options(args: &[String]) -> Result<Options, String> {
    let mut attempts = 5;
    let mut backoff = Duration::from_secs(1);
    let mut timeout = None;
    let mut vendor = None;
    let mut rest = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        let number = |name: &str, text: String| {
            text.parse::<u64>()
                .map_err(|_| format!("{name} takes a whole number, not {text:?}"))
        };
        match arg.as_str() {
            "--attempts" => {
                let n = number("--attempts", value("--attempts")?)?;
                attempts = u32::try_from(n).unwrap_or(u32::MAX).max(1);
            }
            "--backoff-ms" => {
                backoff = Duration::from_millis(number("--backoff-ms", value("--backoff-ms")?)?)
            }
            "--timeout-ms" => {
                timeout = Some(Duration::from_millis(number(
                    "--timeout-ms",
                    value("--timeout-ms")?,
                )?))
            }
            "--vendor" => {
                vendor = Some(match value("--vendor")?.as_str() {
                    "smartcomply" => Vendor::SmartComply,
                    "smarterwx" => Vendor::SmarterWx,
                    other => return Err(format!("unknown vendor {other:?}\n{USAGE}")),
                })
            }
            _ => rest.push(arg.clone()),
        }
    }
    let [url, what] = rest.as_slice() else {
        return Err(USAGE.into());
    };
    let (vendor, body) = if what.ends_with(".json") || std::path::Path::new(what).is_file() {
        let body = std::fs::read(what).map_err(|e| format!("{what}: {e}"))?;
        (vendor.unwrap_or_else(|| vendor_of(&body)), body)
    } else {
        // A sample, by its type name: SmarterWX's have a colon.
        let vendor = vendor.unwrap_or(if what.contains(':') {
            Vendor::SmarterWx
        } else {
            Vendor::SmartComply
        });
        (vendor, sample(vendor, what)?)
    };
    let timeout = timeout.unwrap_or(match vendor {
        // SmarterWX documents 3 s; SmartComply says nothing, so be patient.
        Vendor::SmarterWx => Duration::from_secs(3),
        Vendor::SmartComply => Duration::from_secs(30),
    });
    Ok(Options {
        url: url.clone(),
        vendor,
        body,
        what: what.clone(),
        attempts,
        backoff,
        timeout,
    })
}

/// The vendor a file's body is from: SmartComply's is one object with a
/// `type`.
fn vendor_of(body: &[u8]) -> Vendor {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) if value.get("type").is_some() => Vendor::SmartComply,
        _ => Vendor::SmarterWx,
    }
}

/// The body of a sample of `event_type`, as the vendor writes it.
fn sample(vendor: Vendor, event_type: &str) -> Result<Vec<u8>, String> {
    match vendor {
        Vendor::SmartComply => serde_json::to_vec(&smartcomply::testing::sample(event_type.into())),
        Vendor::SmarterWx => serde_json::to_vec(&[smarterwx::testing::sample(event_type.into())]),
    }
    .map_err(|e| format!("the sample of {event_type:?} cannot be written: {e}"))
}

/// Send `options.body` signed with `secret` until an attempt gets a `2xx`
/// or none is left, writing one line per attempt to `out`. The `2xx`
/// status, or why it gave up.
async fn send(options: &Options, secret: &str, out: &mut dyn Write) -> Result<u16, String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(options.timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let (header_name, vendor) = match options.vendor {
        Vendor::SmartComply => (smartcomply::SIGNATURE_HEADER, "smartcomply"),
        Vendor::SmarterWx => ("X-SWX-Signature", "smarterwx"),
    };
    let _ = writeln!(
        out,
        "sending {} ({vendor}, {} bytes) to {}",
        options.what,
        options.body.len(),
        options.url
    );
    let mut wait = options.backoff;
    for attempt in 1..=options.attempts {
        if attempt > 1 {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(60));
        }
        let header = match options.vendor {
            Vendor::SmartComply => {
                smartcomply::sign(secret, OffsetDateTime::now_utc(), &options.body)
            }
            Vendor::SmarterWx => smarterwx::sign(secret, &options.body),
        };
        let started = Instant::now();
        let answer = client
            .post(&options.url)
            .header("content-type", "application/json")
            .header(header_name, header)
            .body(options.body.clone())
            .send()
            .await;
        let took = started.elapsed().as_millis();
        match answer {
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                // The answer's first line, if any: a receiver's reason.
                let text = text
                    .lines()
                    .next()
                    .map_or(String::new(), |l| format!(": {}", l.escape_debug()));
                let _ = writeln!(out, "attempt {attempt}: {status} in {took} ms{text}");
                if status.is_success() {
                    return Ok(status.as_u16());
                }
            }
            Err(err) if err.is_timeout() => {
                let _ = writeln!(out, "attempt {attempt}: no answer within {took} ms");
            }
            Err(err) => {
                let _ = writeln!(out, "attempt {attempt}: {err} after {took} ms");
            }
        }
    }
    Err(format!(
        "no 2xx after {} attempt(s): the vendor would go on retrying, then give up",
        options.attempts
    ))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = async {
        let options = options(&args)?;
        let var = options.vendor.secret_var();
        let secret = std::env::var(var)
            .map_err(|_| format!("set {var} to the endpoint's signing secret"))?;
        send(&options, &secret, &mut std::io::stdout()).await
    };
    match result.await {
        Ok(_) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("send: {message}");
            ExitCode::FAILURE
        }
    }
}
