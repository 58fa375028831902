//! The service: the one API that web pages, the JSON API, the scheduler and the command
//! line call. A command loads the case, lets the runtime decide, carries out the effects
//! (issuing and numbering documents, timers, outbox) and hands the result to the store in
//! one write. It holds the catalog and the templates once.
//!
//! - [`Engine`]: commands and reads over cases, tasks and issued documents.
//! - [`app`]: [`app::Settings`] and [`app::App::build`], what `serve` and the tests build.
//! - [`scheduler`]: the clock, the timer worker, cron schedules and outbox delivery.
//! - [`casebook`]: the example cases written next to each definition (`lianban test`).

pub mod app;
pub mod casebook;
pub mod scheduler;

mod engine;
mod firing;
mod issuing;

pub use engine::{Engine, EngineError};
