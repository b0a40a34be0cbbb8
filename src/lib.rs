#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[macro_use]
mod wire;
mod error;
#[cfg(feature = "http")]
mod headers;
mod signature;

pub mod dedupe;
pub mod smartcomply;
pub mod smarterwx;

pub use error::{Category, Error, PayloadError};
