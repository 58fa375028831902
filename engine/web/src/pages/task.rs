//! `GET /tasks/{id}`: the task with its case (masked), one button per outcome the step
//! allows, the step's decision form and a reason where the outcome requires one.
//! `POST /tasks/{id}/complete`: completes it (claiming it first when nobody holds it, in the
//! same transition: the runtime's rule); a field problem re-renders the page with 422 and
//! the message at the field, a separation-of-duties refusal with 403 and the message.
//! A substitute works an absent holder's task here as if it were theirs (代办), and the
//! page says so. `POST /tasks/{id}/reassign`: a supervisor hands the task to someone of
//! the department with a reason (改派); a refusal re-renders the page with 422.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Map, Value, json};

use super::case::{facts, process_of};
use super::fields::{describe, posted, values};
use super::view::task_row;
use super::{PageUser, render};
use crate::tasks::visible_task;
use crate::{ApiError, Ctx};
use lianban_core::accounts::{ReassignRefusal, Role};
use lianban_core::definition::{StepKind, TaskStep};
use lianban_core::runtime::{RuntimeError, TaskStatus, fields_applying, outcome_problems};
use lianban_service::EngineError;
use lianban_service::records::TaskRecord;

/// Decision fields are posted as `data.<key>`.
const DATA: &str = "data.";

/// What a failed submit brings back to the page.
#[derive(Debug, Default)]
struct Attempt {
    values: Map<String, Value>,
    reason: String,
    errors: HashMap<String, String>,
    message: Option<String>,
}

