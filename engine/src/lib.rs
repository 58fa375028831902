//! lianban (联办): a workflow engine driven by declarative YAML process definitions.
//!
//! The stages, in the direction data flows:
//! - [`definition`] reads `processes/*.yaml` into a validated [`definition::Process`], or
//!   reports every problem at once as `file:line:col` diagnostics.
//! - [`rules`] is the sandboxed Rhai host that compiles and evaluates conditions and values.
//! - [`documents`] renders notices, letters and tables with MiniJinja.
//! - [`runtime`] is the pure state machine of a case: command in, new state and effects out.
//! - [`store`] persists cases, tasks, history and definition versions through sea-orm, each
//!   transition in one transaction; it is also the library API tests and the web layer share.
//! - [`scheduler`] owns time: the clock, deadlines and schedules.
//! - [`web`] translates HTTP into commands.
//! - [`diagram`] draws a definition's process map (附件3 流程图) as SVG, plain or for a case.
//! - [`evaluate`] answers "what do the rules say about this application" without a case.
//! - [`casebook`] runs the example cases written next to each definition (`lianban test`).
//! - [`accounts`] says who may see and do what, and hashes passwords; [`privacy`] masks
//!   ID and phone numbers in lists and logs.
//! - [`bench`] measures the engine on real databases (`lianban bench`).
//! - [`app`] wires settings, store, scheduler and web together for `main` and for tests.

pub use lianban_core::{
    accounts, definition, diagram, documents, evaluate, privacy, rules, runtime,
};
pub use lianban_store as store;

pub mod app;
pub mod bench;
pub mod casebook;
pub mod scheduler;
pub mod service;
pub mod web;
