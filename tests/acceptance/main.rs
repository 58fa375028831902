//! The acceptance tests of lianban, one module per subject, in one test binary so that the
//! engine is linked once for all of them (each test binary links the whole engine).
//!
//! Run one module with `cargo test -p lianban-tests --test acceptance store::`, one test
//! with its full name (`… --test acceptance store::migrations_apply_twice::sqlite`).
//!
//! Not here: the tests that drive the built `lianban` binary, the `binary` test of the
//! engine package (tests/binary/), and the log check (`tests/logs.rs`), which installs a
//! process-wide tracing subscriber and so runs in a process of its own.

mod absences;
mod api_input;
mod apikeys;
mod attacks;
mod audit;
mod authz_matrix;
mod browser;
mod case_actions;
mod case_migration;
mod control_flow;
mod dashboard;
mod deadlines;
mod definitions;
mod diagram;
mod documents;
mod duties;
mod eligibility;
mod examples;
mod explain;
mod exports;
mod form_schema;
mod fuzz_definitions;
mod headers;
mod idempotency;
mod input_limits;
mod observability;
mod openapi;
mod outbox;
mod overlays;
mod pages;
mod properties;
mod resolved;
mod rhai_abuse;
mod schedules;
mod store;
mod templates_abuse;
mod tenancy;
mod unavailable;
mod versions;
mod web;
mod year_end;
