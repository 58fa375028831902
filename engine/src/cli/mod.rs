//! The commands of the `lianban` binary, one function each, over the library. What the
//! user typed arrives parsed and checked ([`args`]); these functions only carry it out
//! and report.

pub(crate) mod apikeys;
pub(crate) mod args;
pub(crate) mod cases;
pub(crate) mod definitions;
pub(crate) mod evidence;
pub(crate) mod progress;
pub(crate) mod serve;
pub(crate) mod users;

use std::process::ExitCode;

use anyhow::Context as _;
use lianban::app::redact_url;
use lianban::store::Store;

use args::DbArg;

/// Sends the log to standard error, filtered by `--log` / `LIANBAN_LOG` (already checked
/// by the argument parser).
pub(crate) fn init_tracing(filter: &str) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

/// Runs an async command to its end on a runtime of its own.
///
/// # Errors
/// The command's error, or a runtime that cannot start.
pub(crate) fn run_async<T>(
    command: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(command)
}

/// Exit status 0, or 1 with `错误：` and the error's chain on standard error.
pub(crate) fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("错误：{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the database with the connection settings given and brings its schema up to date.
///
/// # Errors
/// A database that cannot be opened or migrated.
pub(crate) async fn open(db: &DbArg) -> anyhow::Result<Store> {
    let store = connect(db).await?;
    store.migrate().await.context("数据库迁移失败")?;
    Ok(store)
}

/// Opens the database with the connection settings given, without migrating it.
///
/// # Errors
/// A database that cannot be opened.
pub(crate) async fn connect(db: &DbArg) -> anyhow::Result<Store> {
    Store::connect_with(&db.url, db.store.options())
        .await
        .with_context(|| format!("打开数据库 {} 失败", redact_url(&db.url)))
}
