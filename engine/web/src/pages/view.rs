//! What the page templates show, made from records: times in Beijing time, tasks with their
//! due state, the timeline in Chinese words. Personal data is never added here unmasked;
//! titles are stored masked.

use chrono::{DateTime, Datelike as _, FixedOffset, Offset as _, Utc};
use serde_json::{Value, json};

use lianban_core::definition::{Calendar, EscalateOn, Process, StepKind};
use lianban_core::runtime::{CaseClock, CaseLimit, Deadline, Event, TaskStatus};
use lianban_service::records::{HistoryEntry, TaskRecord};

/// Without a warning time of their own, tasks due within this many hours are flagged as
/// due soon.
const WARN_HOURS: i64 = 24;

fn beijing() -> FixedOffset {
    // UTC+8 has no daylight saving; the constant offset is always in range.
    FixedOffset::east_opt(8 * 3600).unwrap_or(Utc.fix())
}

/// `2026-11-29 17:00` in Beijing time.
pub(super) fn time(at: DateTime<Utc>) -> String {
    at.with_timezone(&beijing())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// Today's date in Beijing (what rules see as `today`).
pub(super) fn today(now: DateTime<Utc>) -> chrono::NaiveDate {
    now.with_timezone(&beijing()).date_naive()
}

/// A computed value in words: 是/否, lists joined with `；`, text as is.
pub(super) fn value_text(value: &Value) -> String {
    match value {
        Value::Null => "—".to_owned(),
        Value::Bool(true) => "是".to_owned(),
        Value::Bool(false) => "否".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join("；"),
        other => other.to_string(),
    }
}

/// A value of the case as a clerk reads it: [`value_text`], with dates in words
/// (`2026-03-05` → 2026年3月5日, `1965-01` → 1965年1月).
pub(super) fn readable_value(value: &Value) -> String {
    match value {
        Value::String(s) => date_words(s).unwrap_or_else(|| s.clone()),
        Value::Array(items) => items
            .iter()
            .map(readable_value)
            .collect::<Vec<_>>()
            .join("；"),
        other => value_text(other),
    }
}

/// `YYYY-MM-DD` or `YYYY-MM` in words; `None` for anything else.
fn date_words(text: &str) -> Option<String> {
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(format!("{}年{}月{}日", day.year(), day.month(), day.day()));
    }
    let (year, month) = text.split_once('-')?;
    let ok = year.len() == 4
        && month.len() == 2
        && year
            .bytes()
            .chain(month.bytes())
            .all(|b| b.is_ascii_digit());
    let month: u32 = month.parse().ok().filter(|m| ok && (1..=12).contains(m))?;
    Some(format!("{year}年{month}月"))
}

/// `overdue`, `warning` or `""`, for a due time (and the start of its warning period, when
/// the step sets one) seen at `now`.
pub(super) fn due_class(
    due: Option<DateTime<Utc>>,
    warn: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> &'static str {
    match (due, warn) {
        (Some(due), _) if due < now => "overdue",
        (Some(_), Some(warn)) if warn <= now => "warning",
        (Some(due), None) if due < now + chrono::Duration::hours(WARN_HOURS) => "warning",
        _ => "",
    }
}

/// How much time is left, in working days on `calendar` (calendar days without one):
/// 还剩 2 个工作日, 今天到期, 已超期 3 个工作日.
pub(super) fn due_text(
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    calendar: Option<&Calendar>,
) -> String {
    let (due_day, today) = (today(due), today(now));
    let count = |a, b| match calendar {
        Some(c) => c.workdays_between(a, b).ok().map(|n| (n, "个工作日")),
        None => Some(((b - a).num_days(), "天")),
    };
    if due < now {
        return match count(due_day, today) {
            Some((n, unit)) if n > 0 => format!("已超期 {n} {unit}"),
            _ => "已超期".to_owned(),
        };
    }
    if due_day == today {
        return "今天到期".to_owned();
    }
    match count(today, due_day) {
        Some((n, unit)) => format!("还剩 {n} {unit}"),
        None => String::new(),
    }
}

/// The calendar a task counts in: its definition's (found by step and role), else the
/// first loaded one.
pub(super) fn calendar_for<'a>(
    processes: &'a [std::sync::Arc<Process>],
    task: &TaskRecord,
) -> Option<&'a Calendar> {
    let owns = |p: &Process| {
        p.step(&task.step)
            .is_some_and(|s| matches!(&s.kind, StepKind::Task(_)))
            && p.roles.contains_key(&task.role)
    };
    processes
        .iter()
        .find(|p| owns(p) && p.calendar_data.is_some())
        .or_else(|| processes.iter().find(|p| p.calendar_data.is_some()))
        .and_then(|p| p.calendar_data.as_deref())
}

