#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[macro_use]
mod wire;
mod error;
#[cfg(feature = "http")]
mod headers;
mod signature;

pub mod idempotency;
pub mod smartcomply;
pub mod smarterwx;

pub use error::{Category, Error, PayloadError};

/// Checks run by the fuzz targets in `fuzz/`; compiled only by `cargo fuzz`
/// (which sets `--cfg fuzzing`), never part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// Panic unless the fast JSON reader agrees with `serde_json` on
    /// `body`, for every type the crate reads whole.
    pub fn fast_reader_agrees(body: &[u8]) {
        crate::wire::assert_agrees::<serde_json::Value>(body);
        crate::wire::assert_agrees::<crate::smartcomply::Event>(body);
        crate::wire::assert_agrees::<crate::smarterwx::Batch>(body);
        crate::wire::assert_agrees::<
            crate::smarterwx::Batch<
                Result<crate::smarterwx::Notification, crate::smarterwx::UnreadableNotification>,
            >,
        >(body);
    }
}
