//! `lianban user …`: account management on the command line, and the demo accounts of
//! `serve --demo`. Passwords come from standard input, never from arguments (which other
//! users of the machine can see).

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::{Context as _, bail};
use lianban::accounts::{self, Role};
use lianban::app::{Definitions, DefinitionsError, DemoAccount};
use lianban::service::absences;
use lianban::store::NewAccount;

use super::args::{ScopeArgs, UserCommand};
use super::open;

/// Runs one `user` subcommand.
pub(crate) async fn run(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            db,
            username,
            department,
            roles,
            name,
            scope,
        } => {
            let username = username.trim().to_owned();
            // `:` is kept for other actors of the history (`apikey:<name>`).
            if username.is_empty() || username.chars().any(|c| c.is_whitespace() || c == ':') {
                bail!("用户名不能为空，也不能包含空格或冒号");
            }
            let roles = parse_roles(&roles)?;
            let department = department.trim().to_owned();
            let county = check_scope(&department, &scope)?;
            let password = read_password("密码")?;
            accounts::validate_password(&password, &username)?;
            let store = open(&db).await?;
            let new = NewAccount {
                name: name.unwrap_or_else(|| username.clone()),
                username,
                department,
                county,
                roles,
                password_hash: hash(password).await?,
            };
            let account = store.accounts().create(&new, chrono::Utc::now()).await?;
            println!(
                "已创建用户 {}（{}，部门 {}，县区 {}，角色 {}）",
                account.username,
                account.name,
                account.department,
                account.county.as_deref().unwrap_or("全部"),
                accounts::roles_text(&account.roles)
            );
        }
        UserCommand::List { db } => {
            let store = open(&db).await?;
            let now = chrono::Utc::now();
            println!(
                "{:<20} {:<16} {:<12} {:<12} {:<24} 状态",
                "用户名", "姓名", "部门", "县区", "角色"
            );
            for a in store.accounts().list().await? {
                let state = if a.disabled {
                    "已停用"
                } else if a.is_locked(now) {
                    "已锁定"
                } else {
                    "正常"
                };
                println!(
                    "{:<20} {:<16} {:<12} {:<12} {:<24} {state}",
                    a.username,
                    a.name,
                    a.department,
                    a.county.as_deref().unwrap_or("全部"),
                    accounts::roles_text(&a.roles)
                );
            }
        }
        UserCommand::Disable { db, username } => {
            let store = open(&db).await?;
            if !store.accounts().set_disabled(&username, true).await? {
                bail!("没有用户 {username}");
            }
            println!("已停用用户 {username}，其登录会话已全部失效");
        }
        UserCommand::Rename { db, username, name } => {
            let name = name.trim();
            if name.is_empty() || name.chars().any(char::is_control) || name.chars().count() > 50 {
                bail!("姓名不能为空、不能含控制字符，最多 50 个字");
            }
            let store = open(&db).await?;
            if !store.accounts().set_name(&username, name).await? {
                bail!("没有用户 {username}");
            }
            println!("已将用户 {username} 的姓名改为 {name}");
        }
        UserCommand::Away {
            db,
            username,
            from,
            to,
            substitute,
        } => {
            let days = (day(&from)?, day(&to)?);
            let store = open(&db).await?;
            let now = chrono::Utc::now();
            let absence =
                absences::record_absence(&store, None, &username, &substitute, days, now).await?;
            println!(
                "已登记：{} 于 {} 至 {} 请假，由 {} 代办",
                absence.user, absence.from, absence.to, absence.substitute
            );
        }
        UserCommand::Back { db, username } => {
            let store = open(&db).await?;
            let ended = absences::end_absence(&store, None, &username, chrono::Utc::now()).await?;
            if ended == 0 {
                println!("用户 {username} 没有未结束的请假");
            } else {
                println!("已为用户 {username} 销假（结束 {ended} 条请假）");
            }
        }
        UserCommand::Absences { db } => {
            let store = open(&db).await?;
            let now = chrono::Utc::now();
            println!(
                "{:<20} {:<20} {:<12} {:<12} 状态",
                "请假人", "代办人", "开始", "结束"
            );
            for a in store.accounts().all_current_absences(now).await? {
                let state = if a.holds_at(now) {
                    "请假中"
                } else {
                    "未开始"
                };
                println!(
                    "{:<20} {:<20} {:<12} {:<12} {state}",
                    a.user, a.substitute, a.from, a.to
                );
            }
        }
        UserCommand::Passwd { db, username } => {
            let store = open(&db).await?;
            if store.accounts().get(&username).await?.is_none() {
                bail!("没有用户 {username}");
            }
            let password = read_password("新密码")?;
            accounts::validate_password(&password, &username)?;
            store
                .accounts()
                .set_password(&username, &hash(password).await?)
                .await?;
            println!("已为用户 {username} 设置新密码，其登录会话已全部失效");
        }
    }
    Ok(())
}

