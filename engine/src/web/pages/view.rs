//! What the page templates show, made from records: times in Beijing time, tasks with their
//! due state, the timeline in Chinese words. Personal data is never added here unmasked;
//! titles are stored masked.

use chrono::{DateTime, FixedOffset, Offset as _, Utc};
use serde_json::{Value, json};

use crate::definition::Process;
use crate::runtime::TaskStatus;
use crate::store::{HistoryEntry, TaskRecord};

/// Tasks due within this many hours are flagged as due soon.
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

/// `overdue`, `warning` or `""`, for a due time seen at `now`.
pub(super) fn due_class(due: Option<DateTime<Utc>>, now: DateTime<Utc>) -> &'static str {
    match due {
        Some(due) if due < now => "overdue",
        Some(due) if due < now + chrono::Duration::hours(WARN_HOURS) => "warning",
        _ => "",
    }
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

/// A task row: id, case, step name, status, claimant, due time and its class.
pub(super) fn task_row(task: &TaskRecord, title: Option<&str>, now: DateTime<Utc>) -> Value {
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
        "due_class": if task.closed_at.is_none() { due_class(task.due_at, now) } else { "" },
        "outcome": task.outcome,
        "completed_by": task.completed_by,
        "closed_at": task.closed_at.map(time),
    })
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
        "timer" | "deadline" => "期限到达",
        "schedule" => "定时任务",
        "push" => "推送至部门系统",
        other => other,
    }
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
        crate::runtime::Event::PushDelivered {
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
        crate::runtime::Event::PushFailed {
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
    steps: impl IntoIterator<Item = &'a crate::definition::StepId>,
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

/// One timeline row: when, who (and department), what, and where the case went.
pub(super) fn history_row(entry: &HistoryEntry, process: Option<&Process>) -> Value {
    let moved = entry.from_steps != entry.to_steps;
    json!({
        "at": time(entry.at),
        "actor": entry.actor.user,
        "department": entry.actor.department,
        "action": push_text(entry, process).unwrap_or_else(|| action_text(&entry.action).to_owned()),
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
            due_class(Some(at), at + chrono::Duration::hours(1)),
            "overdue"
        );
        assert_eq!(
            due_class(Some(at), at - chrono::Duration::hours(1)),
            "warning"
        );
        assert_eq!(due_class(Some(at), at - chrono::Duration::days(3)), "");
        assert_eq!(due_class(None, at), "");
    }
}
