//! The commands that read definitions from disk: `check`, `test`, `evaluate`, `render`,
//! `diagram` (and `workdays`, which reads their calendars). Each loads templates and
//! definitions through [`Definitions::load`], as `serve` does, and words a failure its
//! own way.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use lianban::app::{Definitions, DefinitionsError};
use lianban::definition::{Catalog, Process};
use lianban::evaluate::EvaluateError;

use super::args::{DiagramArgs, StoreArgs};
use super::run_async;

/// The paths given, or `processes/` when none.
fn or_default(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from("processes")]
    } else {
        paths
    }
}

/// Loads for a command that reports a failure as the error itself (`render`, `diagram`).
fn load(processes: &Path, templates: &Path) -> anyhow::Result<Definitions> {
    Definitions::load(&[processes.to_path_buf()], templates).map_err(|e| match e {
        DefinitionsError::Templates(e) => e.into(),
        // Every diagnostic, one per line, without a cause chain.
        DefinitionsError::Definitions(e) => anyhow::anyhow!("{e}"),
    })
}

/// `lianban check`: one line per valid definition; exit 1 with every problem, or when
/// nothing was found. With `db`, also every definition in force whose content changed under
/// a version that cases already run on in that database (exit 1 as well).
pub(crate) fn check(
    paths: Vec<PathBuf>,
    templates: &Path,
    db: Option<&str>,
    store: &StoreArgs,
) -> ExitCode {
    let paths = or_default(paths);
    match Definitions::load(&paths, templates) {
        Ok(Definitions { processes, .. }) => {
            for p in &processes {
                println!("{}", summary(p));
                if let Some(line) = layering(p, &processes) {
                    println!("      {line}");
                }
                for line in warnings(p) {
                    println!("      {line}");
                }
            }
            if processes.is_empty() {
                eprintln!("没有找到流程定义（*.yaml）：{}", display_paths(&paths));
                return ExitCode::FAILURE;
            }
            let Some(url) = db else {
                return ExitCode::SUCCESS;
            };
            match run_async(changed_versions(url, store, &processes)) {
                Ok((versions, refused)) if refused.is_empty() => {
                    print_versions(&versions);
                    ExitCode::SUCCESS
                }
                Ok((versions, refused)) => {
                    print_versions(&versions);
                    for line in &refused {
                        eprintln!("{line}");
                    }
                    eprintln!("共 {} 个定义须加版本号，定义未通过检查。", refused.len());
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("错误：{e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(DefinitionsError::Templates(e)) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
        Err(DefinitionsError::Definitions(e)) => {
            eprintln!("{e}");
            eprintln!("共 {} 处错误，定义未通过检查。", e.diagnostics.len());
            ExitCode::FAILURE
        }
    }
}

/// What a valid definition may still want mending, one line each; they do not fail the
/// check. W-UNLABELED-DATA: a value an outcome or automatic step writes has no Chinese
/// label, so the case page would show it under its raw key.
fn warnings(p: &Process) -> Vec<String> {
    p.unlabeled_data()
        .into_iter()
        .map(|(key, path)| {
            let at = p.origins.get(&path).cloned().unwrap_or_else(|| p.file.clone());
            format!(
                "{at}: warning[W-UNLABELED-DATA]: {path} 写入的办理数据 `{key}` 没有中文标签，办件页面会显示原始键名\n        = 提示: 在定义的 labels: 里加一行 `{key}: 中文名称`"
            )
        })
        .collect()
}

/// One line per valid definition, so a policy officer sees what was checked.
fn summary(p: &Process) -> String {
    format!(
        "通过  {} v{}「{}」 {}：{} 个步骤，{} 个角色，{} 个部门，{} 项材料，{} 个示例，内容摘要 {}",
        p.id,
        p.version,
        p.name,
        p.file,
        p.steps.len(),
        p.roles.len(),
        p.departments.len(),
        p.materials.len(),
        p.tests.len(),
        &p.content_hash[..p.content_hash.len().min(12)],
    )
}

/// Prints, per definition, the version in force and how many open cases each stored
/// version still has, with the command that moves them when an old version has any.
fn print_versions(lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    println!("数据库中的版本：");
    for line in lines {
        println!("  {line}");
    }
}

/// One line per definition in force: its version and, per version `url` stores, the open
/// cases and all cases on it.
async fn stored_versions(
    store: &lianban::store::Store,
    processes: &[Process],
) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    for p in processes.iter().filter(|p| !p.is_abstract) {
        let versions = store
            .definitions()
            .versions(&p.id)
            .await
            .context("读取已保存的流程版本失败")?;
        let stored: Vec<String> = versions
            .iter()
            .map(|v| {
                format!(
                    "第 {} 版 办理中 {} 件（共 {} 件）",
                    v.version, v.open, v.cases
                )
            })
            .collect();
        let mut line = format!(
            "{}：现行第 {} 版；{}",
            p.id,
            p.version,
            if stored.is_empty() {
                "数据库中尚无保存的版本".to_owned()
            } else {
                stored.join("，")
            }
        );
        let behind: Vec<u32> = versions
            .iter()
            .filter(|v| v.version != p.version && v.open > 0)
            .map(|v| v.version)
            .collect();
        for old in behind {
            line.push_str(&format!(
                "\n      可迁移到现行版本：lianban cases migrate --process {} --from-version {old} --to-version {} --dry-run",
                p.id, p.version
            ));
        }
        lines.push(line);
    }
    Ok(lines)
}

/// The lines of [`stored_versions`], and the definitions in force whose content differs
/// from what `url` stores for the same version while cases run on it, one line each (file,
/// what changed, what to do). A base runs no case: the definitions extending it carry its
/// content in their hash.
async fn changed_versions(
    url: &str,
    store: &StoreArgs,
    processes: &[Process],
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let store = lianban::store::Store::connect_with(url, store.options())
        .await
        .with_context(|| format!("无法连接数据库 {}", lianban::app::redact_url(url)))?;
    // A database `serve` or `migrate` never opened has no stored versions to compare with;
    // say so instead of failing on a missing table.
    let pending = store
        .pending_migrations()
        .await
        .context("读取数据库的迁移记录失败")?;
    if pending > 0 {
        anyhow::bail!(
            "数据库 {} 的表结构还不是当前版本（{pending} 个迁移尚未执行）：先运行 `lianban migrate --db …`（`serve` 启动时也会执行），再检查",
            lianban::app::redact_url(url)
        );
    }
    let versions = stored_versions(&store, processes).await?;
    let mut refused = Vec::new();
    for p in processes.iter().filter(|p| !p.is_abstract) {
        match store.definitions().check(p).await {
            Ok(()) => {}
            Err(e @ lianban::store::StoreError::VersionChanged { .. }) => {
                let chain = if p.extends.is_empty() {
                    String::new()
                } else {
                    format!("（含继承的 {}）", p.extends.join(" → "))
                };
                refused.push(format!(
                    "{}: error[E-VERSION]: 内容{chain}与数据库中保存的不同。{e}",
                    p.file
                ));
            }
            Err(e) => return Err(e).context("读取已保存的流程版本失败"),
        }
    }
    Ok((versions, refused))
}

/// For a definition that extends another: the chain; for a base: every definition a
/// change to it affects (each needs a new version when the base changes).
fn layering(p: &Process, all: &[Process]) -> Option<String> {
    if p.is_abstract {
        let users: Vec<String> = all
            .iter()
            .filter(|q| q.extends.contains(&p.id))
            .map(|q| format!("{} v{}", q.id, q.version))
            .collect();
        return Some(if users.is_empty() {
            "基础定义（不单独启用），目前没有定义继承它".to_owned()
        } else {
            format!(
                "基础定义（不单独启用）；修改它会改变这些定义的内容，须各自把 version 加一：{}",
                users.join("、")
            )
        });
    }
    (!p.extends.is_empty()).then(|| format!("继承 {}", p.extends.join(" → ")))
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `lianban test`: every example's failures, then `N passed, M failed`; exit 1 on any
/// failure or when the definitions do not load.
pub(crate) fn test(paths: Vec<PathBuf>, templates: &Path) -> ExitCode {
    let paths = or_default(paths);
    let Definitions {
        templates,
        processes,
    } = match Definitions::load(&paths, templates) {
        Ok(loaded) => loaded,
        Err(DefinitionsError::Templates(e)) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
        Err(DefinitionsError::Definitions(e)) => {
            eprintln!("{e}");
            eprintln!(
                "共 {} 处错误，定义未通过检查，示例未运行。",
                e.diagnostics.len()
            );
            return ExitCode::FAILURE;
        }
    };
    let run = async {
        Ok(lianban::casebook::run_processes(&processes, std::sync::Arc::new(templates)).await)
    };
    let report = match run_async(run) {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("{e:#}");
            return ExitCode::FAILURE;
        }
    };
    println!("{report}");
    if report.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `lianban evaluate`: the JSON of what the rules say about an application.
///
/// # Errors
/// An unreadable or malformed input, definitions that do not load, an unknown process.
pub(crate) fn evaluate(
    process: &str,
    input: &Path,
    at: Option<chrono::NaiveDate>,
    processes: &Path,
    templates: &Path,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(input)
        .with_context(|| format!("无法读取输入文件 {}", input.display()))?;
    let today = at.unwrap_or_else(|| {
        chrono::Utc::now()
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .date_naive()
    });
    let evaluation = evaluate_text(process, &text, today, processes, templates)
        .with_context(|| format!("评估 {} 失败", input.display()))?;
    println!("{}", serde_json::to_string_pretty(&evaluation)?);
    Ok(())
}

/// The input first (a typo there is the likelier mistake), then the definitions, then
/// the process.
fn evaluate_text(
    process_id: &str,
    text: &str,
    today: chrono::NaiveDate,
    processes: &Path,
    templates: &Path,
) -> Result<lianban::evaluate::Evaluation, EvaluateError> {
    let input = lianban::evaluate::parse_input(text)?;
    let loaded = Definitions::load(&[processes.to_path_buf()], templates).map_err(|e| match e {
        DefinitionsError::Templates(e) => EvaluateError::Templates(e),
        DefinitionsError::Definitions(e) => EvaluateError::Definitions(e),
    })?;
    let catalog = Catalog::new(loaded.processes);
    let process = lianban::evaluate::latest_process(&catalog, process_id)?;
    Ok(lianban::evaluate::evaluate(&process, &input, today))
}

/// `lianban render`: the document as a case with this form would issue it, numbered
/// `…第0000号（预览）` and without drawing from any sequence.
///
/// # Errors
/// An unreadable input, definitions that do not load, an unknown process or document.
pub(crate) fn render(
    process: &str,
    document: &str,
    input: &Path,
    department: Option<&str>,
    processes: &Path,
    templates: &Path,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(input)
        .with_context(|| format!("无法读取输入文件 {}", input.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("输入文件 {} 不是有效的 JSON", input.display()))?;
    let Definitions {
        templates,
        processes: catalog,
    } = load(processes, templates)?;
    let Some(found) = catalog
        .iter()
        .filter(|p| p.id == process)
        .max_by_key(|p| p.version)
    else {
        anyhow::bail!("没有流程 {process}（在 {} 中）", processes.display());
    };
    let now = chrono::Utc::now();
    // One object is one applicant's form; an array is the rows of a table document (附件4).
    let rendered = match value {
        serde_json::Value::Object(form) => {
            lianban::documents::preview(found, &templates, document, &form, now)?
        }
        serde_json::Value::Array(rows) => {
            lianban::documents::preview_table(found, &templates, document, rows, department, now)?
        }
        _ => anyhow::bail!(
            "输入文件 {} 应是一个 JSON 对象（申请表各字段）或对象数组（表格的各行）",
            input.display()
        ),
    };
    println!("{}", rendered.html);
    Ok(())
}

/// `lianban workdays`: prints the answer; a count that used a year counted provisionally
/// (no notice yet) also prints a 暂定 note on stderr, so scripts reading stdout still get
/// the bare value; a year the calendar cannot count is an error.
///
/// # Errors
/// An unknown calendar, a year without data, or neither question asked.
pub(crate) fn workdays(
    calendar: &str,
    add: Option<(chrono::NaiveDate, i64)>,
    between: Option<Vec<chrono::NaiveDate>>,
    processes: &Path,
) -> anyhow::Result<()> {
    use lianban::scheduler::workdays::{Query, answer};
    let query = match (add, between.as_deref()) {
        (Some((from, n)), _) => Query::Add { from, n },
        (None, Some(&[from, to])) => Query::Between { from, to },
        _ => anyhow::bail!("请写 --from 日期 --add 天数，或 --between 日期 日期"),
    };
    let answer = answer(processes, calendar, query)?;
    println!("{}", answer.value);
    if let Some(note) = answer.provisional {
        eprintln!("{note}");
    }
    Ok(())
}

/// `lianban diagram`: the process map of one definition version, as SVG on stdout.
///
/// # Errors
/// Definitions that do not load, an unknown process or version, a database error.
pub(crate) async fn diagram(args: DiagramArgs) -> anyhow::Result<()> {
    let DiagramArgs {
        process,
        version,
        processes,
        templates,
        db,
        store,
    } = args;
    let loaded = load(&processes, &templates)?;
    let on_disk = loaded
        .processes
        .iter()
        .filter(|p| p.id == process && version.is_none_or(|v| p.version == v))
        .max_by_key(|p| p.version);
    let found = match (on_disk, version, db) {
        (Some(p), _, _) => p.clone(),
        (None, Some(v), Some(url)) => {
            let store = lianban::store::Store::connect_with(&url, store.options())
                .await
                .with_context(|| "无法连接数据库".to_owned())?;
            let Some((_, sources)) = store.definitions().sources(&process, v).await? else {
                anyhow::bail!("数据库中没有流程 {process} 的第 {v} 版");
            };
            lianban::definition::load_sources(&sources, &loaded.templates)
                .map_err(|e| anyhow::anyhow!("{e}"))?
        }
        (None, Some(v), None) => anyhow::bail!(
            "{} 中没有流程 {process} 的第 {v} 版（已存入数据库的版本请加 --db 读取）",
            processes.display()
        ),
        (None, None, _) => anyhow::bail!("没有流程 {process}（在 {} 中）", processes.display()),
    };
    print!("{}", lianban::diagram::svg(&found));
    Ok(())
}

/// `lianban show --process ID [--resolved]`: the definition's own file, or with
/// `--resolved` the merged definition (base and overlays together), each value followed by
/// the `file:line` it is written at.
///
/// # Errors
/// Definitions that do not load, an unknown process or version.
pub(crate) fn show(
    process: &str,
    version: Option<u32>,
    resolved: bool,
    processes: &Path,
    templates: &Path,
) -> anyhow::Result<()> {
    let Definitions {
        processes: catalog, ..
    } = load(processes, templates)?;
    let Some(found) = catalog
        .iter()
        .filter(|p| p.id == process && version.is_none_or(|v| p.version == v))
        .max_by_key(|p| p.version)
    else {
        match version {
            Some(v) => anyhow::bail!(
                "没有流程 {process} 第 {v} 版（在 {} 中）",
                processes.display()
            ),
            None => anyhow::bail!("没有流程 {process}（在 {} 中）", processes.display()),
        }
    };
    let text = if resolved {
        found.resolved_text()
    } else {
        let own = found
            .sources
            .iter()
            .find(|s| s.path == found.file)
            .map_or("", |s| s.text.as_str());
        if found.extends.is_empty() {
            own.to_owned()
        } else {
            format!(
                "# {}：继承 {}；用 --resolved 查看合并后的定义及每项的出处\n{own}",
                found.file,
                found.extends.join(" → ")
            )
        }
    };
    // A reader that stops early (`| head`) is not an error.
    match std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("无法写出定义"),
    }
}