async fn show(
    ctx: &Ctx,
    user: &PageUser,
    task: &TaskRecord,
    status: StatusCode,
    attempt: &Attempt,
) -> Result<Response, ApiError> {
    let engine = ctx.app.engine();
    let record = engine
        .get_case(task.case_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("办件不存在".into()))?;
    let process = process_of(ctx, &record);
    let step: Option<&TaskStep> = process
        .as_deref()
        .and_then(|p| p.step(&task.step))
        .and_then(|s| match &s.kind {
            StepKind::Task(t) => Some(t),
            _ => None,
        });
    // An outcome its check stops (受理 while the acceptance condition fails) is shown
    // disabled with the reasons, and the refusal's reason starts as those reasons, so that
    // the clerk can issue 不予受理 without typing them again.
    let today = super::view::today(engine.now());
    let workable = matches!(task.status, TaskStatus::Open | TaskStatus::Claimed);
    let mut blocked: Vec<Value> = Vec::new();
    let mut outcomes: Vec<Value> = Vec::new();
    for o in step.map(|s| s.outcomes.values()).into_iter().flatten() {
        let problems = match (&process, workable) {
            // A failing rule stops the outcome in the runtime too; say so rather than
            // fail the whole page.
            (Some(p), true) => outcome_problems(p, &record.state, o, today)
                .unwrap_or_else(|e| vec![format!("条件无法核对：{e}")]),
            _ => Vec::new(),
        };
        if !problems.is_empty() {
            blocked.push(json!({"label": o.label, "problems": problems}));
        }
        outcomes.push(json!({
            "key": o.key,
            "label": o.label,
            "reason": o.reason_required,
            "blocked": !problems.is_empty(),
        }));
    }
    let needs_reason = outcomes.iter().any(|o| o["reason"] == true);
    let reason = match blocked.first() {
        Some(b) if attempt.reason.is_empty() && needs_reason => {
            let problems: Vec<String> = b["problems"]
                .as_array()
                .into_iter()
                .flatten()
                .map(super::view::value_text)
                .collect();
            format!(
                "不符合{}条件：{}",
                b["label"].as_str().unwrap_or_default(),
                problems.join("；")
            )
        }
        _ => attempt.reason.clone(),
    };
    let fields = step.map_or_else(Vec::new, |s| {
        let mut described = describe(&s.form, DATA, &attempt.values, &attempt.errors);
        // A decision field whose `when:` does not hold for this case (邮寄单号 for a case
        // handed over at the window) is left out of sight and not posted.
        let applying = process
            .as_deref()
            .map(|p| fields_applying(p, &s.form, &record.state.form, &record.state.data, today));
        for ((shown, field), applies) in described
            .iter_mut()
            .zip(&s.form)
            .zip(applying.unwrap_or_default())
        {
            if let Value::Object(map) = shown {
                map.insert(
                    "hidden".into(),
                    json!(!applies && !attempt.errors.contains_key(&field.key)),
                );
                if applies && field.when.is_some() {
                    map.insert("required".into(), json!(field.required));
                    map.insert("conditional".into(), json!(false));
                }
            }
        }
        // A field of some outcomes says which, instead of a star that would claim it is
        // always required.
        for (shown, field) in described.iter_mut().zip(&s.form) {
            if field.outcomes.is_empty() {
                continue;
            }
            let labels: Vec<&str> = field
                .outcomes
                .iter()
                .filter_map(|key| s.outcomes.get(key).map(|o| o.label.as_str()))
                .collect();
            if let Value::Object(map) = shown {
                map.insert("only_for".into(), json!(labels.join("”或“")));
                map.insert("only_required".into(), json!(field.required));
                map.insert("required".into(), json!(false));
            }
        }
        described
    });
    let calendar = process.as_deref().and_then(|p| p.calendar_data.as_deref());
    let mut row = task_row(task, record.title.as_deref(), engine.now(), calendar);
    super::view::name_people(engine, std::slice::from_mut(&mut row)).await?;
    let principal = user.0.principal();
    let on_behalf = engine
        .actor_on(&principal, task)
        .await?
        .on_behalf_of
        .is_some();
    if let Value::Object(map) = &mut row {
        map.insert(
            "mine".into(),
            json!(task.claimed_by.as_deref() == Some(user.0.user.as_str()) || on_behalf),
        );
        map.insert("on_behalf".into(), json!(on_behalf));
        map.insert(
            "workable".into(),
            json!(matches!(
                task.status,
                TaskStatus::Open | TaskStatus::Claimed
            )),
        );
    }
    let case = facts(ctx, &record, process.as_deref(), false).await?;
    let reassign = reassign_choices(ctx, &principal, task).await?;
    let title = format!(
        "{} · {}",
        task.step_name,
        case["title"].as_str().unwrap_or_default()
    );
    render(
        ctx,
        user,
        status,
        "web/task.html.j2",
        &title,
        json!({
            "task": row,
            "case": case,
            "outcomes": outcomes,
            "needs_reason": needs_reason,
            "blocked": blocked,
            "fields": fields,
            "reason": reason,
            "reason_error": attempt.errors.get("reason"),
            "message": attempt.message,
            "reassign": reassign,
            "reassign_error": attempt.errors.get("reassign"),
            "back": format!("/tasks/{}", task.id),
        }),
    )
}

/// The task page.
pub(super) async fn page(
    State(ctx): State<Ctx>,
    user: PageUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let task = visible_task(&ctx, &user.0, &id).await?;
    show(&ctx, &user, &task, StatusCode::OK, &Attempt::default()).await
}

