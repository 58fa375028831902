//! Process definitions: YAML in, a validated [`Process`] out. This is the only module that
//! uses `serde_yaml`; it knows nothing of storage or HTTP.

mod decode;
mod diagnostic;
mod model;
mod raw;
mod yaml;

pub use diagnostic::Diagnostic;
pub use model::*;
mod cron_text;
mod duration;
pub use duration::ParseDurationError;
