//! Helpers shared by the integration tests: fixtures, signature vectors,
//! (feature `redis`) a real `redis-server` and (feature `postgres`) a real
//! PostgreSQL. The store contract (`contract.rs`, which needs Tokio) is
//! included by the tests that run it.
#![allow(dead_code)]

pub mod differential;
#[cfg(feature = "axum")]
pub mod example;
#[cfg(feature = "postgres")]
pub mod inbox;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;

use std::path::PathBuf;

use serde::Deserialize;
use utility_webhooks::{Error, PayloadError, ReadError};

/// Panic unless an unreadable delivery's error says what the strict
/// reading's error says: the same class, event type, path, message and
/// position, and the same text.
pub fn assert_same_error(unreadable: &ReadError, strict: &PayloadError) {
    assert_eq!(
        (
            unreadable.category(),
            unreadable.event_type(),
            unreadable.path(),
            unreadable.message(),
            unreadable.line(),
            unreadable.column(),
        ),
        (
            strict.category(),
            strict.event_type(),
            strict.path(),
            strict.message(),
            strict.line(),
            strict.column(),
        )
    );
    assert_eq!(unreadable.to_string(), strict.to_string());
}

/// The crate's `fixtures/` folder, found from the package that runs the
/// test: the crate itself, or a check crate inside it.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("fixtures"))
        .find(|dir| dir.join("signatures").is_dir())
        .expect("the crate's fixtures/ folder")
}

/// The bytes of `fixtures/<path>`.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = fixtures_dir().join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// A SmarterWX batch of `count` small notifications of a type the model
/// does not know (so each reads, as `Unknown`), with uuids
/// `<prefix>-0` to `<prefix>-<count - 1>`.
pub fn small_batch(prefix: &str, count: usize) -> Vec<u8> {
    let batch: Vec<serde_json::Value> = (0..count)
        .map(|i| {
            serde_json::json!({
                "uuid": format!("{prefix}-{i}"),
                "event": "referral:archive",
                "timestamp": "2023-11-20T01:00:00Z",
                "message": {"id": i},
            })
        })
        .collect();
    serde_json::to_vec(&batch).unwrap()
}

/// Every `*.json` file in `fixtures/<dir>`, sorted by name, with its bytes.
pub fn fixtures_in(dir: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(fixtures_dir().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// One signature test vector from `fixtures/signatures/<vendor>.json`.
#[derive(Debug, Deserialize)]
pub struct Vector {
    pub name: String,
    pub secrets: Vec<String>,
    pub header: String,
    pub body_hex: String,
    #[serde(default)]
    pub now: Option<i64>,
    #[serde(default)]
    pub tolerance_secs: Option<u64>,
    pub expected: String,
}

impl Vector {
    /// A verifier holding the vector's secrets, in order, built with the
    /// vendor's `new` and `with_secret`.
    pub fn verifier<V>(
        &self,
        new: impl Fn(&str) -> Result<V, Error>,
        with_secret: impl Fn(V, &str) -> Result<V, Error>,
    ) -> V {
        let (first, rest) = self.secrets.split_first().expect("a vector has a secret");
        rest.iter()
            .fold(new(first).unwrap(), |v, s| with_secret(v, s).unwrap())
    }

    pub fn body(&self) -> Vec<u8> {
        hex::decode(&self.body_hex).unwrap()
    }
}

#[derive(Deserialize)]
struct VectorFile {
    vectors: Vec<Vector>,
}

/// The vectors of `fixtures/signatures/<vendor>.json`.
pub fn vectors(vendor: &str) -> Vec<Vector> {
    let file: VectorFile =
        serde_json::from_slice(&fixture(&format!("signatures/{vendor}.json"))).unwrap();
    assert!(!file.vectors.is_empty());
    file.vectors
}

/// `"ok"` or the error's kind, as the vectors spell them.
pub fn outcome<T>(result: &Result<T, Error>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => e.kind().as_str().into(),
    }
}

/// Bodies a network can send that are never valid JSON of any documented
/// shape, with a label for assertion messages.
pub fn hostile_bodies() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty", b"".to_vec()),
        ("whitespace", b"  \n\t ".to_vec()),
        ("null", b"null".to_vec()),
        ("number", b"42".to_vec()),
        ("huge number", b"1e999999".to_vec()),
        ("string", b"\"hello\"".to_vec()),
        ("true", b"true".to_vec()),
        (
            "truncated",
            b"{\"id\": \"evt_1\", \"type\": \"test.sub".to_vec(),
        ),
        ("invalid utf-8", b"{\"id\": \"\xff\xfe\"}".to_vec()),
        ("bare invalid utf-8", vec![0xff, 0xfe, 0x00, 0x80]),
        ("nested arrays", "[".repeat(100_000).into_bytes()),
        ("nested objects", "{\"a\":".repeat(100_000).into_bytes()),
        ("trailing garbage", b"{} x".to_vec()),
        ("nul byte", b"\0".to_vec()),
        ("bom", b"\xef\xbb\xbf{}".to_vec()),
        ("array of numbers", b"[1, 2, 3]".to_vec()),
    ]
}

/// A tiny deterministic generator (splitmix64), for the fault tests.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The generator of one attempt at one event: its fate depends on the
    /// seed, the key and the attempt's number only.
    pub fn for_event(seed: u64, key: &str, attempt: u64) -> Self {
        // FNV-1a over the key, mixed with the seed and the attempt.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let mut rng = SplitMix64(seed ^ hash);
        rng.0 ^= rng.next_u64() ^ attempt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        rng
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// `true` with a probability of `percent` in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The seed from `FAULT_SEED` (decimal or `0x` hex), or `default`.
pub fn fault_seed(default: u64) -> u64 {
    let Ok(text) = std::env::var("FAULT_SEED") else {
        return default;
    };
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("FAULT_SEED must be a number, not {text:?}"))
}
