//! Dev-only, never published: its tests (`tests/agreement.rs`) run the
//! crate's agreement checks with `serde_json`'s `arbitrary_precision`
//! feature turned on, as another crate in a user's build can turn it on.
//!
//! Run it alone, so that the feature reaches `utility-webhooks` here and
//! nowhere else:
//!
//! ```text
//! cargo test -p utility-webhooks-arbitrary-precision
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
