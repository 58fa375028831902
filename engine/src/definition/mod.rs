//! Process definitions: YAML in, a validated [`Process`] out. This is the only module that
//! uses `serde_yaml`; it knows nothing of storage or HTTP.

mod catalog_stub; // STUB: replaced at merge
mod model;

pub use catalog_stub::{Catalog, LoadError, Templates, load_sources}; // STUB: replaced at merge
pub use model::*;
