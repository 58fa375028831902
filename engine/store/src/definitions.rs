//! Definition versions: which (process, version) exists, with what content. A version is
//! immutable once a case runs on it; before that, a policy officer may still fix it.

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TryInsertResult,
};

use super::Definitions;
use super::conn::Conn;
use super::entity::{case, definition_version};
use super::{Registration, StoreError};
use lianban_core::definition::{Process, SourceFile};

/// A stored version of a process, for the definitions API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    /// Version number.
    pub version: u32,
    /// SHA-256 of its sources.
    pub content_hash: String,
    /// Its name.
    pub name: String,
    /// When it was last registered.
    pub loaded_at: chrono::DateTime<chrono::Utc>,
    /// Cases (of any status) that run on it.
    pub cases: u64,
    /// Of those, the cases still open (办理中): what `lianban cases migrate` could move.
    pub open: u64,
}

/// The counties a list of `county` covers: that one, or for a list of any county the county
/// of every process ever registered (sorted). Every case and task belongs to one of those: a
/// case's process is a registered version, and a row's county is its process's.
///
/// A list of any county filters on these rather than on nothing: every index a list reads in
/// order leads with the county, and a single-county installation (whose accounts have no
/// county) then reads its lists exactly as a county-scoped account does.
pub(super) async fn counties_of(
    county: Option<&str>,
    conn: Conn<'_>,
) -> Result<Vec<String>, StoreError> {
    if let Some(county) = county {
        return Ok(vec![county.to_owned()]);
    }
    let query = Query::select()
        .distinct()
        .column(definition_version::Column::ProcessId)
        .from(definition_version::Entity)
        .to_owned();
    let processes = conn
        .rows(&query, |row| Ok(row.text(0)?.unwrap_or_default()))
        .await?;
    let mut counties: Vec<String> = processes
        .iter()
        .map(|p| lianban_core::accounts::county_of(p).to_owned())
        .collect();
    counties.sort_unstable();
    counties.dedup();
    Ok(counties)
}

impl Definitions<'_> {
    /// Every stored version of a process, oldest first, with the number of cases on each.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn versions(&self, process: &str) -> Result<Vec<StoredVersion>, StoreError> {
        let rows = definition_version::Entity::find()
            .filter(definition_version::Column::ProcessId.eq(process))
            .order_by_asc(definition_version::Column::Version)
            .all(&self.store.db)
            .await?;
        let counts: Vec<(i64, i64)> = case::Entity::find()
            .select_only()
            .column(case::Column::Version)
            .column_as(Expr::col(case::Column::Id).count(), "n")
            .filter(super::cases::of_process(process))
            .group_by(case::Column::Version)
            .into_tuple()
            .all(&self.store.db)
            .await?;
        let open: Vec<(i64, i64)> = case::Entity::find()
            .select_only()
            .column(case::Column::Version)
            .column_as(Expr::col(case::Column::Id).count(), "n")
            .filter(super::cases::of_process(process))
            .filter(case::Column::Status.eq("active"))
            .group_by(case::Column::Version)
            .into_tuple()
            .all(&self.store.db)
            .await?;
        let count = |counts: &[(i64, i64)], version: i64| {
            counts
                .iter()
                .find(|(v, _)| *v == version)
                .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or_default())
        };
        rows.into_iter()
            .map(|row| {
                let cases = count(&counts, row.version);
                let open = count(&open, row.version);
                Ok(StoredVersion {
                    version: u32::try_from(row.version).map_err(|_| StoreError::Corrupt {
                        table: "definition_versions",
                        id: row.process_id.clone(),
                        column: "version",
                    })?,
                    content_hash: row.content_hash,
                    name: row.name,
                    loaded_at: row.loaded_at,
                    cases,
                    open,
                })
            })
            .collect()
    }

    /// Records a process version and its sources. New → stored; same content hash → nothing
    /// to do; different hash → replaced if no case runs on that version yet.
    ///
    /// # Errors
    /// [`StoreError::VersionChanged`] when the content changed and cases already run on the
    /// version (the policy officer must raise the version number); [`StoreError::Database`].
    pub async fn register(&self, process: &Process) -> Result<Registration, StoreError> {
        let version = i64::from(process.version);
        let row = definition_version::ActiveModel {
            process_id: Set(process.id.clone()),
            version: Set(version),
            content_hash: Set(process.content_hash.clone()),
            name: Set(process.name.clone()),
            sources: Set(serde_json::to_value(&process.sources)?),
            loaded_at: Set(chrono::Utc::now()),
        };
        let txn = self.store.begin_write().await?;
        // Insert first: when two replicas register the same new version at once, the
        // primary key lets one win and the other falls through to the comparison below.
        let inserted = definition_version::Entity::insert(row.clone())
            .on_conflict_do_nothing()
            .exec_without_returning(&*txn)
            .await?;
        if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
            txn.commit().await?;
            return Ok(Registration::Inserted);
        }
        let stored = definition_version::Entity::find_by_id((process.id.clone(), version))
            .one(&*txn)
            .await?
            .ok_or_else(|| StoreError::Corrupt {
                table: "definition_versions",
                id: format!("{}@{}", process.id, process.version),
                column: "process_id",
            })?;
        if stored.content_hash == process.content_hash {
            txn.commit().await?;
            return Ok(Registration::Unchanged);
        }
        if count_cases(&*txn, &process.id, version).await? > 0 {
            return Err(StoreError::VersionChanged {
                process: process.id.clone(),
                version: process.version,
            });
        }
        definition_version::Entity::update(row).exec(&*txn).await?;
        txn.commit().await?;
        Ok(Registration::Updated)
    }

    /// Checks, without writing, that registering `process` would be allowed: refused only
    /// when the stored content of that version differs and cases already run on it.
    ///
    /// # Errors
    /// [`StoreError::VersionChanged`], [`StoreError::Database`].
    pub async fn check(&self, process: &Process) -> Result<(), StoreError> {
        let version = i64::from(process.version);
        let stored = definition_version::Entity::find_by_id((process.id.clone(), version))
            .one(&self.store.db)
            .await?;
        match stored {
            Some(row) if row.content_hash != process.content_hash => {
                if count_cases(&self.store.db, &process.id, version).await? > 0 {
                    return Err(StoreError::VersionChanged {
                        process: process.id.clone(),
                        version: process.version,
                    });
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The content hash and source files stored for a process version, so that cases on an
    /// old version can run after the files on disk moved on.
    ///
    /// # Errors
    /// [`StoreError::Database`], or [`StoreError::Serialization`] when the stored sources
    /// do not read back.
    pub async fn sources(
        &self,
        process: &str,
        version: u32,
    ) -> Result<Option<(String, Vec<SourceFile>)>, StoreError> {
        let Some(row) =
            definition_version::Entity::find_by_id((process.to_owned(), i64::from(version)))
                .one(&self.store.db)
                .await?
        else {
            return Ok(None);
        };
        let sources = serde_json::from_value(row.sources)?;
        Ok(Some((row.content_hash, sources)))
    }

    /// How many cases (of any status) run on this process version.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn count_cases_on(&self, process: &str, version: u32) -> Result<u64, StoreError> {
        count_cases(&self.store.db, process, i64::from(version)).await
    }
}

async fn count_cases<C: ConnectionTrait>(
    db: &C,
    process: &str,
    version: i64,
) -> Result<u64, StoreError> {
    Ok(case::Entity::find()
        .filter(super::cases::of_process(process))
        .filter(case::Column::Version.eq(version))
        .count(db)
        .await?)
}
