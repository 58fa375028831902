//! Wires settings, store, catalog, templates and scheduler together. `lianban serve` and
//! the acceptance tests build the service the same way, [`App::build`] and then the web
//! crate's `run` (or `run_until`), so tests run what production runs, background workers
//! included.
//! This module reads no flags and no environment itself: the binary turns them into
//! [`Settings`].

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context as _;

use crate::Engine;
use crate::WriteQueue;
use crate::scheduler::{Background, Clock, SystemClock};
use lianban_core::definition::{Catalog, LoadError, Process};
use lianban_core::documents::{Pages, Templates};
use lianban_store::{Store, StoreError, StoreOptions};

mod demo;
mod load;

pub use demo::DemoAccount;
pub use load::{Definitions, DefinitionsError};

/// The embedded default database: a SQLite file created on first run.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/lianban.db?mode=rwc";

/// Everything `serve` needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Database URL (`sqlite://…` or `postgres://…`).
    pub database_url: String,
    /// Directory of process definitions.
    pub processes_dir: PathBuf,
    /// Directory of templates.
    pub templates_dir: PathBuf,
    /// Bearer token that allows the admin calls (reload); admin calls are refused without one.
    pub admin_token: Option<String>,
    /// Mark cookies `Secure` (the service is reached over https, e.g. behind a proxy).
    pub secure_cookies: bool,
    /// Factor on the pause before answering repeated failed logins: 1.0 in service; tests
    /// that count failures set 0.0 instead of waiting.
    pub login_slowdown: f64,
    /// Connection pool and timeouts: how long a request waits for the database before it
    /// is answered 503.
    pub store: StoreOptions,
    /// The queue of commands waiting for the database's writer: its bound, and how long a
    /// command waits for a place before it is refused (503 `overloaded`).
    pub write_queue: WriteQueue,
    /// Whether the background workers run while the app serves.
    pub workers: Workers,
}

impl Settings {
    /// Settings with the defaults of `lianban serve` run from the repository root.
    pub fn new(database_url: impl Into<String>) -> Self {
        Settings {
            database_url: database_url.into(),
            processes_dir: PathBuf::from("processes"),
            templates_dir: PathBuf::from("templates"),
            admin_token: None,
            secure_cookies: false,
            login_slowdown: 1.0,
            store: StoreOptions::default(),
            write_queue: WriteQueue::default(),
            workers: Workers::Run,
        }
    }
}

/// The background workers of a serving app: timers (warnings, due times, case limits),
/// cron schedules and outbox delivery ([`Background`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Workers {
    /// They run, as in `lianban serve`; [`App::build`] reads the department systems'
    /// signing secrets and refuses to build without them.
    #[default]
    Run,
    /// They do not run. For tests that move a [`crate::scheduler::ManualClock`] and fire
    /// timers, schedules and deliveries themselves at the instants they choose
    /// (`timers::fire_due`, `run_due`, `OutboxWorker::run_once`): a worker ticking on its
    /// own would race them and fire first. Everything else is built and served as with
    /// [`Workers::Run`].
    Off,
}

