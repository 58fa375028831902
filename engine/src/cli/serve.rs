//! `lianban serve`, `migrate` and `bench`: the commands that run the service or measure it.

use anyhow::Context as _;
use lianban::app::{App, redact_url};

use super::args::{DbArg, ServeArgs};
use super::users;

/// `lianban serve`: binds first (a taken port fails before any migration), builds the app
/// from the settings, seeds the demo accounts when asked, and serves until SIGTERM.
///
/// # Errors
/// An address that cannot be bound, or anything [`App::build`] and [`App::serve`] refuse.
pub(crate) async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.bind)
        .await
        .with_context(|| format!("无法监听 {}", args.bind))?;
    let app = App::build(args.settings()).await?;
    if args.demo {
        users::print_demo(&app.seed_demo_accounts().await?);
    }
    lianban::web::run(app, listener).await
}

/// `lianban migrate`: applies every pending migration.
///
/// # Errors
/// A database that cannot be opened or migrated.
pub(crate) async fn migrate(db: DbArg) -> anyhow::Result<()> {
    super::open(&db).await?;
    println!("数据库迁移完成：{}", redact_url(&db.url));
    Ok(())
}

/// `lianban bench`: figures on standard output as they come.
///
/// # Errors
/// A `--db` that is not PostgreSQL, or a failing run.
pub(crate) async fn bench(options: lianban_bench::Options) -> anyhow::Result<()> {
    if let Some(url) = &options.postgres
        && !url.starts_with("postgres")
    {
        anyhow::bail!("--db 应是 PostgreSQL 服务器地址（postgres://…）；SQLite 总在临时文件上测");
    }
    lianban_bench::run(&options, &mut |figure| println!("{figure}")).await
}
