//! Consistent copies of a SQLite database while the service runs, and their restore.
//!
//! `VACUUM INTO` writes a snapshot of one read transaction: writers carry on (WAL), and
//! the copy is a complete, compact database file of its own (no `-wal` file to carry).

use std::path::Path;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

use super::Admin;
use super::StoreError;

/// Why a backup or restore was refused or failed; nothing was overwritten.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The database is not SQLite (PostgreSQL has its own tools: see docs/operations.md).
    #[error(
        "只有 SQLite 数据库可以用 lianban backup 备份；PostgreSQL 请用 pg_dump（见 docs/operations.md）"
    )]
    NotSqlite,
    /// The target file exists.
    #[error("目标文件 {0} 已存在，不覆盖")]
    TargetExists(String),
    /// The restore target holds data and `--force` was not given.
    #[error("目标数据库 {0} 不是空的；确认要覆盖请加 --force（请先停止使用它的服务）")]
    TargetNotEmpty(String),
    /// The backup file is missing.
    #[error("备份文件 {0} 不存在")]
    Missing(String),
    /// The backup file fails `PRAGMA integrity_check`.
    #[error("备份文件 {path} 未通过完整性检查：{report}")]
    Damaged {
        /// The file.
        path: String,
        /// What SQLite reported.
        report: String,
    },
    /// A path is not valid UTF-8 (SQLite's SQL needs it as text).
    #[error("路径 {0} 含有无法识别的字符")]
    Path(String),
    /// The old target could not be removed.
    #[error("无法删除旧的目标文件 {path}")]
    Remove {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for BackupError {
    fn from(e: sea_orm::DbErr) -> Self {
        BackupError::Store(StoreError::Database(e))
    }
}

impl Admin<'_> {
    /// Writes a consistent copy of this SQLite database to `to`, a file that must not exist
    /// yet. Safe while the service writes.
    ///
    /// # Errors
    /// [`BackupError::NotSqlite`], [`BackupError::TargetExists`], or a database error.
    pub async fn backup_to(&self, to: &Path) -> Result<(), BackupError> {
        if !self.store.is_sqlite() {
            return Err(BackupError::NotSqlite);
        }
        if to.exists() {
            return Err(BackupError::TargetExists(to.display().to_string()));
        }
        vacuum_into(&self.store.db, to).await
    }
}

/// Restores the backup file `from` into the SQLite file `to`: checks the backup's integrity
/// first, and refuses to replace a non-empty `to` unless `force`.
///
/// # Errors
/// A [`BackupError`]; the target is untouched unless the check passed and it was empty or
/// `force` was given.
pub async fn restore(from: &Path, to: &Path, force: bool) -> Result<(), BackupError> {
    if !from.is_file() {
        return Err(BackupError::Missing(from.display().to_string()));
    }
    let damaged = |e: &dyn std::fmt::Display| BackupError::Damaged {
        path: from.display().to_string(),
        report: format!("无法作为 SQLite 数据库读取（{e}）"),
    };
    // A file that is no database at all fails to open or fails the check's query.
    let source = Database::connect(format!("sqlite://{}?mode=ro", utf8(from)?))
        .await
        .map_err(|e| damaged(&e))?;
    let report = match integrity_check(&source).await {
        Ok(report) => report,
        Err(e) => {
            source.close().await?;
            return Err(damaged(&e));
        }
    };
    if report != "ok" {
        source.close().await?;
        return Err(BackupError::Damaged {
            path: from.display().to_string(),
            report,
        });
    }
    let occupied = std::fs::metadata(to).is_ok_and(|m| m.len() > 0);
    if occupied && !force {
        source.close().await?;
        return Err(BackupError::TargetNotEmpty(to.display().to_string()));
    }
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", to.display());
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(BackupError::Remove { path, source }),
        }
    }
    let result = vacuum_into(&source, to).await;
    source.close().await?;
    result
}

/// `PRAGMA integrity_check` of a SQLite database: `ok`, or SQLite's list of problems.
async fn integrity_check(db: &DatabaseConnection) -> Result<String, BackupError> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await?;
    let lines = rows
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(lines.join("; "))
}

async fn vacuum_into(db: &DatabaseConnection, to: &Path) -> Result<(), BackupError> {
    // The file name is SQL text here: quote it as a string literal.
    let target = utf8(to)?.replace('\'', "''");
    db.execute_raw(Statement::from_string(
        DbBackend::Sqlite,
        format!("VACUUM INTO '{target}'"),
    ))
    .await?;
    Ok(())
}

fn utf8(path: &Path) -> Result<&str, BackupError> {
    path.to_str()
        .ok_or_else(|| BackupError::Path(path.display().to_string()))
}
