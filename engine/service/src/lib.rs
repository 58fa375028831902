//! The service: the one API that web pages, the JSON API, the scheduler and the command
//! line call. A command loads the case, lets the runtime decide, carries out the effects
//! (issuing and numbering documents, timers, outbox) and hands the result to the store in
//! one write. It holds the catalog and the templates once.

mod engine;
mod firing;
mod issuing;

pub use engine::{Engine, EngineError};
