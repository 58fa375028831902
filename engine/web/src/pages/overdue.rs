//! `GET /overdue` (supervisors and admins): the department's tasks in their warning period
//! or past due, most urgent first, and the notices escalations left for its supervisors.
//! A supervisor sees their own department; an admin sees every department; whoever stands
//! in for an absent supervisor sees that department meanwhile. Read-only.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::view::{calendar_for, task_row, time};
use super::{PageUser, department_name, render};
use crate::{ApiError, Ctx};
use lianban_core::accounts::Role;
use lianban_core::runtime::TaskStatus;
use lianban_service::records::TaskQuery;

/// The most tasks and notices listed.
const LIMIT: u64 = 200;

/// The overdue page.
pub(super) async fn page(State(ctx): State<Ctx>, user: PageUser) -> Result<Response, ApiError> {
    let me = &user.0;
    let engine = ctx.app.engine();
    // Whoever stands in for an absent supervisor gets the supervisors' notices meanwhile.
    if !engine.oversees(&me.principal()).await? {
        return Err(ApiError::Forbidden(
            "只有负责人、管理员和负责人的代办人可以查看超期督办",
        ));
    }
    let departments: Vec<String> = if me.roles.contains(&Role::Admin) {
        Vec::new()
    } else {
        vec![me.department.clone()]
    };
    let now = engine.now();
    let base = TaskQuery {
        departments: departments.clone(),
        county: me.county.clone(),
        statuses: vec![TaskStatus::Open, TaskStatus::Claimed],
        limit: Some(LIMIT),
        ..TaskQuery::default()
    };
    // Overdue tasks without a warning time of their own are found by their due time.
    let mut tasks = engine
        .list_tasks(&TaskQuery {
            due_before: Some(now),
            ..base.clone()
        })
        .await?;
    for task in engine
        .list_tasks(&TaskQuery {
            warned_at: Some(now),
            ..base
        })
        .await?
    {
        if !tasks.iter().any(|t| t.id == task.id) {
            tasks.push(task);
        }
    }
    tasks.sort_by_key(|t| (t.due_at, t.created_at));
    let ids: Vec<_> = tasks.iter().map(|t| t.case_id).collect();
    let titles = engine.case_titles(&ids).await?;
    let processes: Vec<_> = engine.catalog().iter().cloned().collect();
    let mut groups: Vec<((String, String), Vec<Value>)> = Vec::new();
    for task in &tasks {
        let title = titles.get(&task.case_id.to_string()).map(String::as_str);
        let mut row = task_row(task, title, now, calendar_for(&processes, task));
        if let Value::Object(map) = &mut row {
            map.insert("role".into(), json!(task.role));
        }
        // Grouped by county too: an admin sees every county's `shebao`.
        let unit = (task.county.clone(), task.department.clone());
        match groups.iter_mut().find(|(u, _)| *u == unit) {
            Some((_, rows)) => rows.push(row),
            None => groups.push((unit, vec![row])),
        }
    }
    for (_, rows) in &mut groups {
        super::view::name_people(engine, rows).await?;
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|((county, department), rows)| {
            let overdue = rows.iter().filter(|r| r["due_class"] == "overdue").count();
            json!({
                "department": department_name(&ctx, &county, &department),
                "rows": rows,
                "overdue": overdue,
                "warning": rows.len() - overdue,
            })
        })
        .collect();
    let notices: Vec<Value> = engine
        .list_notices(&departments, me.county.as_deref(), LIMIT)
        .await?
        .into_iter()
        .map(|n| {
            json!({
                "at": time(n.created_at),
                "department": department_name(&ctx, &n.county, &n.department),
                "case_id": n.case_id.to_string(),
                "kind": n.kind,
                "message": n.message,
            })
        })
        .collect();
    render(
        &ctx,
        &user,
        StatusCode::OK,
        "web/overdue.html.j2",
        "超期督办",
        json!({"groups": groups, "notices": notices}),
    )
}
