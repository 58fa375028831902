//! sea-orm entities, one per table; private to `store`. The tables are created by the
//! `lianban-migrations` crate, so these models must follow it column for column.

// The derive macros generate `pub` items (Column, ActiveModel …) that are reachable only
// inside `store`; documenting or narrowing generated items is not possible.
#![allow(unreachable_pub, missing_docs)]

pub(super) mod absence;
pub(super) mod api_key;
pub(super) mod case;
pub(super) mod case_sequence;
pub(super) mod definition_version;
pub(super) mod document;
pub(super) mod document_sequence;
pub(super) mod history;
pub(super) mod history_head;
pub(super) mod idempotency_key;
pub(super) mod notice;
pub(super) mod outbox;
pub(super) mod push_table;
pub(super) mod schedule_run;
pub(super) mod server_key;
pub(super) mod session;
pub(super) mod task;
pub(super) mod timer;
pub(super) mod user;
