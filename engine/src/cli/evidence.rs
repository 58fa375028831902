//! `lianban audit verify`, `backup`, `restore` and `export`: the commands that keep the
//! record of cases as evidence.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use lianban::app::redact_url;
use lianban::runtime::CaseId;
use lianban::store::{Archived, Store};
use sha2::{Digest as _, Sha256};

use super::args::DbArg;
use super::{open, progress};

fn case_id(text: &str) -> anyhow::Result<CaseId> {
    uuid::Uuid::parse_str(text)
        .map(CaseId)
        .map_err(|_| anyhow::anyhow!("办件编号 {text} 格式不对（应为 UUID）"))
}

/// `audit verify`: prints the first broken entry of each case; `Ok(false)` when any.
pub(crate) async fn verify(db: &DbArg, case: Option<&str>) -> anyhow::Result<bool> {
    let case = case.map(case_id).transpose()?;
    let store = open(db).await?;
    let report = store.admin().verify_history(case).await?;
    for broken in &report.broken {
        println!("{broken}");
    }
    if report.intact() {
        println!(
            "已校验 {} 个办件、{} 条记录，历史记录完整",
            report.cases, report.entries
        );
    } else {
        println!(
            "已校验 {} 个办件、{} 条记录，其中 {} 个办件的历史记录被改动",
            report.cases,
            report.entries,
            report.broken.len()
        );
    }
    Ok(report.intact())
}

/// `backup`: a consistent copy of a SQLite database, also while it is in use.
pub(crate) async fn backup(db: &DbArg, to: &Path) -> anyhow::Result<()> {
    // A plain file path names a SQLite database, as for every other command.
    let url = &lianban::store::database_url(&db.url);
    if !url.starts_with("sqlite:") {
        return Err(lianban::store::BackupError::NotSqlite.into());
    }
    // Not migrated: a backup copies the database as it is and changes nothing.
    let store = Store::connect_with(url, db.store.options())
        .await
        .with_context(|| format!("打开数据库 {} 失败", redact_url(url)))?;
    // The copy grows to about the size of the database (smaller: VACUUM compacts it).
    let size = sqlite_path(url)
        .and_then(|path| std::fs::metadata(path).ok())
        .map_or(0, |m| m.len());
    let bar = progress::bytes(size, "备份");
    let follow = progress::follow_file(&bar, to.to_path_buf());
    let done = store.admin().backup_to(to).await;
    follow.abort();
    bar.finish_and_clear();
    done?;
    println!("已备份到 {}", to.display());
    Ok(())
}

/// `restore`: a backup file into a SQLite database.
pub(crate) async fn restore(from: &Path, db: &DbArg, force: bool) -> anyhow::Result<()> {
    let url = &lianban::store::database_url(&db.url);
    let Some(path) = sqlite_path(url) else {
        bail!(
            "只能恢复到 SQLite 数据库（sqlite://文件路径）；PostgreSQL 请用 pg_restore（见 docs/operations.md）"
        );
    };
    let size = std::fs::metadata(from).map_or(0, |m| m.len());
    let bar = progress::bytes(size, "恢复");
    let follow = progress::follow_file(&bar, path.clone());
    let done = lianban::store::restore(from, &path, force).await;
    follow.abort();
    bar.finish_and_clear();
    done?;
    // The restored copy is migrated now rather than at the next start, so it is ready.
    let checking = progress::spinner("校验办件历史记录");
    let restored = open(&DbArg {
        url: url.clone(),
        store: db.store.clone(),
    })
    .await?;
    let report = restored.admin().verify_history(None).await;
    checking.finish_and_clear();
    let report = report?;
    println!(
        "已从 {} 恢复到 {}：{} 个办件",
        from.display(),
        path.display(),
        report.cases
    );
    if !report.intact() {
        for broken in &report.broken {
            println!("{broken}");
        }
        bail!("恢复的数据库中有办件历史记录被改动");
    }
    Ok(())
}

