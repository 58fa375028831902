//! [`Engine`]: the library API that tests and the web layer share. Each command loads the
//! case, finds the exact definition version it runs on, lets the runtime decide, and saves
//! the transition with a compare-and-set on the revision it loaded.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use serde_json::{Map, Value};
use uuid::Uuid;

use futures::future::BoxFuture;

use super::issuing::{self, Completion};
use super::writer::{WriteQueue, Writer};
use crate::scheduler::Clock;
use lianban_core::accounts::{AbsenceError, Principal, ReassignRefusal, Refusal};
use lianban_core::case_number::CaseNumber;
use lianban_core::definition::{Catalog, LoadError, Process, load_sources};
use lianban_core::documents::{RenderError, Templates};
use lianban_core::runtime::{self, Actor, CaseId, Command, RuntimeError, TaskId, Transition};
use lianban_store::{
    CaseRecord, Change, HistoryEntry, Missing, Store, StoreError, TaskQuery, TaskRecord, Unit,
};

/// How often a command is decided again after the engine itself changed the case under it
/// ([`Engine::apply`]); each needs a notice or recount to land in between, so more is rare.
const SYSTEM_CHANGE_RETRIES: usize = 3;

/// How many times a command runs when the database fails it to break a deadlock between
/// writer lanes (see [`StoreError::is_transient`]).
const TRANSIENT_RETRIES: usize = 3;

/// Why a command failed. Nothing was written when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The runtime refused the command.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The process (or this version of it) is not loaded and not stored.
    #[error("没有流程 {process}{}", version.map(|v| format!(" 第 {v} 版")).unwrap_or_default())]
    UnknownProcess {
        /// Process id.
        process: String,
        /// Version, when a specific one was needed.
        version: Option<u32>,
    },
    /// The stored sources of an old version no longer load (e.g. the loader got stricter).
    #[error("流程 {process} 第 {version} 版无法从保存的源文件重新加载")]
    Reload {
        /// Process id.
        process: String,
        /// Version.
        version: u32,
        /// The loader's diagnostics.
        #[source]
        source: LoadError,
    },
    /// A document the command issues could not be prepared or rendered; nothing was
    /// written.
    #[error("文书无法生成，本次操作未保存：{0}")]
    Document(#[source] RenderError),
    /// The person may not start or withdraw this case ([`Principal::may_start`],
    /// [`Principal::may_withdraw`]).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// An absence may not be recorded or ended (bad days, a substitute of another
    /// department, someone else's absence).
    #[error(transparent)]
    Absence(AbsenceError),
    /// A supervisor's reassignment was refused (no reason, the person is away or of
    /// another department).
    #[error(transparent)]
    Reassign(ReassignRefusal),
    /// A move of cases to another version was refused as a whole (same version, a
    /// mapping naming steps the versions lack); nothing moved.
    #[error(transparent)]
    Migration(lianban_core::runtime::MigrationRefusal),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// Too many commands wait for the database's writer (a slow disk): this one found no
    /// place in the queue within the wait and was not run. Nothing was written; a retry is
    /// safe.
    #[error("系统繁忙，待写入的操作过多，请稍后重试")]
    Overloaded,
    /// The writer stopped (the service is shutting down); the command may not have run.
    #[error("服务正在停止，请稍后重试")]
    WriterStopped,
    /// The command's writes panicked (a bug); they were rolled back.
    #[error("内部错误，本次操作未保存")]
    Panicked,
}

impl EngineError {
    /// A stable code for the error, beside the Chinese message: the runtime's and the
    /// store's codes pass through, so a conflict is `conflict` wherever it was found.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Runtime(e) => e.code(),
            EngineError::UnknownProcess { .. } => "unknown-process",
            EngineError::Reload { .. } => "reload",
            EngineError::Document(_) => "document",
            EngineError::Refused(e) => e.code(),
            EngineError::Absence(e) => e.code(),
            EngineError::Reassign(e) => e.code(),
            EngineError::Migration(e) => e.code(),
            EngineError::Store(e) => e.code(),
            EngineError::Overloaded => "overloaded",
            EngineError::WriterStopped => "unavailable",
            EngineError::Panicked => "internal",
        }
    }
}

impl From<StoreError> for EngineError {
    fn from(error: StoreError) -> Self {
        EngineError::Store(error)
    }
}