/// Why a reload was refused; the running definitions stay in force.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// A template does not load.
    #[error("模板加载失败：{0}")]
    Templates(#[from] lianban_core::documents::RenderError),
    /// A definition does not validate.
    #[error("{0}")]
    Definitions(#[from] LoadError),
    /// A definition changed without a new version, or the database failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl From<DefinitionsError> for ReloadError {
    fn from(e: DefinitionsError) -> Self {
        match e {
            DefinitionsError::Templates(e) => ReloadError::Templates(e),
            DefinitionsError::Definitions(e) => ReloadError::Definitions(e),
        }
    }
}

/// The running service.
#[derive(Debug)]
pub struct App {
    settings: Settings,
    engine: Engine,
    templates: RwLock<Arc<Templates>>,
    pages: Pages,
    /// The workers to start when serving; `None` with [`Workers::Off`].
    background: Option<Background>,
    /// Set once the HTTP server has stopped: background workers finish their pass and end.
    stopping: tokio::sync::watch::Sender<bool>,
}

impl App {
    /// Opens (and migrates) the database, loads templates and definitions, registers the
    /// definition versions and, with [`Workers::Run`], prepares the background workers.
    /// Nothing runs yet: the web crate's `run` starts the server and the workers.
    ///
    /// # Errors
    /// Any definition problem (all diagnostics), a database that cannot be opened, a
    /// definition whose content changed under a version that cases already run on, or a
    /// department system whose signing secret is not in the environment.
    pub async fn build(settings: Settings) -> anyhow::Result<Arc<App>> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// Like [`App::build`] with an injected clock (tests).
    ///
    /// # Errors
    /// As [`App::build`].
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Arc<App>> {
        // As opened: a plain path shows as the sqlite: URL it became.
        let url = redact_url(&lianban_store::database_url(&settings.database_url));
        let store = Store::connect_with(&settings.database_url, settings.store.clone())
            .await
            .with_context(|| format!("打开数据库 {url} 失败"))?;
        log_connection(&store, &url).await?;
        store.migrate().await.context("数据库迁移失败")?;
        let Definitions {
            templates,
            processes,
        } = Definitions::load(
            std::slice::from_ref(&settings.processes_dir),
            &settings.templates_dir,
        )
        .map_err(|e| match e {
            DefinitionsError::Templates(e) => anyhow::Error::new(e).context(format!(
                "模板目录 {} 加载失败",
                settings.templates_dir.display()
            )),
            DefinitionsError::Definitions(e) => {
                anyhow::anyhow!("流程定义有误，服务未启动：\n{e}")
            }
        })?;
        register_all(&store, &processes).await?;
        tracing::info!(definitions = processes.len(), "definitions loaded");
        let templates = Arc::new(templates);
        let engine = Engine::with_write_queue(
            store,
            Catalog::new(processes),
            Arc::clone(&templates),
            clock,
            settings.write_queue,
        );
        let background = match settings.workers {
            Workers::Run => Some(Background::new(&engine)?),
            Workers::Off => None,
        };
        Ok(Arc::new(App {
            settings,
            engine,
            templates: RwLock::new(templates),
            pages: Pages::builtin().context("内置页面模板有误")?,
            background,
            stopping: tokio::sync::watch::Sender::new(false),
        }))
    }

    /// The library API over cases and tasks.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The web layer's built-in pages.
    pub fn pages(&self) -> &Pages {
        &self.pages
    }

    /// The settings the app was built with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The templates currently in force.
    pub fn templates(&self) -> Arc<Templates> {
        match self.templates.read() {
            Ok(t) => Arc::clone(&t),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Re-reads templates and definitions; swaps them in only when all are valid and every
    /// version rule holds. Returns the definitions now in force.
    ///
    /// # Errors
    /// [`ReloadError`]; the old definitions keep running.
    pub async fn reload(&self) -> Result<Vec<Arc<Process>>, ReloadError> {
        let Definitions {
            templates,
            processes,
        } = Definitions::load(
            std::slice::from_ref(&self.settings.processes_dir),
            &self.settings.templates_dir,
        )?;
        let templates = Arc::new(templates);
        register_all(self.engine.store(), &processes).await?;
        let catalog = Catalog::new(processes);
        let now_in_force: Vec<Arc<Process>> = catalog.iter().cloned().collect();
        self.engine.set_catalog(catalog);
        self.engine.set_templates(Arc::clone(&templates));
        match self.templates.write() {
            Ok(mut t) => *t = templates,
            Err(poisoned) => *poisoned.into_inner() = templates,
        }
        tracing::info!(definitions = now_in_force.len(), "definitions reloaded");
        // A calendar may have gained the notice of a year counted provisionally so far.
        if let Err(e) = self.engine.recount_provisional().await {
            tracing::error!(error = %e, "provisional deadlines not recounted; the next reload tries again");
        }
        for warning in self.engine.calendar_warnings() {
            tracing::warn!(calendar = %warning.calendar, year = warning.year, "{}", warning.message);
        }
        Ok(now_in_force)
    }

    /// Starts the background workers (unless the settings say [`Workers::Off`]); they run
    /// until [`App::stop`], then finish their pass and give back their leases. The web
    /// crate's `run_until` calls this beside the HTTP server, so tests and `serve` start
    /// the same workers.
    pub fn spawn_workers(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.background
            .clone()
            .map(|background| background.spawn_until(self.stopped()))
    }

    /// Tells the background workers to stop after their current pass.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Resolves once [`App::stop`] was called: what the background workers wait on.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut stopping = self.stopping.subscribe();
        async move {
            // An error means the app is gone: stop as well.
            let _ = stopping.wait_for(|stop| *stop).await;
        }
    }

    /// Logs how to create a first account when there is none, so whoever starts a fresh
    /// installation learns the next step from the log rather than from a login that
    /// cannot succeed. Only a hint: a database error here is logged, not fatal.
    pub async fn hint_when_no_accounts(&self) {
        match self.engine.store().accounts().list().await {
            Ok(accounts) if accounts.is_empty() => tracing::warn!(
                "no accounts yet, so nobody can sign in: create one with `lianban user add \
                 --username NAME --department KEY --role admin` (it reads the password from \
                 standard input), or start with `lianban serve --demo` to create demo \
                 accounts and print their passwords"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot tell whether any account exists"),
        }
    }
}

/// Logs the connection settings in force, read back from the database (the URL without its
/// password), so an operator sees what a setting such as `LIANBAN_SQLITE_SYNCHRONOUS`
/// actually changed.
async fn log_connection(store: &Store, url: &str) -> Result<(), StoreError> {
    let settings = store.connection_settings().await?;
    match &settings.sqlite {
        Some(sqlite) => tracing::info!(
            db = %url,
            backend = %settings.backend,
            max_connections = settings.max_connections,
            synchronous = %sqlite.synchronous_name(),
            journal_mode = %sqlite.journal_mode,
            busy_timeout_ms = sqlite.busy_timeout_ms,
            "database opened"
        ),
        None => tracing::info!(
            db = %url,
            backend = %settings.backend,
            max_connections = settings.max_connections,
            "database opened"
        ),
    }
    Ok(())
}

async fn register_all(store: &Store, processes: &[Process]) -> Result<(), StoreError> {
    // Check every definition before writing any, so a refused reload leaves nothing behind.
    // A base (`abstract: true`) runs no case: its content is pinned by the definitions
    // extending it, whose content hash covers it.
    let in_force = || processes.iter().filter(|p| !p.is_abstract);
    for process in in_force() {
        store.definitions().check(process).await?;
    }
    for process in in_force() {
        store.definitions().register(process).await?;
    }
    Ok(())
}

/// Hides the password of a database URL for messages and logs: the one after the user
/// name (`postgres://user:***@host/db`) and a `password=` query parameter, which
/// PostgreSQL URLs may carry instead.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match (base.find("://"), base.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &base[scheme_end + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &base[..scheme_end + 3],
                    &creds[..colon],
                    &base[at..]
                ),
                None => base.to_owned(),
            }
        }
        _ => base.to_owned(),
    };
    let Some(query) = query else {
        return base;
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn a_database_password_never_shows() {
        for (url, shown) in [
            (
                "postgres://lianban:s3cret@db/lianban",
                "postgres://lianban:***@db/lianban",
            ),
            (
                "postgres://lianban@db/lianban?sslmode=require&password=s3cret",
                "postgres://lianban@db/lianban?sslmode=require&password=***",
            ),
            (
                "sqlite://data/lianban.db?mode=rwc",
                "sqlite://data/lianban.db?mode=rwc",
            ),
            (
                "postgres://lianban@db/lianban",
                "postgres://lianban@db/lianban",
            ),
        ] {
            assert_eq!(redact_url(url), shown);
        }
    }
}
