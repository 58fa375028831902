//! lianban (联办): a workflow engine driven by declarative YAML process definitions.
//!
//! This library only names the crates under `engine/` in one place, for the `lianban`
//! binary and the acceptance tests; each layer lives in its own crate, so cargo refuses an
//! import against the direction data flows (`docs/architecture.md`):
//!
//! - `lianban-core`: [`definition`], [`rules`], [`documents`], [`runtime`], [`diagram`],
//!   [`evaluate`], [`accounts`], [`case_number`] and [`privacy`]: everything that decides,
//!   with no I/O.
//! - `lianban-store`: [`store`], persistence through sea-orm on SQLite or PostgreSQL.
//! - `lianban-service`: [`service`] (the [`service::Engine`] every caller goes through),
//!   [`app`] (settings and the one builder), [`scheduler`] and [`casebook`].
//! - `lianban-web`: [`web`], the JSON API and the clerks' pages over the service.
//!
//! `lianban bench` is part of the binary, not of any library here.

pub use lianban_core::{
    accounts, case_number, definition, diagram, documents, evaluate, privacy, rules, runtime,
};
pub use lianban_service as service;
pub use lianban_service::{app, casebook, scheduler};
pub use lianban_store as store;
pub use lianban_web as web;
