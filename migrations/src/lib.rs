//! The database schema of lianban as sea-orm migrations.
pub use sea_orm_migration::prelude::*;