/// The workflow engine over a store: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// The one writer of commands on `store`: group commit.
    writer: Writer,
    catalog: RwLock<Arc<Catalog>>,
    /// Swapped together with the catalog on reload: documents render with the templates
    /// the definitions in force were checked against.
    templates: RwLock<Arc<Templates>>,
    clock: Arc<dyn Clock>,
    /// Old versions rebuilt from stored sources, with their content hash.
    reloaded: Mutex<HashMap<(String, u32), Arc<Process>>>,
    /// (process, version, hash) known to be registered, to skip a write per start.
    registered: Mutex<HashSet<(String, u32, String)>>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over `store`, running the processes of `catalog`.
    pub fn new(
        store: Store,
        catalog: Catalog,
        templates: Arc<Templates>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Engine::with_write_queue(store, catalog, templates, clock, WriteQueue::default())
    }

    /// Like [`Engine::new`], with the queue of commands waiting for the database's writer
    /// bounded by `queue`.
    pub fn with_write_queue(
        store: Store,
        catalog: Catalog,
        templates: Arc<Templates>,
        clock: Arc<dyn Clock>,
        queue: WriteQueue,
    ) -> Self {
        Engine {
            inner: Arc::new(Inner {
                writer: Writer::new(store.clone(), queue),
                store,
                catalog: RwLock::new(Arc::new(catalog)),
                templates: RwLock::new(templates),
                clock,
                reloaded: Mutex::default(),
                registered: Mutex::default(),
            }),
        }
    }

    /// The current time of the engine's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    /// The store underneath, for the service's own modules and for tests that set up or
    /// inspect data (public only because those tests live outside this crate). The web
    /// never calls it: its crate does not depend on the store, so every read and write it
    /// makes is a method of `Engine`.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The catalog new cases start from.
    pub fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(
            &self
                .inner
                .catalog
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Replaces the catalog (after the definitions on disk were reloaded). Running cases keep
    /// their version: they are matched by content hash, not by "latest". Old versions
    /// rebuilt from stored sources are forgotten, so they are rebuilt with the calendars
    /// now on disk (a calendar is not part of a version: a year added applies to them too).
    pub fn set_catalog(&self, catalog: Catalog) {
        *self
            .inner
            .catalog
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(catalog);
        self.reloaded().clear();
    }

    /// The templates documents render with.
    pub fn templates(&self) -> Arc<Templates> {
        Arc::clone(
            &self
                .inner
                .templates
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Replaces the templates (after `templates/` was reloaded with the definitions).
    pub fn set_templates(&self, templates: Arc<Templates>) {
        *self
            .inner
            .templates
            .write()
            .unwrap_or_else(PoisonError::into_inner) = templates;
    }

    /// Starts a case on the latest version of a process.
    ///
    /// # Errors
    /// [`EngineError::UnknownProcess`], [`EngineError::Runtime`] (a rule failed),
    /// [`EngineError::Store`] (including `VersionChanged` when the loaded content differs
    /// from a version that cases already run on).
    pub async fn start_case(
        &self,
        process_id: &str,
        form: Map<String, Value>,
        materials: Vec<String>,
        actor: &Actor,
    ) -> Result<CaseId, EngineError> {
        let process =
            self.catalog()
                .latest(process_id)
                .ok_or_else(|| EngineError::UnknownProcess {
                    process: process_id.to_owned(),
                    version: None,
                })?;
        self.ensure_registered(&process).await?;
        // v7: ids sort by creation time, which keeps the primary-key index append-mostly.
        let id = CaseId(Uuid::now_v7());
        let now = self.inner.clock.now();
        let title = process.case_title(&form);
        let transition = runtime::start(&process, id, form, materials, actor, now)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .insert_started(&process, transition.clone(), title.clone(), actor, now)
                .await
            {
                // The database failed this start to break a deadlock with another writer
                // lane (both drawing case numbers); nothing of it was written.
                Err(EngineError::Store(e)) if e.is_transient() && attempt < TRANSIENT_RETRIES => {
                    tracing::debug!(case = %id, attempt, "start retried after a deadlock");
                }
                done => return done.map(|()| id),
            }
        }
    }

    /// Writes a started case, drawing its number in the same unit.
    async fn insert_started(
        &self,
        process: &Arc<Process>,
        mut transition: Transition,
        title: Option<String>,
        actor: &Actor,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), EngineError> {
        let (process, actor) = (Arc::clone(process), actor.clone());
        self.write(move |unit| {
            Box::pin(async move {
                // The number is drawn in the unit that stores the case: a start that fails
                // gives it back, so numbers stay gap-free per prefix and year.
                if let Some(prefix) = &process.case_prefix {
                    let year = CaseNumber::year_of(now);
                    let seq = unit.next_case_number(prefix, year).await?;
                    transition.state.number = Some(CaseNumber::new(prefix, year, seq));
                }
                let change = Change {
                    process: &process,
                    transition: &transition,
                    actor: &actor,
                    action: "start",
                    at: now,
                };
                unit.insert_case(&change, title.as_deref()).await?;
                Ok(())
            })
        })
        .await
    }

    /// Starts a case for a signed-in person (a clerk at the window, a department's system
    /// with its key): the latest version of the process, if [`Principal::may_start`] lets
    /// them. The JSON API and the intake page both start cases through here.
    ///
    /// # Errors
    /// [`EngineError::Refused`] (nothing is written), then as [`Engine::start_case`].
    pub async fn start_case_for(
        &self,
        principal: &Principal,
        process_id: &str,
        form: Map<String, Value>,
        materials: Vec<String>,
    ) -> Result<CaseId, EngineError> {
        let process =
            self.catalog()
                .latest(process_id)
                .ok_or_else(|| EngineError::UnknownProcess {
                    process: process_id.to_owned(),
                    version: None,
                })?;
        principal.may_start(&process)?;
        self.start_case(process_id, form, materials, &principal.actor())
            .await
    }

    /// Tasks matching the query (a clerk's inbox).
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn list_tasks(&self, query: &TaskQuery) -> Result<Vec<TaskRecord>, EngineError> {
        Ok(self.inner.store.reads().inbox(query).await?)
    }

    /// Takes a task.
    ///
    /// # Errors
    /// [`EngineError::Runtime`]; [`EngineError::Store`] with [`StoreError::NotFound`] or
    /// [`StoreError::Conflict`].
    pub async fn claim(&self, task: TaskId, actor: &Actor) -> Result<Transition, EngineError> {
        self.on_task(task, actor, Command::Claim { task }, "claim")
            .await
    }

    /// Gives a claimed task back to its role.
    ///
    /// # Errors
    /// As [`Engine::claim`].
    pub async fn unclaim(&self, task: TaskId, actor: &Actor) -> Result<Transition, EngineError> {
        self.on_task(task, actor, Command::Unclaim { task }, "unclaim")
            .await
    }

    /// Hands a task to a user, or back to its role when `to` is `None`.
    ///
    /// # Errors
    /// As [`Engine::claim`].
    pub async fn reassign(
        &self,
        task: TaskId,
        to: Option<String>,
        actor: &Actor,
    ) -> Result<Transition, EngineError> {
        self.reassign_with_reason(task, to, None, actor).await
    }

    /// As [`Engine::reassign`], with the reason the history keeps (a supervisor's 改派;
    /// [`Engine::reassign_for`] checks who may).
    ///
    /// # Errors
    /// As [`Engine::claim`].
    pub async fn reassign_with_reason(
        &self,
        task: TaskId,
        to: Option<String>,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<Transition, EngineError> {
        let command = Command::Reassign { task, to, reason };
        self.on_task(task, actor, command, "reassign").await
    }

    /// Finishes a task with an outcome. When two clerks complete the same task at once,
    /// exactly one wins; the other gets [`StoreError::Conflict`] (in [`EngineError::Store`]).
    ///
    /// # Errors
    /// As [`Engine::claim`].
    pub async fn complete(
        &self,
        task: TaskId,
        actor: &Actor,
        outcome: &str,
        data: Map<String, Value>,
        reason: Option<String>,
    ) -> Result<Transition, EngineError> {
        let command = Command::Complete {
            task,
            outcome: outcome.to_owned(),
            data,
            reason,
        };
        self.on_task(task, actor, command, "complete").await
    }

    /// Delivers an external event (e.g. the applicant supplied materials).
    ///
    /// # Errors
    /// [`EngineError::Runtime`]; [`EngineError::Store`] with [`StoreError::NotFound`] or
    /// [`StoreError::Conflict`].
    pub async fn deliver(
        &self,
        case: CaseId,
        event: &str,
        data: Map<String, Value>,
        materials: Vec<String>,
        actor: &Actor,
    ) -> Result<Transition, EngineError> {
        let command = Command::Deliver {
            event: event.to_owned(),
            data,
            materials,
        };
        self.run(case, actor, command, "deliver").await
    }

    /// As [`Engine::deliver`], for a person: refused unless their department holds the
    /// case now or they are a supervisor ([`Principal::may_deliver`]).
    ///
    /// # Errors
    /// [`EngineError::Refused`], and as [`Engine::deliver`].
    pub async fn deliver_for(
        &self,
        case: CaseId,
        event: &str,
        data: Map<String, Value>,
        materials: Vec<String>,
        principal: &Principal,
    ) -> Result<Transition, EngineError> {
        let record = self.load_case(case).await?;
        let process = self.process_for(&record).await?;
        principal.may_deliver(&process, &record.state)?;
        let command = Command::Deliver {
            event: event.to_owned(),
            data,
            materials,
        };
        self.apply(record, &principal.actor(), command, "deliver")
            .await
    }

    /// Cancels a case (撤件).
    ///
    /// # Errors
    /// As [`Engine::deliver`].
    pub async fn cancel(
        &self,
        case: CaseId,
        reason: &str,
        actor: &Actor,
    ) -> Result<Transition, EngineError> {
        self.run(
            case,
            actor,
            Command::Cancel {
                reason: reason.to_owned(),
            },
            "cancel",
        )
        .await
    }

    /// Withdraws a case (撤件) for a signed-in person, if [`Principal::may_withdraw`] lets
    /// them on the case as loaded: the rule is judged on the same read the command is
    /// decided and saved on. The JSON API and the case page both withdraw through here.
    ///
    /// # Errors
    /// [`EngineError::Refused`] (nothing is written), then as [`Engine::cancel`].
    pub async fn cancel_for(
        &self,
        case: CaseId,
        reason: &str,
        principal: &Principal,
    ) -> Result<Transition, EngineError> {
        let record = self.load_case(case).await?;
        let process = self.process_for(&record).await?;
        principal.may_withdraw(&process, &record.state)?;
        let command = Command::Cancel {
            reason: reason.to_owned(),
        };
        self.apply(record, &principal.actor(), command, "cancel")
            .await
    }

    /// The stored case.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn get_case(&self, case: CaseId) -> Result<Option<CaseRecord>, EngineError> {
        Ok(self.inner.store.cases().get(case).await?)
    }

    /// The case's timeline.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn history(&self, case: CaseId) -> Result<Vec<HistoryEntry>, EngineError> {
        Ok(self.inner.store.cases().history(case).await?)
    }

    /// The stored case a command runs on; [`Missing::Case`] when there is none.
    pub(super) async fn load_case(&self, case: CaseId) -> Result<CaseRecord, EngineError> {
        Ok(self
            .inner
            .store
            .cases()
            .get(case)
            .await?
            .ok_or(StoreError::NotFound(Missing::Case(case)))?)
    }

    async fn on_task(
        &self,
        task: TaskId,
        actor: &Actor,
        command: Command,
        action: &str,
    ) -> Result<Transition, EngineError> {
        let record = self
            .inner
            .store
            .cases()
            .of_task(task)
            .await?
            .ok_or(StoreError::NotFound(Missing::Task(task)))?;
        self.apply(record, actor, command, action).await
    }

    /// Load, decide, compare-and-set: the one path every command on a case takes.
    async fn run(
        &self,
        case: CaseId,
        actor: &Actor,
        command: Command,
        action: &str,
    ) -> Result<Transition, EngineError> {
        let record = self.load_case(case).await?;
        self.apply(record, actor, command, action).await
    }

    /// Decides a command on the case as read and saves it if the case is still at the
    /// revision read.
    ///
    /// When the case changed meanwhile only by the engine itself, without moving it (a
    /// deadline's warning or overdue notice fired, deadlines were counted again), the
    /// command is decided again on the case as it is now: the person asked for something
    /// that change does not touch, and a 409 would only make them press again. Any other
    /// change (a person's command, a step moved) is a conflict as before.
    async fn apply(
        &self,
        record: CaseRecord,
        actor: &Actor,
        command: Command,
        action: &str,
    ) -> Result<Transition, EngineError> {
        // Shared with the writer's closure rather than copied for it: a case's state is the
        // largest thing a command carries, and a retry needs the case as read.
        let mut record = Arc::new(record);
        for _ in 0..SYSTEM_CHANGE_RETRIES {
            match self
                .apply_once(Arc::clone(&record), actor, command.clone(), action)
                .await
            {
                Err(EngineError::Store(StoreError::Conflict { case })) => {
                    match self.moved_only_by_system(&record).await? {
                        Some(fresh) => record = Arc::new(fresh),
                        None => return Err(StoreError::Conflict { case }.into()),
                    }
                }
                // Broken by the database out of a deadlock with another writer lane (both
                // drawing document numbers): nothing was written, the case is as read.
                Err(EngineError::Store(e)) if e.is_transient() => {
                    tracing::debug!(case = %record.state.id, "command retried after a deadlock");
                }
                done => return done,
            }
        }
        self.apply_once(record, actor, command, action).await
    }

    /// The case as stored now, if every change since `record` was the engine's own and left
    /// the case where it was (same status and steps); `None` otherwise.
    async fn moved_only_by_system(
        &self,
        record: &CaseRecord,
    ) -> Result<Option<CaseRecord>, EngineError> {
        let id = record.state.id;
        let Some(fresh) = self.inner.store.cases().get(id).await? else {
            return Ok(None);
        };
        let since = record.chain_head.as_ref().map_or(0, |h| h.seq());
        let system = Actor::system();
        let history = self.inner.store.cases().history(id).await?;
        let only_system = history.iter().filter(|e| e.seq > since).all(|e| {
            e.action == "view"
                || (e.actor.user == system.user
                    && e.from_status.as_deref() == Some(e.to_status.as_str())
                    && e.from_steps == e.to_steps)
        });
        Ok(only_system.then_some(fresh))
    }

    async fn apply_once(
        &self,
        record: Arc<CaseRecord>,
        actor: &Actor,
        command: Command,
        action: &str,
    ) -> Result<Transition, EngineError> {
        let process = self.process_for(&record).await?;
        let now = self.inner.clock.now();
        let completion = Completion::of(&command);
        let transition = runtime::apply(&process, &record.state, actor, command, now)?;
        let clerk = self.clerk_name(actor, &transition).await?;
        let mut documents =
            issuing::prepare(&process, completion, &transition, actor, &clerk, now)?;
        if !documents.is_empty() {
            // Papers that list the case's refusals (the 办结通知书) name their notices, which
            // earlier transitions stored; read only when this one issues something.
            let issued = self.store().documents().list(record.state.id).await?;
            let refusals = issuing::refusals(&process, &transition.state, &issued);
            issuing::set_refusals(&mut documents, &refusals);
        }
        // The writes are built here, beside the writer rather than in it (see `Prepared`).
        let prepared = self.store().cases().prepare(
            &record,
            &Change {
                process: &process,
                transition: &transition,
                actor,
                action,
                at: now,
            },
        )?;
        let (actor, action, templates) = (actor.clone(), action.to_owned(), self.templates());
        self.write(move |unit| {
            Box::pin(async move {
                let change = Change {
                    process: &process,
                    transition: &transition,
                    actor: &actor,
                    action: &action,
                    at: now,
                };
                unit.save_prepared(&record, &change, None, prepared).await?;
                issuing::issue(unit, record.state.id, &documents, &templates).await?;
                Ok(transition)
            })
        })
        .await
    }

    /// Runs a command's writes in the store's next group commit (see [`Writer`]) and
    /// returns once the group is committed.
    pub(super) async fn write<T, F>(&self, work: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: for<'u, 's> FnOnce(&'u mut Unit<'s>) -> BoxFuture<'u, Result<T, EngineError>>
            + Send
            + 'static,
    {
        self.inner.writer.write(work).await
    }

    /// The exact definition a case runs on: the catalog's when its content hash matches,
    /// otherwise the version rebuilt from the sources stored when the case started.
    pub(super) async fn process_for(
        &self,
        record: &CaseRecord,
    ) -> Result<Arc<Process>, EngineError> {
        let (id, version) = (&record.state.process, record.state.version);
        let hash = &record.content_hash;
        if let Some(process) = self
            .catalog()
            .get(id, version)
            .filter(|p| &p.content_hash == hash)
        {
            return Ok(process);
        }
        let key = (id.clone(), version);
        if let Some(process) = self
            .reloaded()
            .get(&key)
            .filter(|p| &p.content_hash == hash)
        {
            return Ok(Arc::clone(process));
        }
        let unknown = || EngineError::UnknownProcess {
            process: id.clone(),
            version: Some(version),
        };
        let (_, sources) = self
            .inner
            .store
            .definitions()
            .sources(id, version)
            .await?
            .ok_or_else(unknown)?;
        let process =
            load_sources(&sources, &*self.templates()).map_err(|source| EngineError::Reload {
                process: id.clone(),
                version,
                source,
            })?;
        let process = Arc::new(process);
        self.reloaded().insert(key, Arc::clone(&process));
        Ok(process)
    }

    fn reloaded(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u32), Arc<Process>>> {
        self.inner
            .reloaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) async fn ensure_registered(&self, process: &Process) -> Result<(), EngineError> {
        let key = (
            process.id.clone(),
            process.version,
            process.content_hash.clone(),
        );
        let known = self
            .inner
            .registered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&key);
        if !known {
            self.inner.store.definitions().register(process).await?;
            self.inner
                .registered
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key);
        }
        Ok(())
    }
}