/// The case's time limits for the case and task pages: each deadline with its days left,
/// and whether the clock is stopped.
pub(super) fn case_clock(
    clock: &CaseClock,
    now: DateTime<Utc>,
    calendar: Option<&Calendar>,
    open: bool,
) -> Value {
    let limit = |limit: CaseLimit| {
        let (due, provisional) = clock.due(limit);
        due.map(|due| {
            let running = open && clock.paused_since.is_none();
            json!({
                "label": limit.label(),
                "due": time(due),
                "provisional": provisional,
                "left": if running { due_text(due, now, calendar) } else { String::new() },
                "class": if running { due_class(Some(due), None, now) } else { "" },
            })
        })
    };
    let limits: Vec<Value> = [limit(CaseLimit::Promised), limit(CaseLimit::Legal)]
        .into_iter()
        .flatten()
        .collect();
    json!({
        "limits": limits,
        "paused": open && clock.paused_since.is_some(),
        "paused_since": clock.paused_since.map(time),
        "paused_workdays": clock.paused_workdays,
    })
}

/// 待认领, 已认领, 已办结, 已取消.
pub(super) fn task_status_text(status: &TaskStatus) -> &'static str {
    match status {
        TaskStatus::Open => "待认领",
        TaskStatus::Claimed => "已认领",
        TaskStatus::Completed => "已办结",
        TaskStatus::Cancelled => "已取消",
    }
}

/// A task row: id, case, step name, status, claimant, due time, the time left in words
/// (working days on `calendar`) and the warning/overdue class.
pub(super) fn task_row(
    task: &TaskRecord,
    title: Option<&str>,
    now: DateTime<Utc>,
    calendar: Option<&Calendar>,
) -> Value {
    let open = task.closed_at.is_none();
    json!({
        "id": task.id.to_string(),
        "case_id": task.case_id.to_string(),
        "title": title.unwrap_or("（无标题）"),
        "step": task.step.as_str(),
        "step_name": task.step_name,
        "open": matches!(task.status, TaskStatus::Open),
        "claimed": matches!(task.status, TaskStatus::Claimed),
        "status": task_status_text(&task.status),
        "claimed_by": task.claimed_by,
        "due": task.due_at.map(time),
        "due_provisional": task.due_provisional,
        "due_left": task.due_at.filter(|_| open).map(|d| due_text(d, now, calendar)),
        "warn_at": task.warn_at.map(time),
        "due_class": if open { due_class(task.due_at, task.warn_at, now) } else { "" },
        "outcome": task.outcome,
        "completed_by": task.completed_by,
        "closed_at": task.closed_at.map(time),
    })
}

/// Replaces the logins in task rows' `claimed_by` and `completed_by` with the people's
/// names (a row keeps the login as `claimed_by_login`): pages name people, not accounts.
///
/// # Errors
/// The store failing.
pub(super) async fn name_people(
    engine: &lianban_service::Engine,
    rows: &mut [Value],
) -> Result<(), lianban_service::EngineError> {
    const WHO: [&str; 2] = ["claimed_by", "completed_by"];
    let mut logins: Vec<String> = rows
        .iter()
        .flat_map(|row| {
            WHO.iter()
                .filter_map(|k| row[*k].as_str().map(str::to_owned))
        })
        .collect();
    if logins.is_empty() {
        return Ok(());
    }
    logins.sort_unstable();
    logins.dedup();
    let names = engine.display_names(&logins).await?;
    for row in rows.iter_mut() {
        let Value::Object(map) = row else { continue };
        if let Some(login) = map.get("claimed_by").cloned() {
            map.insert("claimed_by_login".into(), login);
        }
        for key in WHO {
            let name = map
                .get(key)
                .and_then(Value::as_str)
                .and_then(|login| names.get(login));
            if let Some(name) = name {
                map.insert(key.into(), json!(name));
            }
        }
    }
    Ok(())
}

