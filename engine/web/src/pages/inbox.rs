//! `GET /inbox`: the open tasks of the clerk's department, soonest due first, with filters
//! and pages; `POST /tasks/{id}/claim` and `/unclaim` as forms that redirect back.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::view::{calendar_for, task_row};
use super::{PageUser, render, safe_next};
use crate::input::QueryParams;
use crate::tasks::visible_task;
use crate::{ApiError, Ctx};
use lianban_core::runtime::TaskStatus;
use lianban_service::records::TaskQuery;

/// Rows per page.
const PAGE_SIZE: u64 = 50;

/// The inbox's filters, as the filter form sends them (unknown values are ignored).
#[derive(Debug, Default, Deserialize)]
pub(super) struct InboxFilters {
    #[serde(default)]
    step: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    claimed: String,
    #[serde(default)]
    due: String,
    /// An applicant's exact name or ID number.
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<u64>,
}

/// The inbox page.
pub(super) async fn page(
    State(ctx): State<Ctx>,
    user: PageUser,
    QueryParams(filters): QueryParams<InboxFilters>,
) -> Result<Response, ApiError> {
    let me = &user.0;
    if !me.principal().works_cases() {
        return Err(ApiError::Forbidden("只有经办人和负责人有待办事项"));
    }
    let engine = ctx.app.engine();
    let now = engine.now();
    let covering = engine.standing_in_for(&me.principal()).await?;
    let statuses = match filters.status.as_str() {
        "open" => vec![TaskStatus::Open],
        "claimed" => vec![TaskStatus::Claimed],
        _ => vec![TaskStatus::Open, TaskStatus::Claimed],
    };
    let (page_no, skip) = crate::input::page_offset(filters.page, PAGE_SIZE)?;
    let query = TaskQuery {
        departments: vec![me.department.clone()],
        county: me.county.clone(),
        statuses,
        claimed_by: (filters.claimed == "me").then(|| me.user.clone()),
        // 我认领的 includes what the user works for absent colleagues (代办).
        also_claimed_by: covering.clone(),
        unclaimed: filters.claimed == "none",
        steps: [filters.step.clone()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect(),
        due_before: (filters.due == "overdue").then_some(now),
        // "Soon" is the warning period each step declares (`warn`), overdue ones included.
        warned_at: (filters.due == "soon").then_some(now),
        search: Some(filters.q.trim().to_owned()).filter(|q| !q.is_empty()),
        // One extra row says whether there is a next page.
        limit: Some(PAGE_SIZE + 1),
        offset: skip,
        ..TaskQuery::default()
    };
    let mut tasks = engine.list_tasks(&query).await?;
    let more = tasks.len() as u64 > PAGE_SIZE;
    tasks.truncate(usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX));
    let ids: Vec<_> = tasks.iter().map(|t| t.case_id).collect();
    let titles = engine.case_titles(&ids).await?;
    let processes: Vec<_> = engine.catalog().iter().cloned().collect();
    let mut rows: Vec<Value> = tasks
        .iter()
        .map(|t| {
            let title = titles.get(&t.case_id.to_string()).map(String::as_str);
            let mut row = task_row(t, title, now, calendar_for(&processes, t));
            if let Value::Object(map) = &mut row {
                let standing_in = t.claimed_by.as_ref().is_some_and(|h| covering.contains(h));
                map.insert("on_behalf".into(), json!(standing_in));
            }
            row
        })
        .collect();
    super::view::name_people(engine, &mut rows).await?;
    let link = |n: u64| {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("step", &filters.step)
            .append_pair("status", &filters.status)
            .append_pair("claimed", &filters.claimed)
            .append_pair("due", &filters.due)
            .append_pair("q", &filters.q)
            .append_pair("page", &n.to_string())
            .finish();
        format!("/inbox?{q}")
    };
    let standing_in = engine.display_names(&covering).await?;
    let standing_in: Vec<&String> = covering
        .iter()
        .map(|login| standing_in.get(login).unwrap_or(login))
        .collect();
    let page = json!({
        "rows": rows,
        "standing_in_for": standing_in,
        "steps": department_steps(&ctx, &me.department),
        "filters": {
            "step": filters.step,
            "status": filters.status,
            "claimed": filters.claimed,
            "due": filters.due,
            "q": filters.q,
        },
        "page": page_no,
        "prev": (page_no > 1).then(|| link(page_no - 1)),
        "next": more.then(|| link(page_no + 1)),
        "back": link(page_no),
    });
    render(
        &ctx,
        &user,
        StatusCode::OK,
        "web/inbox.html.j2",
        "收件箱",
        page,
    )
}

/// The task steps of the department's roles in the loaded definitions, for the step filter.
fn department_steps(ctx: &Ctx, department: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for process in ctx.app.engine().catalog().iter() {
        for step in process.steps.values() {
            let lianban_core::definition::StepKind::Task(task) = &step.kind else {
                continue;
            };
            let ours = process
                .roles
                .get(&task.role)
                .is_some_and(|r| r.department == department);
            let id = step.id.as_str();
            if ours && !out.iter().any(|s| s["id"] == id) {
                out.push(json!({"id": id, "name": step.name}));
            }
        }
    }
    out
}

/// A form that carries the CSRF token and where to go afterwards.
#[derive(Debug, Deserialize)]
pub(super) struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    back: String,
}

fn back_to(form: &ActionForm) -> Redirect {
    Redirect::to(safe_next(&form.back).unwrap_or("/inbox"))
}

/// Claims a task, then goes back.
pub(super) async fn claim(
    State(ctx): State<Ctx>,
    user: PageUser,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Redirect, ApiError> {
    user.check_csrf(&form.csrf)?;
    let task = visible_task(&ctx, &user.0, &id).await?;
    let engine = ctx.app.engine();
    let actor = engine.actor_on(&user.0.principal(), &task).await?;
    engine.claim(task.id, &actor).await?;
    Ok(back_to(&form))
}

/// Gives a task back (a supervisor may release another clerk's claim), then goes back.
pub(super) async fn unclaim(
    State(ctx): State<Ctx>,
    user: PageUser,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Redirect, ApiError> {
    user.check_csrf(&form.csrf)?;
    let task = visible_task(&ctx, &user.0, &id).await?;
    crate::tasks::release(&ctx, &user.0, &task).await?;
    Ok(back_to(&form))
}
