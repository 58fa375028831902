//! Moving running cases to another version of their definition (`lianban cases migrate`,
//! `POST /api/v1/admin/cases/migrate`). The runtime plans each case
//! ([`runtime::plan_migration`]); this module reads the cases, saves each move in its own
//! transaction with the history entry, and reads a case again when a clerk changed it
//! between the read and the save. It decides nothing about where a case goes.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::{Engine, EngineError};
use lianban_core::definition::{Process, StepId, load_sources};
use lianban_core::runtime::{self, Actor, CaseId, MigrationPlan, MigrationRefusal};
use lianban_store::{Change, StoreError};

/// How often a case is read and planned again when someone changed it between the read
/// and the save; each retry needs another command to land in between, so more is rare.
const CONFLICT_RETRIES: usize = 5;

/// What to move: the cases of one process from one version to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationRequest {
    /// Process id.
    pub process: String,
    /// The version the cases run on now.
    pub from_version: u32,
    /// The version they move to.
    pub to_version: u32,
    /// Where steps the new version renamed or replaced went (old → new).
    pub mapping: BTreeMap<StepId, StepId>,
    /// Only these cases; every open case on `from_version` when empty.
    pub cases: Vec<CaseId>,
    /// Plan only: nothing is written.
    pub dry_run: bool,
}

/// What became of one case.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CaseMigration {
    /// Moved (or, in a dry run, would move) as planned.
    Moved {
        /// The plan carried out.
        plan: MigrationPlan,
        /// Whether this was a dry run (nothing written).
        dry_run: bool,
    },
    /// Already on the target version: nothing to do (a second run moves nothing twice).
    AlreadyMoved {
        /// The case.
        case: CaseId,
    },
    /// Refused: the case stays as it was.
    Refused {
        /// The case.
        case: CaseId,
        /// A stable code (`step-removed`, `branch-gone`, …).
        code: &'static str,
        /// Why, in Chinese.
        reason: String,
    },
}

impl CaseMigration {
    /// The case concerned.
    pub fn case(&self) -> CaseId {
        match self {
            CaseMigration::Moved { plan, .. } => plan.case,
            CaseMigration::AlreadyMoved { case } | CaseMigration::Refused { case, .. } => *case,
        }
    }

    fn refused(case: CaseId, refusal: &MigrationRefusal) -> Self {
        CaseMigration::Refused {
            case,
            code: refusal.code(),
            reason: refusal.to_string(),
        }
    }
}