/// The file of a `sqlite://path?…` URL; `None` for other databases and in-memory ones.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?.trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(':')).then(|| PathBuf::from(path))
}

/// Which cases to export: clap makes sure one of the two is given.
enum Selection {
    /// One case.
    Case(String),
    /// Every closed case that ended before this day (Beijing time).
    ClosedBefore(chrono::NaiveDate),
}

/// `export`: each chosen closed case as `DIR/<case>/case.json` and
/// `DIR/<case>/documents/<key>-<id>.html`, and `DIR/manifest.json` with the SHA-256 of
/// every file.
pub(crate) async fn export(
    db: &DbArg,
    case: Option<String>,
    closed_before: Option<chrono::NaiveDate>,
    dir: &Path,
) -> anyhow::Result<()> {
    let selection = match (case, closed_before) {
        (Some(case), _) => Selection::Case(case),
        (None, Some(day)) => Selection::ClosedBefore(day),
        (None, None) => bail!("请写 --case 或 --closed-before"),
    };
    let store = open(db).await?;
    let ids = match &selection {
        Selection::Case(id) => vec![case_id(id)?],
        Selection::ClosedBefore(day) => {
            let midnight = day
                .and_hms_opt(0, 0, 0)
                .and_then(|t| t.and_local_timezone(chrono_tz::Asia::Shanghai).single())
                .context("日期无效")?;
            store
                .admin()
                .closed_before(midnight.with_timezone(&chrono::Utc))
                .await?
        }
    };
    let manifest_path = dir.join("manifest.json");
    if manifest_path.exists() {
        bail!(
            "{} 已有导出的档案（manifest.json），请换一个目录",
            dir.display()
        );
    }
    // Read everything first: an open or unknown case fails the export before any file.
    let mut archives = Vec::new();
    let reading = progress::bar(ids.len() as u64, "读取办件", "个");
    for id in ids {
        match store.admin().archive(id).await? {
            Archived::NotFound => bail!("办件 {id} 不存在"),
            Archived::Open => bail!("办件 {id} 尚未办结，不能归档导出"),
            Archived::Ready(archive) => archives.push(archive),
        }
        reading.inc(1);
    }
    reading.finish_and_clear();
    let mut files = BTreeMap::new();
    let writing = progress::bar(archives.len() as u64, "写入档案", "个");
    for archive in &archives {
        writing.inc(1);
        let case_dir = dir.join(&archive.case_id);
        std::fs::create_dir_all(case_dir.join("documents"))
            .with_context(|| format!("无法创建目录 {}", case_dir.display()))?;
        let json = serde_json::to_string_pretty(&archive.record)?;
        let name = format!("{}/case.json", archive.case_id);
        write(dir, &name, json.as_bytes(), &mut files)?;
        for doc in &archive.html {
            let name = format!(
                "{}/documents/{}-{}.html",
                archive.case_id,
                safe(&doc.key),
                safe(&doc.id)
            );
            write(dir, &name, doc.html.as_bytes(), &mut files)?;
        }
    }
    writing.finish_and_clear();
    let manifest = serde_json::json!({
        "exported_at": chrono::Utc::now().to_rfc3339(),
        "cases": archives.iter().map(|a| a.case_id.clone()).collect::<Vec<_>>(),
        "files": files,
    });
    std::fs::write(&manifest_path, serde_json::to_string_pretty(&manifest)?)
        .with_context(|| format!("无法写入 {}", manifest_path.display()))?;
    println!("已导出 {} 个办件到 {}", archives.len(), dir.display());
    Ok(())
}

fn write(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    files: &mut BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).with_context(|| format!("无法写入 {}", path.display()))?;
    files.insert(name.to_owned(), hex::encode(Sha256::digest(bytes)));
    Ok(())
}

/// A file-name part: keys and ids are plain already; anything else becomes `_`.
fn safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