/// Completes the task with the chosen outcome; to the case page when done.
pub(super) async fn complete(
    State(ctx): State<Ctx>,
    user: PageUser,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    user.check_csrf(posted(&pairs, "csrf"))?;
    let task = visible_task(&ctx, &user.0, &id).await?;
    let engine = ctx.app.engine();
    let record = engine
        .get_case(task.case_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("办件不存在".into()))?;
    let fields = process_of(&ctx, &record)
        .as_deref()
        .and_then(|p| p.step(&task.step))
        .and_then(|s| match &s.kind {
            StepKind::Task(t) => Some(t.form.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let data = values(&fields, DATA, &pairs);
    let outcome = posted(&pairs, "outcome").to_owned();
    let reason = posted(&pairs, "reason").trim().to_owned();
    let actor = engine.actor_on(&user.0.principal(), &task).await?;
    let result = engine
        .complete(
            task.id,
            &actor,
            &outcome,
            data.clone(),
            (!reason.is_empty()).then(|| reason.clone()),
        )
        .await;
    let mut attempt = Attempt {
        values: data,
        reason,
        ..Attempt::default()
    };
    // A refusal the clerk can mend shows the form again, with the reason at its field; one
    // that is about who they are (受审分离) shows it above the form, which stays as typed.
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    match result {
        Ok(_) => return Ok(Redirect::to(&format!("/cases/{}", task.case_id)).into_response()),
        Err(EngineError::Runtime(RuntimeError::InvalidField { field, message, .. })) => {
            attempt.errors.insert(field, message);
            attempt.message = Some("请更正标出的字段后重新提交".into());
        }
        Err(EngineError::Runtime(e @ RuntimeError::ReasonRequired { .. })) => {
            attempt.errors.insert("reason".into(), e.to_string());
            attempt.message = Some("该办理结果须填写理由".into());
        }
        Err(EngineError::Runtime(RuntimeError::InvalidReason { message, .. })) => {
            attempt.errors.insert("reason".into(), message);
            attempt.message = Some("请更正理由后重新提交".into());
        }
        Err(EngineError::Runtime(e @ RuntimeError::SecondSupplementReasonRequired { .. })) => {
            attempt.errors.insert("reason".into(), e.to_string());
        }
        // The reasons are on the page again, above the disabled button.
        Err(EngineError::Runtime(e @ RuntimeError::OutcomeBlocked { .. })) => {
            attempt.message = Some(e.to_string());
        }
        Err(EngineError::Runtime(e @ RuntimeError::SamePerson { .. })) => {
            attempt.message = Some(e.to_string());
            status = StatusCode::FORBIDDEN;
        }
        Err(e) => return Err(e.into()),
    }
    show(&ctx, &user, &task, status, &attempt).await
}

/// The people a supervisor may hand an open task to (改派), marking who is away now;
/// `None` for anyone else or a closed task.
async fn reassign_choices(
    ctx: &Ctx,
    principal: &lianban_core::accounts::Principal,
    task: &TaskRecord,
) -> Result<Option<Value>, ApiError> {
    let open = matches!(task.status, TaskStatus::Open | TaskStatus::Claimed);
    if !open || !principal.has(Role::Supervisor) {
        return Ok(None);
    }
    let engine = ctx.app.engine();
    let people = engine.colleagues(principal).await?;
    let logins: Vec<&str> = people.iter().map(|a| a.username.as_str()).collect();
    let absences = engine.current_absences(&logins).await?;
    let now = engine.now();
    let choices: Vec<Value> = people
        .iter()
        .filter(|a| task.claimed_by.as_deref() != Some(a.username.as_str()))
        .map(|a| {
            let away = absences
                .iter()
                .any(|x| x.user == a.username && x.holds_at(now));
            json!({"login": a.username, "name": a.name, "away": away})
        })
        .collect();
    Ok(Some(json!(choices)))
}

/// A supervisor hands the task to someone of the department with a reason; back to the
/// task page, or the page again with the refusal (422).
pub(super) async fn reassign(
    State(ctx): State<Ctx>,
    user: PageUser,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    user.check_csrf(posted(&pairs, "csrf"))?;
    let task = visible_task(&ctx, &user.0, &id).await?;
    let to = posted(&pairs, "to").trim().to_owned();
    let reason = posted(&pairs, "reason").to_owned();
    let result = ctx
        .app
        .engine()
        .reassign_for(&user.0.principal(), task.id, &to, &reason)
        .await;
    let message = match result {
        Ok(_) => return Ok(Redirect::to(&format!("/tasks/{}", task.id)).into_response()),
        Err(e @ EngineError::Reassign(ReassignRefusal::NotSupervisor)) => return Err(e.into()),
        Err(EngineError::Reassign(e)) => e.to_string(),
        Err(EngineError::Runtime(e @ RuntimeError::SamePerson { .. })) => e.to_string(),
        Err(EngineError::Runtime(RuntimeError::InvalidReason { message, .. })) => message,
        Err(e) => return Err(e.into()),
    };
    let task = ctx.app.engine().get_task(task.id).await?.unwrap_or(task);
    let mut attempt = Attempt::default();
    attempt.errors.insert("reassign".into(), message);
    show(
        &ctx,
        &user,
        &task,
        StatusCode::UNPROCESSABLE_ENTITY,
        &attempt,
    )
    .await
}
