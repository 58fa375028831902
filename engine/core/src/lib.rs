//! lianban's core: everything that decides, and nothing that waits on I/O.
//!
//! The stages, in the direction data flows:
//! - [`privacy`] masks ID, phone and card numbers in free text (a leaf: it knows no process).
//! - [`rules`] is the sandboxed Rhai host that compiles and evaluates conditions and values.
//! - [`definition`] reads `processes/*.yaml` into a validated [`definition::Process`], or
//!   reports every problem at once as `file:line:col` diagnostics. It checks template names
//!   through [`definition::TemplateCheck`], which [`documents::Templates`] implements, so it
//!   does not depend on the renderer.
//! - [`runtime`] is the pure state machine of a case: command in, new state and effects out.
//! - [`diagram`] draws a definition's process map (附件3 流程图) as SVG, plain or for a case.
//! - [`documents`] renders notices, letters and tables with MiniJinja.
//! - [`evaluate`] answers "what do the rules say about this application" without a case.
//! - [`accounts`] says who may see and do what, and hashes passwords.
//! - [`case_number`] writes and reads a case's readable number (阳城退休〔2026〕0012).
//!
//! No module here reads the clock, the network or a database: callers pass `now` and the
//! data, and carry out the effects the runtime returns.

pub mod accounts;
pub mod case_number;
pub mod definition;
pub mod diagram;
pub mod documents;
pub mod evaluate;
pub mod privacy;
pub mod rules;
pub mod runtime;