/// `Content-Disposition` of a download: an ASCII `fallback` file name for old clients and
/// the real (often Chinese) `name` as RFC 5987 `filename*`.
pub(super) fn attachment(fallback: &str, name: &str) -> String {
    // form_urlencoded writes a space as `+`, which `filename*` would keep literally.
    let encoded: String = form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// The Chinese word for a history action.
pub(super) fn action_text(action: &str) -> &str {
    match action {
        "start" => "受理申请，办件开始",
        "claim" => "认领任务",
        "unclaim" => "放弃认领",
        "reassign" => "改派任务",
        "complete" => "办理完成",
        "deliver" => "收到补正或外部信息",
        "cancel" => "撤件",
        "view" => "查看办件",
        "timer" | "deadline" => "时限到达（系统）",
        "recount" => "节假日安排更新，重算暂定期限（系统）",
        "schedule" => "定时任务",
        "push" => "推送至部门系统",
        "migrate" => "迁移到新版本的流程定义",
        other => other,
    }
}

/// The timeline words of a move to another definition version, with the step mapping:
/// `流程定义由第 1 版迁移至第 2 版（步骤 review → confirm）`.
fn migration_text(entry: &HistoryEntry) -> Option<String> {
    entry.events.iter().find_map(|event| match event {
        lianban_core::runtime::Event::CaseMigrated {
            from_version,
            to_version,
            moves,
            ..
        } => {
            let moved: Vec<String> = moves
                .iter()
                .filter(|m| m.from != m.to)
                .map(|m| format!("{} → {}", m.from, m.to))
                .collect();
            Some(format!(
                "流程定义由第 {from_version} 版迁移至第 {to_version} 版{}",
                if moved.is_empty() {
                    String::new()
                } else {
                    format!("（步骤 {}）", moved.join("，"))
                }
            ))
        }
        _ => None,
    })
}

/// The timeline words of a delivery (or dead letter) to a department's system, with the
/// receipt: `推送至部门系统：阳城县医保局已接收（HTTP 200，回执 R-1，第 3 次推送）`.
fn push_text(entry: &HistoryEntry, process: Option<&Process>) -> Option<String> {
    let name = |key: &str| {
        process
            .and_then(|p| p.departments.get(key))
            .map_or_else(|| key.to_owned(), |d| d.name.clone())
    };
    entry.events.iter().find_map(|event| match event {
        lianban_core::runtime::Event::PushDelivered {
            department,
            status,
            receipt,
            attempts,
            ..
        } => Some(format!(
            "推送至部门系统：{}已接收（HTTP {status}{}，第 {attempts} 次推送）",
            name(department),
            receipt
                .as_deref()
                .map(|r| format!("，回执 {r}"))
                .unwrap_or_default()
        )),
        lianban_core::runtime::Event::PushFailed {
            department,
            attempts,
            ..
        } => Some(format!(
            "推送至部门系统失败：{} 共推送 {attempts} 次未成功，已转入推送队列待管理员处理",
            name(department)
        )),
        _ => None,
    })
}

/// 办理中, 已办结, 已撤件.
pub(super) fn case_status_text(status: &str) -> &str {
    match status {
        "active" => "办理中",
        "completed" => "已办结",
        "cancelled" => "已撤件",
        other => other,
    }
}

/// Step names for step ids (the id itself when the definition does not know it).
pub(super) fn step_names<'a>(
    process: Option<&Process>,
    steps: impl IntoIterator<Item = &'a lianban_core::definition::StepId>,
) -> Vec<String> {
    steps
        .into_iter()
        .map(|s| {
            process
                .and_then(|p| p.step(s))
                .map_or_else(|| s.as_str().to_owned(), |step| step.name.clone())
        })
        .collect()
}

/// The deadline events of a history row in words: the clock stopping and running again,
/// warnings, overdue tasks and limits, notices and escalations.
fn deadline_notes(entry: &HistoryEntry, process: Option<&Process>) -> Vec<String> {
    let step_name = |step: &lianban_core::definition::StepId| {
        step_names(process, std::iter::once(step))
            .pop()
            .unwrap_or_default()
    };
    let role_name = |role: &str| {
        process
            .and_then(|p| p.roles.get(role))
            .map_or_else(|| role.to_owned(), |r| r.name.clone())
    };
    entry
        .events
        .iter()
        .filter_map(|event| match event {
            Event::ClockPaused { step } => Some(format!(
                "办件计时暂停（{}，不计入办理时限）",
                step_name(step)
            )),
            Event::ClockResumed { step, workdays, .. } => Some(format!(
                "办件恢复计时（{}结束，时限顺延 {workdays} 个工作日）",
                step_name(step)
            )),
            Event::DeadlineReached { on, .. } => Some(
                match on {
                    EscalateOn::Warning => "任务进入预警期",
                    EscalateOn::Overdue => "任务已超期",
                }
                .to_owned(),
            ),
            Event::CaseLimitReached { limit, .. } => Some(format!("办件已超过{}", limit.label())),
            Event::DeadlineRecounted {
                deadline,
                due_at,
                provisional,
                ..
            } => {
                let what = match deadline {
                    Deadline::Task { .. } => "任务期限".to_owned(),
                    Deadline::Wait { step } => format!("“{}”的期限", step_name(step)),
                    Deadline::Case { limit } => limit.label().to_owned(),
                };
                let mark = if *provisional {
                    "（仍为暂定）"
                } else {
                    ""
                };
                Some(format!(
                    "节假日安排更新，{what}按工作日重新计算为 {}{mark}",
                    time(*due_at)
                ))
            }
            Event::DueDateUnknown { reason, .. } => Some(format!("到期日期无法计算：{reason}")),
            Event::WaitOverdue { step, .. } => {
                Some(format!("“{}”已超过期限，仍在等待", step_name(step)))
            }
            Event::SupervisorNotified { message, .. } => Some(format!("已通知负责人：{message}")),
            Event::TaskEscalated { role, .. } => Some(format!("任务已转交{}", role_name(role))),

            _ => None,
        })
        .collect()
}

