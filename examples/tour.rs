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
use utility_webhooks::smartcomply::{self, EventData};

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
            i.inspection_type, i.inspection_id, i.result, i.completed_at
        ),
        EventData::ReportCertified(r) => format!(
            "{} {} for {} certified at {}",
            r.report_type, r.report_id, r.period, r.certified_at
        ),
        EventData::PartnerApproved(p) => {
            format!(
                "{} partner {} approved at {}",
                p.integration_type, p.partner_id, p.approved_at
            )
        }
        EventData::PartnerApplicationSubmitted(p) => format!(
            "{} partner {} applied at {}",
            p.integration_type, p.partner_id, p.submitted_at
        ),
        EventData::WebhookTest(t) => format!("test event sent at {}", t.sent_at),
        EventData::Unknown(u) => format!("unknown type, raw data {}", u.data),
        other => format!("{other:?}"),
    }
}

fn main() -> ExitCode {
    let verbose = std::env::args().any(|a| a == "-v" || a == "--verbose");
    let mut failures = 0;

    println!("SmartComply (x-smartcomply-signature: t=..,v1=..)");
    let verifier = smartcomply::Verifier::new(DEMO_SECRET).expect("demo secret is not empty");
    for path in fixtures("smartcomply") {
        let body = std::fs::read(&path).expect("fixture is readable");
        let header = smartcomply::sign(DEMO_SECRET, OffsetDateTime::now_utc(), &body);
        match verifier.verify_and_parse(&header, &body) {
            Ok(event) => {
                println!(
                    "  ok  {:<30} {}  {}",
                    event.event_type(),
                    event.id,
                    describe(&event.data)
                );
                if verbose {
                    println!("{event:#?}");
                }
            }
            Err(err) => {
                failures += 1;
                println!("  ERR {}: {err}", path.display());
            }
        }
    }

    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
