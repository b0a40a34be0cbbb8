//! Verify one delivery the way a receiver would, from raw body bytes.
//!
//! ```text
//! SMARTCOMPLY_WEBHOOK_SECRET=whsec_... \
//!   cargo run --example verify -- smartcomply 't=1777989600,v1=6c3f...' body.json
//! SMARTERWX_WEBHOOK_SECRET=... \
//!   cargo run --example verify -- smarterwx 'sha256=...' < body.json
//! ```
//!
//! The body comes from the named file, or from standard input when no file
//! (or `-`) is given. Prints the typed event, or the error and exits 1; a
//! verified delivery the model cannot read is printed raw, and exits 1.

use std::io::{Read, Write};
use std::process::ExitCode;

use utility_webhooks::{Error, smartcomply, smarterwx};

/// Print to standard output, ignoring a closed pipe (`... | head`).
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

const USAGE: &str =
    "usage: verify <smartcomply|smarterwx> <signature header value> [body file | -]";

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
    let shown = |e: Error| {
        format!(
            "{} ({}): {e}",
            e.http_status(),
            if e.is_payload() {
                "payload"
            } else {
                "signature"
            }
        )
    };
    match vendor {
        "smartcomply" => {
            let verifier =
                smartcomply::Verifier::new(secret("SMARTCOMPLY_WEBHOOK_SECRET")?).map_err(shown)?;
            let event = match verifier.verify_and_parse(header, &body) {
                Ok(event) => event,
                Err(Error::Payload(err)) if err.unreadable().is_some() => {
                    let event = err.unreadable().unwrap();
                    say!("verified {} {}", event.event_type(), event.id());
                    say!("data: {}", event.raw_data());
                    return Err(format!(
                        "the model cannot read it (a receiver parks it under `{}` and answers 2xx): {err}",
                        event.idempotency_key()
                    ));
                }
                Err(err) => return Err(shown(err)),
            };
            say!("verified {} {}", event.event_type(), event.id);
            say!("{event:#?}");
        }
        "smarterwx" => {
            let verifier =
                smarterwx::Verifier::new(secret("SMARTERWX_WEBHOOK_SECRET")?).map_err(shown)?;
            let batch = verifier
                .verify_and_parse_each(header, &body)
                .map_err(shown)?;
            say!("verified {} notification(s)", batch.len());
            let mut unreadable = 0;
            for each in &batch {
                match each {
                    Ok(n) => {
                        say!("{} {}", n.event_type(), n.uuid);
                        say!("{n:#?}");
                    }
                    Err(u) => {
                        unreadable += 1;
                        say!("{u}");
                        say!("raw: {}", u.raw());
                    }
                }
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

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