/// Prints the demo accounts created now, with their passwords, once.
pub(crate) fn print_demo(created: &[DemoAccount]) {
    if created.is_empty() {
        println!("演示账号均已存在，未新建（密码只在创建时显示一次）。");
        return;
    }
    println!("已创建演示账号（密码只显示这一次，请妥善保存）：");
    for a in created {
        println!(
            "  {:<28} 部门 {:<10} 县区 {:<10} 角色 {:<12} 密码 {}",
            a.username,
            a.department,
            a.county.as_deref().unwrap_or("全部"),
            accounts::roles_text(&a.roles),
            a.password
        );
    }
    let _ = std::io::stdout().flush();
}

/// Checks a department (and `--county`) against the definitions under `--processes`;
/// returns the county to store. Without `--processes` and without a `processes` folder the
/// check is skipped with a warning.
///
/// # Errors
/// An empty department, definitions that do not load, or a department the definitions do
/// not declare (in that county).
pub(crate) fn check_scope(department: &str, scope: &ScopeArgs) -> anyhow::Result<Option<String>> {
    if department.is_empty() {
        bail!("部门不能为空");
    }
    let county = scope_county(scope);
    let Some(declared) = declared_scopes(scope)? else {
        return Ok(county);
    };
    let declared = declared.iter().map(|(c, d)| (c.as_str(), d.as_str()));
    accounts::check_scope(department, county.as_deref(), declared)?;
    Ok(county)
}

/// Checks the county of an intake key (`apikey create --intake`): required, and one whose
/// processes are loaded from `--processes` (skipped with a warning as in [`check_scope`]).
///
/// # Errors
/// No county given, definitions that do not load, or a county without processes.
pub(crate) fn check_county(scope: &ScopeArgs) -> anyhow::Result<String> {
    let Some(county) = scope_county(scope) else {
        bail!("收件密钥（--intake）须用 --county 指定县区：它只能受理该县区的事项");
    };
    let Some(declared) = declared_scopes(scope)? else {
        return Ok(county);
    };
    let mut counties: Vec<&str> = declared.iter().map(|(c, _)| c.as_str()).collect();
    counties.sort_unstable();
    counties.dedup();
    if !counties.contains(&county.as_str()) {
        bail!(
            "县区 `{county}` 没有流程定义；有流程定义的县区：{}",
            counties.join("、")
        );
    }
    Ok(county)
}

/// `--county`, trimmed; `None` when absent or blank.
fn scope_county(scope: &ScopeArgs) -> Option<String> {
    scope
        .county
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
}

/// The `(county, department)` pairs the definitions under `--processes` declare; `None`
/// (with a warning) when no folder was named and `processes` does not exist.
fn declared_scopes(scope: &ScopeArgs) -> anyhow::Result<Option<Vec<(String, String)>>> {
    let (dir, explicit) = match &scope.processes {
        Some(dir) => (dir.clone(), true),
        None => (std::path::PathBuf::from("processes"), false),
    };
    if explicit && !dir.exists() {
        bail!("无法加载流程定义 {}：目录或文件不存在", dir.display());
    }
    if !explicit && !dir.is_dir() {
        eprintln!(
            "提示：未找到流程定义目录 {}，未核对部门和县区（可用 --processes 指定）",
            dir.display()
        );
        return Ok(None);
    }
    let Definitions { processes, .. } =
        Definitions::load(std::slice::from_ref(&dir), &scope.templates).map_err(|e| match e {
            DefinitionsError::Templates(e) => anyhow::Error::new(e).context(format!(
                "无法加载模板目录 {}，不能核对部门（可用 --templates 指定）",
                scope.templates.display()
            )),
            DefinitionsError::Definitions(e) => anyhow::anyhow!("{e}")
                .context(format!("无法加载流程定义 {}，不能核对部门", dir.display())),
        })?;
    // A base (`abstract: true`, e.g. `shanxi.retirement`) is no county: nobody works in it.
    Ok(Some(
        processes
            .iter()
            .filter(|p| !p.is_abstract)
            .flat_map(|p| {
                let county = accounts::county_of(&p.id).to_owned();
                p.departments
                    .keys()
                    .map(move |d| (county.clone(), d.clone()))
            })
            .collect(),
    ))
}

fn parse_roles(words: &[String]) -> anyhow::Result<Vec<Role>> {
    let roles = accounts::parse_roles(&words.join(","))?;
    if roles.is_empty() {
        bail!("至少需要一个角色：clerk、supervisor 或 admin");
    }
    Ok(roles)
}

async fn hash(password: String) -> anyhow::Result<String> {
    Ok(tokio::task::spawn_blocking(move || accounts::hash_password(&password)).await??)
}

/// Reads one line from standard input; on a terminal it asks and turns echo off.
fn read_password(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    if terminal {
        eprint!("{prompt}：");
        let _ = std::io::stderr().flush();
        set_echo(false);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if terminal {
        set_echo(true);
        eprintln!();
    }
    read.context("无法从标准输入读取密码")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// Turns terminal echo on or off through `stty` (best effort: without it, input echoes).
fn set_echo(on: bool) {
    let _ = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status();
}

/// A day as typed on the command line, `YYYY-MM-DD`.
///
/// # Errors
/// Anything else, with an example.
fn day(text: &str) -> anyhow::Result<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .with_context(|| format!("日期“{text}”应写作 YYYY-MM-DD，如 2026-12-07"))
}
