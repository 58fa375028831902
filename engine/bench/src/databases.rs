//! Fresh databases for each run: a SQLite file in a new temporary directory, or a new
//! PostgreSQL database on the given server, removed afterwards.

use std::path::PathBuf;

use anyhow::Context as _;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tokio::sync::{Mutex, MutexGuard};

use lianban_store::{Store, Synchronous};

/// The SQLite file's name in a fresh database's directory.
const SQLITE_FILE: &str = "bench.db";

/// A database setting the bench measures.
#[derive(Debug, Clone)]
pub enum Target {
    /// A SQLite file with this `synchronous`.
    Sqlite(Synchronous),
    /// A database on this PostgreSQL server.
    Postgres(String),
}

impl Target {
    /// The figure prefix: `sqlite_full`, `sqlite_normal` or `postgres`.
    pub fn name(&self) -> &'static str {
        match self {
            Target::Sqlite(Synchronous::Full) => "sqlite_full",
            Target::Sqlite(Synchronous::Normal) => "sqlite_normal",
            Target::Postgres(_) => "postgres",
        }
    }
}

/// A database that exists for one run.
#[derive(Debug)]
pub struct FreshDb {
    /// Its URL.
    pub url: String,
    /// SQLite: the directory to remove.
    dir: Option<PathBuf>,
    /// PostgreSQL: the server URL and the database name to drop.
    postgres: Option<(String, String)>,
}

impl FreshDb {
    /// Creates an empty database for `target`.
    ///
    /// # Errors
    /// When the directory or the database cannot be created.
    pub async fn create(target: &Target) -> anyhow::Result<FreshDb> {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        match target {
            Target::Sqlite(_) => {
                let dir = std::env::temp_dir().join(format!("lianban-bench-{suffix}"));
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("无法创建临时目录 {}", dir.display()))?;
                let url = format!("sqlite://{}?mode=rwc", dir.join(SQLITE_FILE).display());
                Ok(FreshDb {
                    url,
                    dir: Some(dir),
                    postgres: None,
                })
            }
            Target::Postgres(server) => {
                let name = format!("lianban_bench_{suffix}");
                let admin = admin(server)
                    .await
                    .with_context(|| format!("无法连接 PostgreSQL {}", redact(server)))?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .with_context(|| format!("无法创建数据库 {name}"))?;
                admin.close().await.ok();
                Ok(FreshDb {
                    url: with_database(server, &name),
                    dir: None,
                    postgres: Some((server.clone(), name)),
                })
            }
        }
    }

    /// The SQLite file of this database; `None` on PostgreSQL.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|dir| dir.join(SQLITE_FILE))
    }

    /// A migrated store on this database with the target's settings.
    ///
    /// # Errors
    /// When the database cannot be opened or migrated.
    pub async fn store(&self, target: &Target) -> anyhow::Result<Store> {
        let store = Store::connect_with(&self.url, super::store_options(target))
            .await
            .with_context(|| format!("无法打开数据库 {}", redact(&self.url)))?;
        store.migrate().await.context("数据库迁移失败")?;
        Ok(store)
    }

    /// A pool of the bench's own on this database, set up exactly as the store's for
    /// `target` ([`lianban_store::connect_options`]), for the rows written without the
    /// engine. The store keeps its connection to itself.
    ///
    /// # Errors
    /// When the database cannot be opened.
    pub(super) async fn raw(&self, target: &Target) -> anyhow::Result<RawDb> {
        let db = Database::connect(lianban_store::connect_options(
            &self.url,
            &super::store_options(target),
        ))
        .await
        .with_context(|| format!("无法打开数据库 {}", redact(&self.url)))?;
        let writer = (db.get_database_backend() == DbBackend::Sqlite).then(|| Mutex::new(()));
        Ok(RawDb { db, writer })
    }

    /// Removes the database; failures are reported on standard error, not raised, because
    /// this runs after the figures were taken.
    pub async fn remove(self) {
        if let Some(dir) = &self.dir
            && let Err(e) = std::fs::remove_dir_all(dir)
        {
            eprintln!("警告：无法删除临时目录 {}：{e}", dir.display());
        }
        if let Some((server, name)) = &self.postgres {
            let dropped = async {
                let admin = admin(server).await?;
                // FORCE ends the pool connections that may still be closing.
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await?;
                admin.close().await
            }
            .await;
            if let Err(e) = dropped {
                eprintln!("警告：无法删除数据库 {name}：{e}");
            }
        }
    }
}

