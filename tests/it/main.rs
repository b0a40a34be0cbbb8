//! The integration tests, in one binary: one link instead of one per
//! file. Each module is a former test file; the helpers they share are in
//! `common`. Two tests stay binaries of their own: `fork_tokens` forks
//! (safe only with no other test running) and `run_memory` measures the
//! process's memory.

mod common;
#[path = "common/contract.rs"]
mod contract;
/// The receiver the example runs, driven over HTTP by several tests.
#[cfg(feature = "axum")]
use utility_webhooks_receiver as receiver;

mod axum_minimal;
mod axum_postgres;
mod axum_receiver;
mod console;
mod console_browser;
mod delivery_faults;
mod drift;
mod exactly_once;
mod examples_docs;
mod extractor;
/// The recipe `PostgresStore`'s docs show, run by `postgres_store`.
#[cfg(feature = "postgres")]
mod handler_recipe;
mod inbox;
mod inbox_process;
mod postgres_store;
mod properties;
mod redis_cluster;
mod redis_store;
mod regressions;
mod secrets;
mod send;
mod sizes;
mod smartcomply;
mod smarterwx;
mod store_contract;
mod testing;
mod tracing;
