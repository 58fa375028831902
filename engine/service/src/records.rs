//! The plain record types the service's callers read and fill in: rows as the store returns
//! them (a case, a task, a document, a session…) and the queries that select them. They are
//! data only, so the web and the command line take them from here and never name the store
//! crate; the service decides which of them to hand out, through [`crate::Engine`].

pub use lianban_store::{
    ApiKeyRecord, CaseQuery, CaseRecord, CaseScope, CaseSummary, ClosedTask, DepartmentLoad,
    DocumentId, DocumentRecord, HistoryEntry, KeyClaim, KeyUse, NoticeRecord, OutboxMessage,
    OutboxStatus, PushTableRecord, PushTableSummary, SessionRecord, StepCount, StoredAnswer,
    StoredVersion, SupplementCounts, TaskCounts, TaskQuery, TaskRecord,
};
