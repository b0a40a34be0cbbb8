//! A tour of the crate's main job: every shipped fixture is signed with a
//! demo secret, verified and parsed, and its typed event printed.
//!
//! ```text
//! cargo run --example tour            # one line per event
//! cargo run --example tour -- -v      # and the full typed value
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utility_webhooks::smartcomply::{self, EventData};
use utility_webhooks::smarterwx::{self, Message};
use utility_webhooks::{Error, Escaped};

const DEMO_SECRET: &str = "whsec_demo_k7Lm9PqRsTuVwXyZ";

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// An instant as RFC 3339, the way the vendors write it.
fn at(t: &OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn describe(data: &EventData) -> String {
    match data {
        EventData::TestSubmitted(t) | EventData::TestFailed(t) => format!(
            "backflow test {} of assembly {}: {} on {}{}",
            t.test_id,
            t.assembly_id,
            t.result,
            t.test_date,
            t.failure_reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        EventData::AssemblyDueSoon(a) => format!(
            "{} assembly {} due {} ({} days)",
            a.assembly_type, a.assembly_id, a.due_date, a.days_remaining
        ),
        EventData::IuExceedanceDetected(x) => {
            let list: Vec<String> = x
                .exceedances
                .iter()
                .map(|e| {
                    format!(
                        "{} {} {} > {}",
                        e.parameter, e.result_value, e.unit, e.permit_limit
                    )
                })
                .collect();
            format!(
                "sample {} under permit {}: {}",
                x.sample_id,
                x.permit_id,
                list.join(", ")
            )
        }
        EventData::PermitExpiring(p) => format!(
            "{} permit {} expires {} ({} days)",
            p.permit_type, p.permit_id, p.expiration_date, p.days_remaining
        ),
        EventData::ManifestFiled(m) => format!(
            "pump-out {} at {}: {} gal to {}",
            m.pump_out_id,
            m.establishment_id,
            m.gallons_pumped,
            m.disposal_facility.as_deref().unwrap_or("?")
        ),
        EventData::NoticeCreated(n) => format!(
            "{} notice {} ({}) for {}, due {}",
            n.notice_type,
            n.notice_id,
            n.severity,
            n.facility_id,
            n.due_date
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into())
        ),
        EventData::InspectionCompleted(i) => format!(
            "{} inspection {}: {} at {}",
            i.inspection_type,
            i.inspection_id,
            i.result,
            at(&i.completed_at)
        ),
        EventData::ReportCertified(r) => format!(
            "{} {} for {} certified at {}",
            r.report_type,
            r.report_id,
            r.period,
            at(&r.certified_at)
        ),
        EventData::PartnerApproved(p) => {
            format!(
                "{} partner {} approved at {}",
                p.integration_type,
                p.partner_id,
                at(&p.approved_at)
            )
        }
        EventData::PartnerApplicationSubmitted(p) => format!(
            "{} partner {} applied at {}",
            p.integration_type,
            p.partner_id,
            at(&p.submitted_at)
        ),
        EventData::WebhookTest(t) => match &t.sent_at {
            Some(sent_at) => format!("test event sent at {}", at(sent_at)),
            None => "test event".to_owned(),
        },
        EventData::Unknown(u) => format!("unknown type, raw data {}", u.data),
        other => format!("{other:?}"),
    }
}

fn describe_message(message: &Message) -> String {
    match message.referral() {
        Some(r) => {
            let e = &r.enquiry;
            let codes: Vec<String> = e.activities().map(|a| a.as_str().to_owned()).collect();
            format!(
                "referral {} ({}) job {} for {}: {} at {} {} {}, digging {}..{}",
                r.id,
                r.status,
                e.job_number,
                r.organisation.name,
                codes.join("+"),
                e.address.line1,
                e.address.locality,
                e.address.postcode,
                e.dig_start_at,
                e.dig_end_at
            )
        }
        None => format!(
            "unknown event, raw message {}",
            serde_json::to_string(message).unwrap_or_default()
        ),
    }
}

/// Verify and parse every fixture in `fixtures/<dir>`, printing each
/// result; returns how many failed.
fn walk<T>(
    dir: &str,
    verify_and_parse: impl Fn(&[u8]) -> Result<T, Error>,
    show: impl Fn(&str, &T),
) -> usize {
    let mut failures = 0;
    for path in fixtures(dir) {
        let body = std::fs::read(&path).expect("fixture is readable");
        match verify_and_parse(&body) {
            Ok(parsed) => {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                show(&name, &parsed);
            }
            Err(err) => {
                failures += 1;
                println!("  ERR {}: {err}", path.display());
            }
        }
    }
    failures
}

fn main() -> ExitCode {
    let verbose = std::env::args().any(|a| a == "-v" || a == "--verbose");

    println!("SmartComply (x-smartcomply-signature: t=..,v1=..)");
    let verifier = smartcomply::Verifier::new(DEMO_SECRET).expect("demo secret is not empty");
    let mut failures = walk(
        "smartcomply",
        |body| {
            let header = smartcomply::sign(DEMO_SECRET, OffsetDateTime::now_utc(), body);
            verifier.verify_and_parse(&header, body)
        },
        |_, event| {
            // Sender text: `Display` of ids and types escapes it.
            let (ty, id) = (Escaped(event.event_type()), &event.id);
            println!("  ok  {ty:<30} {id}  {}", describe(&event.data));
            if verbose {
                println!("{event:#?}");
            }
        },
    );

    println!();
    println!("SmarterWX Sentinel (x-swx-signature: sha256=..)");
    let verifier = smarterwx::Verifier::new(DEMO_SECRET).expect("demo secret is not empty");
    failures += walk(
        "smarterwx",
        |body| verifier.verify_and_parse(smarterwx::sign(DEMO_SECRET, body), body),
        |name, batch| {
            println!("  ok  {name}: {} notification(s)", batch.len());
            for n in batch {
                let (ty, id) = (Escaped(n.event_type()), &n.uuid);
                println!("        {ty:<16} {id}  {}", describe_message(&n.message));
                if verbose {
                    println!("{n:#?}");
                }
            }
        },
    );

    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