/// The raw writer's pool, with a writer queue of its own on SQLite.
///
/// The raw bound must pay what the engine pays for SQLite's single writer and nothing
/// more: the store queues its writers in memory (a FIFO turn, then `BEGIN IMMEDIATE`), so
/// that the lock passes on as soon as a commit returns instead of after a busy handler's
/// sleep. Without the same queue here, raw writers at c16 would wait in the busy handler and
/// the bound would be lower, flattering `engine_vs_raw`. So the raw run takes its turn on
/// this one-writer tokio mutex (fair, like the store's) and begins the same way.
pub(super) struct RawDb {
    db: DatabaseConnection,
    /// SQLite only: one writer at a time, in arrival order.
    writer: Option<Mutex<()>>,
}

impl RawDb {
    /// The backend, to spell placeholders.
    pub(super) fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Waits for this writer's turn (SQLite; none needed on PostgreSQL). Hold the guard
    /// until the transaction is committed.
    pub(super) async fn turn(&self) -> Option<MutexGuard<'_, ()>> {
        match &self.writer {
            Some(writer) => Some(writer.lock().await),
            None => None,
        }
    }

    /// Begins a write transaction as the store does: on SQLite with the write lock taken at
    /// `BEGIN` (IMMEDIATE).
    ///
    /// # Errors
    /// When the database refuses.
    pub(super) async fn begin(&self) -> Result<DatabaseTransaction, sea_orm::DbErr> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        self.db.begin_with_options(options).await
    }
}

/// A connection to the server for CREATE and DROP DATABASE, quiet: sqlx would log the
/// DROP, which waits for the pool's connections to close, as a slow statement.
async fn admin(server: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(server);
    options.sqlx_logging(false).max_connections(1);
    Database::connect(options).await
}

/// The server URL every PostgreSQL run of the bench uses: without TLS.
///
/// The native bound speaks to the server without TLS (tokio-postgres with `NoTls`), so the
/// engine and the raw run must too, or the ratio would charge the engine for encryption the
/// bound never does (on this machine's loopback about 4 % of the CPU, server and client
/// together). sqlx's default, `sslmode=prefer`, would encrypt whenever the server offers it;
/// a URL without `sslmode` gets `sslmode=disable`. One that asks for any other mode is
/// refused rather than measured on two transports.
///
/// # Errors
/// When the URL names an `sslmode` other than `disable`.
pub(super) fn plaintext(server: &str) -> anyhow::Result<String> {
    let query = server.split_once('?').map_or("", |(_, q)| q);
    let mode = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("sslmode="));
    match mode {
        None if query.is_empty() => Ok(format!("{server}?sslmode=disable")),
        None => Ok(format!("{server}&sslmode=disable")),
        Some("disable") => Ok(server.to_owned()),
        Some(other) => anyhow::bail!(
            "基准测试与原生下限须走同一传输：原生下限不加密，请去掉 sslmode={other} 或改为 sslmode=disable"
        ),
    }
}

/// The server URL with its database path replaced by `name` (query kept).
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

fn redact(url: &str) -> String {
    lianban_service::app::redact_url(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_on_postgresql_without_tls_like_the_native_bound() {
        assert_eq!(
            plaintext("postgres://postgres@127.0.0.1:5432/test")
                .ok()
                .as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
        );
        assert_eq!(
            plaintext("postgres://h/test?application_name=b")
                .ok()
                .as_deref(),
            Some("postgres://h/test?application_name=b&sslmode=disable")
        );
        assert_eq!(
            plaintext("postgres://h/test?sslmode=disable")
                .ok()
                .as_deref(),
            Some("postgres://h/test?sslmode=disable")
        );
        let refused = plaintext("postgres://h/test?sslmode=require").expect_err("refused");
        assert!(refused.to_string().contains("sslmode=require"), "{refused}");
    }

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
