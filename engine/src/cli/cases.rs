//! `lianban cases migrate`: moves running cases to another version of their definition.
//! The service plans and saves each case; this prints the plan (`--dry-run`) or what was
//! done, one line per case, with a progress bar on a terminal.

use std::collections::BTreeMap;

use anyhow::Context as _;
use lianban::app::{App, Settings, Workers};
use lianban::definition::StepId;
use lianban::runtime::{Actor, CaseId, Deadline, MigrationPlan};
use lianban::service::{CaseMigration, MigrationRequest};

use super::args::MigrateArgs;
use super::progress;

/// Runs `lianban cases migrate`. Exit status 1 when the request is refused as a whole, or
/// when some case was refused (the others moved; each refused one is named with why).
///
/// # Errors
/// A database or definitions that cannot be opened, a refused request, refused cases.
pub(crate) async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let mut settings = Settings::new(args.db.url.clone());
    settings.processes_dir = args.processes.clone();
    settings.templates_dir = args.templates.clone();
    settings.store = args.db.store.options();
    settings.workers = Workers::Off;
    let app = App::build(settings).await?;
    let engine = app.engine();
    let cases = args
        .cases
        .iter()
        .map(|c| {
            uuid::Uuid::parse_str(c)
                .map(CaseId)
                .with_context(|| format!("--case {c} 不是办件编号"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let request = MigrationRequest {
        process: args.process.clone(),
        from_version: args.from_version,
        to_version: args.to_version,
        mapping: args.map.into_iter().collect::<BTreeMap<_, _>>(),
        cases,
        dry_run: args.dry_run,
    };
    let actor = Actor {
        user: args.operator.clone(),
        department: None,
        on_behalf_of: None,
    };
    engine.migration_versions(&request).await?;
    let total = engine.migration_cases(&request).await?.len();
    let bar = progress::bar(total as u64, "迁移办件", "件");
    let outcomes = engine
        .migrate_cases(&request, &actor, &|done, _| bar.set_position(done as u64))
        .await;
    bar.finish_and_clear();
    let outcomes = outcomes?;
    let (mut moved, mut already, mut refused) = (0, 0, 0);
    for outcome in &outcomes {
        match outcome {
            CaseMigration::Moved { plan, .. } => {
                moved += 1;
                println!("{}", plan_line(plan));
            }
            CaseMigration::AlreadyMoved { case } => {
                already += 1;
                println!("办件 {case}：已在第 {} 版，未再迁移", request.to_version);
            }
            CaseMigration::Refused { case, code, reason } => {
                refused += 1;
                println!("办件 {case}：不能迁移（{code}）：{reason}");
            }
        }
    }
    let verb = if request.dry_run {
        "可迁移"
    } else {
        "已迁移"
    };
    println!(
        "{} {} 第 {} 版 → 第 {} 版：{verb} {moved} 件，不能迁移 {refused} 件，已在新版本 {already} 件{}",
        request.process,
        if request.dry_run {
            "试运行"
        } else {
            "迁移"
        },
        request.from_version,
        request.to_version,
        if request.dry_run {
            "（试运行，未作任何修改）"
        } else {
            ""
        }
    );
    anyhow::ensure!(
        refused == 0,
        "有 {refused} 件办件不能迁移，保持原版本未改动"
    );
    Ok(())
}

/// `办件 ID：第 1 版 → 第 2 版；accept → review（任务 T，已认领：clerk1）；…`.
fn plan_line(plan: &MigrationPlan) -> String {
    let mut parts = vec![format!(
        "办件 {}：第 {} 版 → 第 {} 版",
        plan.case, plan.from_version, plan.to_version
    )];
    for m in &plan.moves {
        let mut text = if m.from == m.to {
            format!("停在 {}", m.from)
        } else {
            format!("{} → {}", m.from, m.to)
        };
        if let Some(task) = m.task {
            text.push_str(&format!("（任务 {task}"));
            if let Some(role) = &m.role {
                text.push_str(&format!("，角色 {role}"));
            }
            if let Some(who) = &m.claimed_by {
                text.push_str(&format!("，仍由 {who} 认领"));
            }
            text.push('）');
        }
        parts.push(text);
    }
    for d in &plan.deadlines {
        let what = match &d.deadline {
            Deadline::Task { task } => format!("任务 {task} 期限"),
            Deadline::Wait { step } => format!("等待 {step} 期限"),
            Deadline::Case { limit } => limit.label().to_owned(),
        };
        let at = |t: Option<chrono::DateTime<chrono::Utc>>| {
            // Deadlines are Beijing working days; an operator reads them in Beijing time.
            t.map_or_else(
                || "无".to_owned(),
                |t| {
                    t.with_timezone(&chrono_tz::Asia::Shanghai)
                        .format("%Y-%m-%d %H:%M")
                        .to_string()
                },
            )
        };
        parts.push(format!("{what} {} → {}", at(d.before), at(d.after)));
    }
    parts.join("；")
}

/// Parses `--map old=new`.
pub(crate) fn step_pair(text: &str) -> Result<(StepId, StepId), String> {
    match text.split_once('=') {
        Some((old, new)) if !old.trim().is_empty() && !new.trim().is_empty() => {
            Ok((StepId(old.trim().to_owned()), StepId(new.trim().to_owned())))
        }
        _ => Err("应写成 旧步骤=新步骤，例如 --map review=confirm".to_owned()),
    }
}
