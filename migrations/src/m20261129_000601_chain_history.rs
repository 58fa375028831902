//! The case history becomes tamper-evident: every row gets `prev_hash` and `hash` (see
//! [`crate::chain`]), and `history_heads` keeps each case's latest hash and entry count, so
//! removing the last rows of a chain is detected too (a chain alone cannot tell that it was
//! cut short). Existing rows are chained in order, then triggers make `history` and
//! `history_heads` refuse UPDATE and DELETE (the heads may only move forward through an
//! UPDATE that raises the count), so the application cannot rewrite the past by mistake.
//! A database owner can still drop the triggers; `lianban audit verify` catches that.
//!
//! The heads live in their own table rather than on `cases`, so that code writing cases
//! needs no change.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};
use sea_orm_migration::{prelude::*, schema::*};

use crate::chain::{EntryFields, entry_hash};
use crate::m20261129_000002_create_cases::Cases;
use crate::m20261129_000004_create_history::History;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds only one at a time.
        for column in [Chain::PrevHash, Chain::Hash] {
            manager
                .alter_table(
                    Table::alter()
                        .table(History::Table)
                        .add_column(string_len_null(column, 64))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(HistoryHeads::Table)
                    .col(string_len(HistoryHeads::CaseId, 36).primary_key())
                    .col(big_integer(HistoryHeads::Seq))
                    .col(string_len(HistoryHeads::Hash, 64))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_history_heads_case")
                            .from(HistoryHeads::Table, HistoryHeads::CaseId)
                            .to(Cases::Table, Cases::Id),
                    )
                    .to_owned(),
            )
            .await?;
        backfill(manager).await?;
        let db = manager.get_connection();
        match db.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION lianban_history_append_only() RETURNS trigger AS $$
                     BEGIN
                       IF TG_TABLE_NAME = 'history_heads' AND TG_OP = 'UPDATE'
                          AND NEW.case_id = OLD.case_id AND NEW.seq > OLD.seq THEN
                         RETURN NEW;
                       END IF;
                       RAISE EXCEPTION 'history is append-only (% on %)', TG_OP, TG_TABLE_NAME;
                     END $$ LANGUAGE plpgsql",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON history
                     FOR EACH ROW EXECUTE FUNCTION lianban_history_append_only()",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER history_heads_forward_only BEFORE UPDATE OR DELETE
                     ON history_heads FOR EACH ROW EXECUTE FUNCTION lianban_history_append_only()",
                )
                .await?;
            }
            _ => {
                for sql in [
                    "CREATE TRIGGER history_no_update BEFORE UPDATE ON history
                     BEGIN SELECT RAISE(ABORT, 'history is append-only'); END",
                    "CREATE TRIGGER history_no_delete BEFORE DELETE ON history
                     BEGIN SELECT RAISE(ABORT, 'history is append-only'); END",
                    "CREATE TRIGGER history_heads_forward_only BEFORE UPDATE ON history_heads
                     WHEN NEW.case_id <> OLD.case_id OR NEW.seq <= OLD.seq
                     BEGIN SELECT RAISE(ABORT, 'history is append-only'); END",
                    "CREATE TRIGGER history_heads_no_delete BEFORE DELETE ON history_heads
                     BEGIN SELECT RAISE(ABORT, 'history is append-only'); END",
                ] {
                    db.execute_unprepared(sql).await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match db.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared("DROP TRIGGER IF EXISTS history_append_only ON history")
                    .await?;
                db.execute_unprepared(
                    "DROP TRIGGER IF EXISTS history_heads_forward_only ON history_heads",
                )
                .await?;
                db.execute_unprepared("DROP FUNCTION IF EXISTS lianban_history_append_only()")
                    .await?;
            }
            _ => {
                for name in [
                    "history_no_update",
                    "history_no_delete",
                    "history_heads_forward_only",
                    "history_heads_no_delete",
                ] {
                    db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {name}"))
                        .await?;
                }
            }
        }
        manager
            .drop_table(Table::drop().table(HistoryHeads::Table).to_owned())
            .await?;
        for column in [Chain::Hash, Chain::PrevHash] {
            manager
                .alter_table(
                    Table::alter()
                        .table(History::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Chains the rows written before this migration, case by case in `seq` order.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let rows = db
        .query_all(
            Query::select()
                .columns([
                    History::Id,
                    History::CaseId,
                    History::Seq,
                    History::At,
                    History::Actor,
                    History::ActorDepartment,
                    History::Action,
                    History::FromStatus,
                    History::FromSteps,
                    History::ToStatus,
                    History::ToSteps,
                    History::Events,
                    History::DataChanged,
                ])
                .from(History::Table)
                .order_by(History::CaseId, Order::Asc)
                .order_by(History::Seq, Order::Asc),
        )
        .await?;
    let txn = db.begin().await?;
    let mut head: Option<(String, i64, String)> = None;
    for row in rows {
        let id: i64 = row.try_get("", "id")?;
        let case_id: String = row.try_get("", "case_id")?;
        let seq: i64 = row.try_get("", "seq")?;
        let at: sea_orm_migration::sea_orm::prelude::DateTimeUtc = row.try_get("", "at")?;
        let actor: String = row.try_get("", "actor")?;
        let actor_department: Option<String> = row.try_get("", "actor_department")?;
        let action: String = row.try_get("", "action")?;
        let from_status: Option<String> = row.try_get("", "from_status")?;
        let from_steps: Option<String> = row.try_get("", "from_steps")?;
        let to_status: String = row.try_get("", "to_status")?;
        let to_steps: String = row.try_get("", "to_steps")?;
        let events: serde_json::Value = row.try_get("", "events")?;
        let data_changed: serde_json::Value = row.try_get("", "data_changed")?;
        let prev = match head.take() {
            Some((case, _, hash)) if case == case_id => Some(hash),
            Some(done) => {
                write_head(&txn, &done).await?;
                None
            }
            None => None,
        };
        let hash = entry_hash(
            &EntryFields {
                case_id: &case_id,
                seq,
                at_micros: at.timestamp_micros(),
                actor: &actor,
                actor_department: actor_department.as_deref(),
                action: &action,
                from_status: from_status.as_deref(),
                from_steps: from_steps.as_deref(),
                to_status: &to_status,
                to_steps: &to_steps,
                events: &events,
                on_behalf_of: None,
                data_changed: &data_changed,
            },
            prev.as_deref(),
        );
        txn.execute(
            Query::update()
                .table(History::Table)
                .value(Chain::PrevHash, prev)
                .value(Chain::Hash, hash.clone())
                .and_where(Expr::col(History::Id).eq(id)),
        )
        .await?;
        head = Some((case_id, seq, hash));
    }
    if let Some(done) = head {
        write_head(&txn, &done).await?;
    }
    txn.commit().await
}

async fn write_head(
    txn: &impl ConnectionTrait,
    (case_id, seq, hash): &(String, i64, String),
) -> Result<(), DbErr> {
    txn.execute(
        Query::insert()
            .into_table(HistoryHeads::Table)
            .columns([HistoryHeads::CaseId, HistoryHeads::Seq, HistoryHeads::Hash])
            .values_panic([case_id.clone().into(), (*seq).into(), hash.clone().into()]),
    )
    .await?;
    Ok(())
}

#[derive(DeriveIden, Clone, Copy)]
enum Chain {
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
pub(crate) enum HistoryHeads {
    Table,
    CaseId,
    Seq,
    Hash,
}
