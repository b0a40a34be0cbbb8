//! Verify one delivery the way a receiver would, from raw body bytes.
//!
//! ```text
//! SMARTCOMPLY_WEBHOOK_SECRET=whsec_... \
//!   cargo run --example verify -- smartcomply 't=1777989600,v1=6c3f...' body.json
//! SMARTCOMPLY_WEBHOOK_SECRET=whsec_... \
//!   cargo run --example verify -- --at 2026-05-05T14:00:00Z smartcomply 't=...' body.json
//! SMARTERWX_WEBHOOK_SECRET=... \
//!   cargo run --example verify -- smarterwx 'sha256=...' < body.json
//! ```
//!
//! The body comes from the named file, or from standard input when no file
//! (or `-`) is given. A captured SmartComply delivery is older than the
//! 5-minute tolerance: check it as of the time it was sent with
//! `--at <RFC 3339>`, or skip the age check with `--ignore-age` (the
//! signature is checked all the same). Prints the typed event, or the error
//! with its class and HTTP status, and exits 1; a verified delivery the
//! model cannot read is printed raw, and exits 1. With `--drift` (first),
//! a verified body's drift report follows: each member the model ignores,
//! enum value or event type it does not know, at its path.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utility_webhooks::{Error, Escaped, smartcomply, smarterwx};

/// Print to standard output, ignoring a closed pipe (`... | head`).
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

const USAGE: &str = "usage: verify [--drift] [--at <RFC 3339> | --ignore-age] \
                     <smartcomply|smarterwx> <signature header value> [body file | -]";

/// When to check a SmartComply timestamp against.
enum Clock {
    Now,
    At(OffsetDateTime),
    IgnoreAge,
}

/// The class of an error, as a receiver would act on it.
fn class(e: &Error) -> &'static str {
    match e {
        Error::EmptySecret => "configuration",
        Error::TimestampTooOld | Error::TimestampInFuture => "timestamp",
        Error::Payload(_) => "payload",
        Error::Store(_) => "store",
        _ => "signature",
    }
}

fn shown(e: Error) -> String {
    format!("{} ({}): {e}", e.http_status(), class(&e))
}

fn run() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let drift = args.first().is_some_and(|a| a == "--drift");
    if drift {
        args.remove(0);
    }
    let clock = match args.first().map(String::as_str) {
        Some("--at") if args.len() > 1 => {
            let at = OffsetDateTime::parse(&args[1], &Rfc3339)
                .map_err(|e| format!("--at {:?}: {e}\n{USAGE}", args[1]))?;
            args.drain(..2);
            Clock::At(at)
        }
        Some("--ignore-age") => {
            args.remove(0);
            Clock::IgnoreAge
        }
        _ => Clock::Now,
    };
    let (vendor, header, file) = match args.as_slice() {
        [v, h] => (v.as_str(), h.as_str(), None),
        [v, h, f] => (
            v.as_str(),
            h.as_str(),
            Some(f.as_str()).filter(|f| *f != "-"),
        ),
        _ => return Err(USAGE.into()),
    };
    let mut body = Vec::new();
    match file {
        Some(path) => body = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?,
        None => {
            std::io::stdin()
                .read_to_end(&mut body)
                .map_err(|e| format!("stdin: {e}"))?;
        }
    }
    let secret = |var: &str| {
        std::env::var(var).map_err(|_| format!("set {var} to the endpoint's signing secret"))
    };
    match vendor {
        "smartcomply" => {
            let verifier =
                smartcomply::Verifier::new(secret("SMARTCOMPLY_WEBHOOK_SECRET")?).map_err(shown)?;
            let checked = match clock {
                Clock::Now => verifier.verify_and_parse(header, &body),
                Clock::At(at) => verifier.verify_and_parse_at(header, &body, at),
                Clock::IgnoreAge => verifier
                    .with_tolerance(Duration::MAX)
                    .verify_and_parse(header, &body),
            };
            let event = match checked {
                Ok(event) => event,
                Err(Error::Payload(err)) if err.unreadable().is_some() => {
                    let event = err.unreadable().unwrap();
                    say!(
                        "verified {} {}",
                        Escaped(event.event_type().unwrap_or("?")),
                        Escaped(event.id().unwrap_or("?"))
                    );
                    return Err(format!(
                        "the model cannot read it (a receiver parks it under `parked:{}` and answers 2xx): {err}",
                        event.idempotency_key()
                    ));
                }
                Err(err) => return Err(shown(err)),
            };
            say!("verified {} {}", Escaped(event.event_type()), event.id);
            say!("{event:#?}");
            if drift {
                report(smartcomply::drift(&body));
            }
        }
        "smarterwx" => {
            // SmarterWX signs no timestamp: `--at` and `--ignore-age` change
            // nothing.
            let verifier =
                smarterwx::Verifier::new(secret("SMARTERWX_WEBHOOK_SECRET")?).map_err(shown)?;
            let batch = verifier
                .verify_and_parse_each(header, &body)
                .map_err(shown)?;
            say!("verified {} notification(s)", batch.len());
            let mut unreadable = 0;
            for item in &batch {
                match item {
                    smarterwx::Item::Notification(n) => {
                        say!("{} {}", Escaped(n.event_type()), n.uuid);
                        say!("{n:#?}");
                    }
                    smarterwx::Item::Unreadable(u) => {
                        unreadable += 1;
                        say!("{u}");
                        say!("raw: {}", u.raw());
                    }
                    // No replay window is set here: none is stale.
                    other => say!("{other:?}"),
                }
            }
            if drift {
                report(smarterwx::drift(&body));
            }
            if unreadable > 0 {
                return Err(format!(
                    "the model cannot read {unreadable} notification(s) (a receiver parks them and answers 2xx)"
                ));
            }
        }
        other => return Err(format!("unknown vendor `{other}`\n{USAGE}")),
    }
    Ok(())
}

/// Print a drift report: what the body holds that the model does not
/// take in, one `drift` line per item.
fn report(drift: Result<utility_webhooks::drift::Drift, Error>) {
    match drift {
        Ok(drift) if drift.is_empty() => say!("drift: none, the model takes in the whole body"),
        Ok(drift) => {
            for item in &drift {
                say!("drift {item}");
            }
        }
        Err(err) => say!("drift: not computed, {err}"),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
