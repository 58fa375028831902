//! Shared support of the acceptance tests.
//!
//! Store tests are written once and run on both backends: [`db_test!`] turns one body into
//! `<name>::sqlite` and `<name>::postgres`. Each run gets a fresh database:
//!
//! - SQLite: a real file in a temporary directory (WAL needs a file, not `:memory:`).
//! - PostgreSQL: a database with a random name, created on the server that
//!   `TEST_POSTGRES_URL` points at (e.g. `postgres://postgres@127.0.0.1:5432/test`; the user
//!   must be allowed to `CREATE DATABASE`) and dropped afterwards, also when the test fails.
//!   **When `TEST_POSTGRES_URL` is unset the postgres variant fails** rather than skips: CI
//!   must not pass without having run the PostgreSQL half. Run only the SQLite half of the
//!   store tests locally with
//!   `cargo test -p lianban-tests --test acceptance store:: -- --skip postgres`.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use anyhow::{Context, bail};
use futures::FutureExt;
use lianban::store::{Store, StoreOptions};
use sea_orm::{ConnectionTrait, Database};

pub mod files;
pub mod fixtures;
pub mod pages;
pub mod retirement;
pub mod web;

#[doc(hidden)]
pub use anyhow;

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "TEST_POSTGRES_URL";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// A fresh, empty database for one test.
#[derive(Debug, Clone)]
pub struct TestDb {
    /// Connection URL of the fresh database.
    pub url: String,
    /// Which backend it is.
    pub backend: Backend,
}

impl TestDb {
    /// Connects a store with default options and applies the migrations.
    ///
    /// # Errors
    /// When the database cannot be reached or a migration fails.
    pub async fn store(&self) -> anyhow::Result<Store> {
        self.store_with(StoreOptions::default()).await
    }

    /// Connects a store with these options and applies the migrations.
    ///
    /// # Errors
    /// When the database cannot be reached or a migration fails.
    pub async fn store_with(&self, options: StoreOptions) -> anyhow::Result<Store> {
        let store = Store::connect_with(&self.url, options)
            .await
            .with_context(|| format!("connecting to {}", self.url))?;
        store.migrate().await.context("applying migrations")?;
        Ok(store)
    }
}

/// Generates `<name>::sqlite` and `<name>::postgres` from one test body that receives a
/// [`TestDb`] and returns `anyhow::Result<()>`.
///
/// ```text
/// db_test!(registers_a_version, |db| {
///     let store = db.store().await?;
///     Ok(())
/// });
/// ```
#[macro_export]
macro_rules! db_test {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($db: $crate::TestDb) -> $crate::anyhow::Result<()> $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() -> $crate::anyhow::Result<()> {
                $crate::run($crate::Backend::Sqlite, body).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() -> $crate::anyhow::Result<()> {
                $crate::run($crate::Backend::Postgres, body).await
            }
        }
    };
}

/// Runs a test body on a fresh database of `backend`, then removes the database, also when
/// the body failed or panicked (the panic is resumed afterwards).
///
/// # Errors
/// The body's error, or why the database could not be created.
pub async fn run<F, Fut>(backend: Backend, body: F) -> anyhow::Result<()>
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().context("creating a temporary directory")?;
            let path = dir.path().join("lianban.db");
            let url = format!("sqlite://{}?mode=rwc", path.display());
            // The directory (and the file in it) is removed when `dir` drops.
            body(TestDb { url, backend }).await
        }
        Backend::Postgres => {
            let Ok(server) = std::env::var(POSTGRES_ENV) else {
                bail!(
                    "{POSTGRES_ENV} is not set: the PostgreSQL half of the store tests needs a \
                     server, e.g. {POSTGRES_ENV}=postgres://postgres@127.0.0.1:5432/test \
                     (CI must set it; run `… sqlite` to try only the SQLite half)"
                );
            };
            let name = format!("lianban_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(server.as_str())
                .await
                .with_context(|| format!("connecting to {POSTGRES_ENV}={server}"))?;
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .with_context(|| format!("creating database {name}"))?;
            let url = with_database(&server, &name);
            let outcome = AssertUnwindSafe(body(TestDb { url, backend }))
                .catch_unwind()
                .await;
            // FORCE ends connections a failed test may have left open.
            let dropped = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
            match outcome {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(result) => {
                    result?;
                    dropped.with_context(|| format!("dropping database {name}"))?;
                    Ok(())
                }
            }
        }
    }
}

/// The same server URL with another database name (the last path segment).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
