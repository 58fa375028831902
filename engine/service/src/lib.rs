//! The service: the one API that web pages, the JSON API, the scheduler and the command
//! line call. A command loads the case, lets the runtime decide, carries out the effects
//! (issuing and numbering documents, timers, outbox) and hands the result to the store in
//! one write. It holds the catalog and the templates once.
//!
//! - [`Engine`]: commands and reads over cases, tasks and issued documents, and the reads
//!   and writes the web needs beside them (accounts and sessions, idempotency keys, the
//!   dashboard's figures, push tables and the outbox), one file per concern.
//! - [`records`]: the plain record types those return, so callers never name the store.
//! - [`app`]: [`app::Settings`] and [`app::App::build`], what `serve` and the tests build.
//! - [`scheduler`]: the clock, the timer worker, cron schedules and outbox delivery.
//! - [`absences`]: recording absences and substitutes, shared by the web and the command
//!   line.
//! - [`casebook`]: the example cases written next to each definition (`lianban test`).

pub mod absences;
pub mod app;
pub mod casebook;
pub mod records;
pub mod scheduler;

mod accounts;
mod calendars;
mod dashboard;
mod definitions;
mod engine;
mod firing;
mod idempotency;
mod issuing;
mod migration;
mod push;
mod reads;
mod writer;

pub use calendars::CalendarWarning;
pub use engine::{Engine, EngineError};
/// The store's error, as [`EngineError::Store`] carries it: callers match its variants
/// (e.g. `VersionChanged`) without depending on the store crate.
pub use lianban_store::{Missing, StoreError};
pub use migration::{CaseMigration, MigrationRequest};
pub use writer::WriteQueue;
