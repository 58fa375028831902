//! Acceptance tests that drive the built `lianban` binary (`env!("CARGO_BIN_EXE_lianban")`),
//! one module per command or behaviour, in one test binary of the engine package (so that
//! Cargo builds `lianban` for it) that links the engine once for all of them.
//!
//! Run one module with `cargo test -p lianban-engine --test binary users::`.

// Not a dependency: this package cannot depend on lianban-tests (which depends on it).
#[path = "../support/files.rs"]
pub mod files;

mod backup;
mod cases_migrate;
mod check_versions;
mod cli;
mod crash;
mod diagram_cli;
mod evaluate;
mod layering;
mod render;
mod replicas;
mod show;
mod shutdown;
mod users;
mod workdays;
