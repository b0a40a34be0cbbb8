//! Does `verify` take the same time however wrong a signature is?
//!
//! For each vendor, over one shipped fixture: the right signature, one wrong
//! in its first byte, one wrong in its last byte, and one of the wrong
//! length. The first three compute the HMAC and compare all 32 bytes in
//! constant time, so they should be indistinguishable. A wrong-length
//! signature is rejected as malformed while the header is read, before any
//! HMAC, so it is much faster: that reveals only the header's shape, which
//! the sender already knows.
//!
//! ```sh
//! cargo bench --bench timing
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use time::OffsetDateTime;
use utility_webhooks::{smartcomply, smarterwx};

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// `hex` with the digit at `at` changed, so the byte it belongs to differs.
fn flip_digit(hex: &str, at: usize) -> String {
    let mut digits = hex.to_owned().into_bytes();
    digits[at] = if digits[at] == b'0' { b'1' } else { b'0' };
    String::from_utf8(digits).unwrap()
}

/// The four headers: right, wrong first byte, wrong last byte, wrong length.
fn variants(prefix: &str, hex: &str) -> [(&'static str, String); 4] {
    [
        ("right", format!("{prefix}{hex}")),
        (
            "wrong_first_byte",
            format!("{prefix}{}", flip_digit(hex, 0)),
        ),
        (
            "wrong_last_byte",
            format!("{prefix}{}", flip_digit(hex, 63)),
        ),
        ("wrong_length", format!("{prefix}{}", &hex[..62])),
    ]
}

fn smartcomply_timing(c: &mut Criterion) {
    let secret = "whsec_timing_k7Lm9PqRsTuVwXyZ";
    let body = fixture("smartcomply/iu.exceedance_detected.json");
    let now = OffsetDateTime::from_unix_timestamp(1_777_989_600).unwrap();
    let verifier = smartcomply::Verifier::new(secret).unwrap();
    let header = smartcomply::sign(secret, now, &body);
    let (t, hex) = header.split_once(",v1=").unwrap();

    let mut g = c.benchmark_group("timing/smartcomply");
    g.throughput(Throughput::Bytes(body.len() as u64));
    for (name, header) in variants(&format!("{t},v1="), hex) {
        let expected_ok = name == "right";
        assert_eq!(verifier.verify_at(&header, &body, now).is_ok(), expected_ok);
        // `verify` is `verify_at` with the system clock; a fixed clock keeps
        // the right signature inside the window however long this runs.
        g.bench_function(name, |b| {
            b.iter(|| {
                black_box(verifier.verify_at(black_box(&header), black_box(&body), now)).is_ok()
            })
        });
    }
    g.finish();
}

fn smarterwx_timing(c: &mut Criterion) {
    let secret = "swx-timing-Gq7Lp2Vn9Rt4";
    let body = fixture("smarterwx/referral_create.json");
    let verifier = smarterwx::Verifier::new(secret).unwrap();
    let header = smarterwx::sign(secret, &body);
    let hex = header.strip_prefix("sha256=").unwrap();

    let mut g = c.benchmark_group("timing/smarterwx");
    g.throughput(Throughput::Bytes(body.len() as u64));
    for (name, header) in variants("sha256=", hex) {
        assert_eq!(verifier.verify(&header, &body).is_ok(), name == "right");
        g.bench_function(name, |b| {
            b.iter(|| black_box(verifier.verify(black_box(&header), black_box(&body))).is_ok())
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(100)
}

criterion_group! {
    name = timing;
    config = config();
    targets = smartcomply_timing, smarterwx_timing
}
criterion_main!(timing);