/// A completion in words with the step and the outcome the clerk chose:
/// `办理完成（受理：一次性告知补正）`. The step is the one the case left whose task offers
/// that outcome (in a parallel part several steps are open at once).
fn completion_text(entry: &HistoryEntry, process: Option<&Process>) -> Option<String> {
    if entry.action != "complete" {
        return None;
    }
    let outcome = entry.events.iter().find_map(|event| match event {
        Event::TaskCompleted { outcome, .. } => Some(outcome),
        _ => None,
    })?;
    let process = process?;
    entry.from_steps.iter().find_map(|id| {
        let step = process.step(id)?;
        let lianban_core::definition::StepKind::Task(task) = &step.kind else {
            return None;
        };
        let chosen = task.outcomes.get(outcome.as_str())?;
        Some(format!("办理完成（{}：{}）", step.name, chosen.label))
    })
}

/// One timeline row: when, who (the person's name from `names`, else the login; and the
/// department), what, and where the case went.
pub(super) fn history_row(
    entry: &HistoryEntry,
    process: Option<&Process>,
    names: &std::collections::HashMap<String, String>,
) -> Value {
    let moved = entry.from_steps != entry.to_steps;
    let name = |login: &String| names.get(login).unwrap_or(login).clone();
    let mut notes = deadline_notes(entry, process);
    notes.extend(entry.events.iter().filter_map(|event| match event {
        Event::TaskReassigned {
            to: Some(to),
            reason,
            ..
        } => Some(match reason {
            Some(reason) => format!("改派给{}，原因：{reason}", name(to)),
            None => format!("改派给{}", name(to)),
        }),
        _ => None,
    }));
    json!({
        "notes": notes,
        "at": time(entry.at),
        "actor": names.get(&entry.actor.user).unwrap_or(&entry.actor.user),
        "login": entry.actor.user,
        // 代办: the substitute acted for an absent colleague.
        "on_behalf_of": entry.actor.on_behalf_of.as_ref().map(|login| names.get(login).unwrap_or(login)),
        "department": entry.actor.department.as_deref().map(|key| {
            process
                .and_then(|p| p.departments.get(key))
                .map_or_else(|| key.to_owned(), |d| d.name.clone())
        }),
        "action": push_text(entry, process)
            .or_else(|| migration_text(entry))
            .or_else(|| completion_text(entry, process))
            .unwrap_or_else(|| action_text(&entry.action).to_owned()),
        "view": entry.action == "view",
        "to_steps": if moved { step_names(process, &entry.to_steps) } else { Vec::new() },
        "status": if entry.from_status.as_deref() != Some(entry.to_status.as_str()) {
            Some(case_status_text(&entry.to_status).to_owned())
        } else {
            None
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_beijing_and_due_classes_follow_now() {
        let at = DateTime::parse_from_rfc3339("2026-11-29T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        assert_eq!(time(at), "2026-11-29 18:00");
        assert_eq!(
            due_class(Some(at), None, at + chrono::Duration::hours(1)),
            "overdue"
        );
        assert_eq!(
            due_class(Some(at), None, at - chrono::Duration::hours(1)),
            "warning"
        );
        assert_eq!(
            due_class(Some(at), None, at - chrono::Duration::days(3)),
            ""
        );
        assert_eq!(due_class(None, None, at), "");
        // With its own warning time, a task is in warning from then on, not 24 hours ahead.
        let warn = Some(at - chrono::Duration::days(2));
        assert_eq!(
            due_class(Some(at), warn, at - chrono::Duration::days(3)),
            ""
        );
        assert_eq!(
            due_class(Some(at), warn, at - chrono::Duration::days(1)),
            "warning"
        );
    }
}
