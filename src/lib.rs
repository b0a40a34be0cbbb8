#![doc = "Verify and parse SmartComply and SmarterWX Sentinel webhooks."]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[macro_use]
mod wire;
mod error;
mod signature;

pub mod smartcomply;

pub use error::{Category, Error, PayloadError};