impl Engine {
    /// The cases a request considers: those it names, else every open case of the process
    /// on `from_version`, oldest first.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn migration_cases(
        &self,
        request: &MigrationRequest,
    ) -> Result<Vec<CaseId>, EngineError> {
        if !request.cases.is_empty() {
            return Ok(request.cases.clone());
        }
        Ok(self
            .store()
            .cases()
            .open_on(&request.process, request.from_version)
            .await?)
    }

    /// Checks a request as a whole before any case: both versions exist (in the catalog
    /// or stored), they differ, and the mapping names steps they have. Returns both
    /// definitions.
    ///
    /// # Errors
    /// [`EngineError::UnknownProcess`], [`EngineError::Migration`], [`EngineError::Reload`],
    /// [`EngineError::Store`].
    pub async fn migration_versions(
        &self,
        request: &MigrationRequest,
    ) -> Result<(Arc<Process>, Arc<Process>), EngineError> {
        if request.from_version == request.to_version {
            return Err(EngineError::Migration(MigrationRefusal::SameVersion {
                version: request.to_version,
            }));
        }
        let from = self
            .process_version(&request.process, request.from_version)
            .await?;
        let to = self
            .process_version(&request.process, request.to_version)
            .await?;
        if to.is_abstract {
            return Err(EngineError::UnknownProcess {
                process: request.process.clone(),
                version: Some(request.to_version),
            });
        }
        runtime::check_mapping(&from, &to, &request.mapping).map_err(EngineError::Migration)?;
        Ok((from, to))
    }

    /// Moves (or with `dry_run` plans) every case of the request, one transaction each,
    /// calling `progress` after each case with the number done and the total. A refused
    /// case is reported and left as it was; the others still move.
    ///
    /// # Errors
    /// As [`Engine::migration_versions`] for the request as a whole (then nothing moved);
    /// [`EngineError::Store`] when the database fails (cases before it stay moved, each
    /// whole).
    pub async fn migrate_cases(
        &self,
        request: &MigrationRequest,
        actor: &Actor,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<Vec<CaseMigration>, EngineError> {
        let (_, to) = self.migration_versions(request).await?;
        if !request.dry_run {
            self.ensure_registered(&to).await?;
        }
        let cases = self.migration_cases(request).await?;
        let mut out = Vec::with_capacity(cases.len());
        for (done, case) in cases.iter().enumerate() {
            out.push(self.migrate_case(*case, request, &to, actor).await?);
            progress(done + 1, cases.len());
        }
        Ok(out)
    }

    /// Moves one case, reading and planning it again when another command changed it
    /// between the read and the save (the clerk's change stays; the move is planned on it).
    ///
    /// An unknown case is reported as refused (`not-found`).
    ///
    /// # Errors
    /// [`EngineError::Store`], [`EngineError::Reload`].
    pub async fn migrate_case(
        &self,
        case: CaseId,
        request: &MigrationRequest,
        to: &Arc<Process>,
        actor: &Actor,
    ) -> Result<CaseMigration, EngineError> {
        let record = match self.load_case(case).await {
            Err(EngineError::Store(StoreError::NotFound(_))) => {
                // A case named by id that does not exist: reported like a refusal, so the
                // other cases named still move.
                return Ok(CaseMigration::Refused {
                    case,
                    code: "not-found",
                    reason: format!("没有办件 {case}"),
                });
            }
            read => read?,
        };
        self.migrate_case_as_read(record, request, to, actor).await
    }

    /// As [`Engine::migrate_case`], starting from the case as `record` read it earlier: a
    /// command saved since makes the save a conflict, and the case is read and planned
    /// again.
    ///
    /// # Errors
    /// As [`Engine::migrate_case`].
    pub async fn migrate_case_as_read(
        &self,
        mut record: lianban_store::CaseRecord,
        request: &MigrationRequest,
        to: &Arc<Process>,
        actor: &Actor,
    ) -> Result<CaseMigration, EngineError> {
        let case = record.state.id;
        let mut conflicts = 0;
        loop {
            match self.migrate_record(record, request, to, actor).await {
                Err(EngineError::Store(StoreError::Conflict { .. }))
                    if conflicts < CONFLICT_RETRIES =>
                {
                    conflicts += 1;
                    tracing::info!(case_id = %case, "case changed while it was moved; planning again");
                    record = self.load_case(case).await?;
                }
                done => return done,
            }
        }
    }

    /// Plans and saves the move of the case as read in `record`; a case changed since is
    /// [`StoreError::Conflict`].
    async fn migrate_record(
        &self,
        record: lianban_store::CaseRecord,
        request: &MigrationRequest,
        to: &Arc<Process>,
        actor: &Actor,
    ) -> Result<CaseMigration, EngineError> {
        let state = &record.state;
        if state.process != request.process {
            let refusal = MigrationRefusal::OtherProcess {
                process: state.process.clone(),
            };
            return Ok(CaseMigration::refused(state.id, &refusal));
        }
        if state.version == to.version {
            return Ok(CaseMigration::AlreadyMoved { case: state.id });
        }
        let from = self.process_for(&record).await?;
        let now = self.now();
        let (plan, transition) =
            match runtime::plan_migration(&from, to, state, &request.mapping, now) {
                Ok(planned) => planned,
                Err(refusal) => return Ok(CaseMigration::refused(state.id, &refusal)),
            };
        if request.dry_run {
            return Ok(CaseMigration::Moved {
                plan,
                dry_run: true,
            });
        }
        let (process, actor) = (Arc::clone(to), actor.clone());
        let saved = plan.clone();
        self.write(move |unit| {
            Box::pin(async move {
                let change = Change {
                    process: &process,
                    transition: &transition,
                    actor: &actor,
                    action: "migrate",
                    at: now,
                };
                unit.save_migration(&record, &change).await?;
                Ok(())
            })
        })
        .await?;
        tracing::info!(
            case_id = %saved.case,
            from = saved.from_version,
            to = saved.to_version,
            "case moved to another version"
        );
        Ok(CaseMigration::Moved {
            plan: saved,
            dry_run: false,
        })
    }

    /// A version of a process: the catalog's when it has that version, else the one the
    /// store keeps the sources of.
    async fn process_version(&self, id: &str, version: u32) -> Result<Arc<Process>, EngineError> {
        if let Some(process) = self.catalog().get(id, version) {
            return Ok(process);
        }
        let unknown = || EngineError::UnknownProcess {
            process: id.to_owned(),
            version: Some(version),
        };
        let (_, sources) = self
            .store()
            .definitions()
            .sources(id, version)
            .await?
            .ok_or_else(unknown)?;
        let process =
            load_sources(&sources, &*self.templates()).map_err(|source| EngineError::Reload {
                process: id.to_owned(),
                version,
                source,
            })?;
        Ok(Arc::new(process))
    }
}
