//! Any bytes to the fast JSON reader and to `serde_json`, for every type the
//! crate reads whole (`serde_json::Value`, SmartComply events, SmarterWX
//! batches).
//!
//! Invariant: whenever the fast reader produces a value, `serde_json`
//! produces an identical one (compared by `Debug`, which shows every field
//! and floats exactly). Where it gives up, `serde_json` decides, so giving
//! up is always allowed.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    utility_webhooks::fuzzing::fast_reader_agrees(body);
});
