//! Fresh databases for each run: a SQLite file in a new temporary directory, or a new
//! PostgreSQL database on the given server, removed afterwards.

use std::path::PathBuf;

use anyhow::Context as _;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

use lianban_store::{Store, Synchronous};

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
                let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
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

/// A connection to the server for CREATE and DROP DATABASE, quiet: sqlx would log the
/// DROP, which waits for the pool's connections to close, as a slow statement.
async fn admin(server: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(server);
    options.sqlx_logging(false).max_connections(1);
    Database::connect(options).await
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
