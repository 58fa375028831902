//! `/api/v1/inbox` and `/api/v1/tasks/{id}/…`: a department's open tasks, claim, unclaim,
//! complete and a supervisor's reassign (改派). A substitute works an absent clerk's claimed
//! tasks on their behalf (代办): the inbox marks them and the history records both. A task of another department (or, for an account limited to a county,
//! of another county) answers 404, as if it did not exist.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::answers::{Completed, Task};
use super::input::{JsonBody, QueryParams};
use super::{ApiError, Ctx, Identity};
use lianban_core::runtime::{TaskId, TaskStatus};
use lianban_service::records::{TaskQuery, TaskRecord};

/// Query of `GET /api/v1/inbox`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct InboxParams {
    status: Option<String>,
    step: Option<String>,
    claimed: Option<String>,
    limit: Option<u64>,
    offset: Option<u64>,
}

/// Page size when none is asked for, and the largest allowed.
pub(super) const DEFAULT_LIMIT: u64 = 50;
pub(super) const MAX_LIMIT: u64 = 500;

/// Checks `limit`: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
pub(super) fn limit(limit: Option<u64>) -> Result<u64, ApiError> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n),
        _ => Err(crate::input::out_of_range(
            "limit",
            format!("应为 1 到 {MAX_LIMIT}"),
        )),
    }
}

/// The caller's department's open tasks, soonest due first.
#[utoipa::path(
    get,
    path = "/api/v1/inbox",
    operation_id = "listInbox",
    tag = "tasks",
    params(InboxParams),
    responses(
        (status = 200, description = "the department's open tasks, soonest due first", body = Vec<Task>),
        (status = 400, description = "a query parameter is unreadable, unknown or out of range (names it; `code: out-of-range` for the last)", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::AuthProblems,
    )
)]
pub(super) async fn inbox(
    State(ctx): State<Ctx>,
    identity: Identity,
    QueryParams(params): QueryParams<InboxParams>,
) -> Result<Json<Vec<Task>>, ApiError> {
    if !identity.principal().works_cases() {
        return Err(ApiError::Forbidden("只有经办人和负责人有待办事项"));
    }
    let statuses = match params.status.as_deref() {
        None | Some("") => vec![TaskStatus::Open, TaskStatus::Claimed],
        Some("open") => vec![TaskStatus::Open],
        Some("claimed") => vec![TaskStatus::Claimed],
        Some(_) => return Err(ApiError::field("status", "应为 open 或 claimed")),
    };
    let engine = ctx.app.engine();
    let principal = identity.principal();
    let covering = engine.standing_in_for(&principal).await?;
    let (claimed_by, unclaimed) = match params.claimed.as_deref() {
        None | Some("") => (None, false),
        Some("me") => (Some(identity.user.clone()), false),
        Some("none") => (None, true),
        Some(_) => return Err(ApiError::field("claimed", "应为 me 或 none")),
    };
    let query = TaskQuery {
        departments: vec![identity.department.clone()],
        county: identity.county.clone(),
        statuses,
        also_claimed_by: if claimed_by.is_some() {
            covering.clone()
        } else {
            Vec::new()
        },
        claimed_by,
        unclaimed,
        steps: params.step.into_iter().filter(|s| !s.is_empty()).collect(),
        limit: Some(limit(params.limit)?),
        offset: crate::input::offset(params.offset)?,
        ..TaskQuery::default()
    };
    let now = engine.now();
    let tasks = engine.list_tasks(&query).await?;
    Ok(Json(
        tasks
            .iter()
            .map(|t| Task::in_inbox(t, now, &covering))
            .collect(),
    ))
}

/// The task, if the caller may work it; otherwise 404 (existence is not revealed).
pub(super) async fn visible_task(
    ctx: &Ctx,
    identity: &Identity,
    id: &str,
) -> Result<TaskRecord, ApiError> {
    let not_found = || ApiError::NotFound("任务不存在".into());
    let id = Uuid::parse_str(id).map(TaskId).map_err(|_| not_found())?;
    let task = ctx.app.engine().get_task(id).await?.ok_or_else(not_found)?;
    if !identity
        .principal()
        .may_work_task(&task.department, &task.county)
    {
        return Err(not_found());
    }
    Ok(task)
}

async fn reread(ctx: &Ctx, id: TaskId) -> Result<Option<Task>, ApiError> {
    let task = ctx.app.engine().get_task(id).await?;
    Ok(task.as_ref().map(Task::of))
}

/// Takes a task.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/claim",
    operation_id = "claimTask",
    tag = "tasks",
    params(("id" = String, Path, description = "task id (UUID)")),
    responses(
        (status = 200, description = "the task, claimed", body = Task),
        super::openapi::AuthProblems,
        (status = 404, description = "no such task, or another department's", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "someone else holds it, or it is closed", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn claim(
    State(ctx): State<Ctx>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<Option<Task>>, ApiError> {
    let task = visible_task(&ctx, &identity, &id).await?;
    let engine = ctx.app.engine();
    let actor = engine.actor_on(&identity.principal(), &task).await?;
    engine.claim(task.id, &actor).await?;
    Ok(Json(reread(&ctx, task.id).await?))
}

/// Gives a task back to its role; a supervisor may also release another clerk's claim.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/unclaim",
    operation_id = "unclaimTask",
    tag = "tasks",
    params(("id" = String, Path, description = "task id (UUID)")),
    responses(
        (status = 200, description = "the task, released", body = Task),
        super::openapi::AuthProblems,
        (status = 404, description = "no such task, or another department's", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "the task is closed", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn unclaim(
    State(ctx): State<Ctx>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<Option<Task>>, ApiError> {
    let task = visible_task(&ctx, &identity, &id).await?;
    release(&ctx, &identity, &task).await?;
    Ok(Json(reread(&ctx, task.id).await?))
}

/// Gives `task` back to its role for `identity`: their own claim, an absent holder's they
/// stand in for, or (a supervisor) anyone's. The pages' 放弃 does the same.
pub(super) async fn release(
    ctx: &Ctx,
    identity: &Identity,
    task: &TaskRecord,
) -> Result<(), ApiError> {
    let engine = ctx.app.engine();
    let actor = engine.actor_on(&identity.principal(), task).await?;
    let someone_else = task
        .claimed_by
        .as_ref()
        .is_some_and(|h| *h != identity.user && actor.on_behalf_of.as_ref() != Some(h));
    if someone_else && identity.principal().may_release_others() {
        engine.reassign(task.id, None, &actor).await?;
    } else {
        engine.unclaim(task.id, &actor).await?;
    }
    Ok(())
}

/// Body of `POST /api/v1/tasks/{id}/complete`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CompleteBody {
    outcome: String,
    #[serde(default)]
    data: Map<String, Value>,
    #[serde(default)]
    reason: Option<String>,
}

/// Finishes a task with an outcome; a concurrent completion that lost answers 409.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/complete",
    operation_id = "completeTask",
    tag = "tasks",
    params(("id" = String, Path, description = "task id (UUID)")),
    request_body = CompleteBody,
    responses(
        (status = 200, description = "the task and where its case went", body = Completed),
        (status = 400, description = "unreadable JSON", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 415, description = "the body is not declared as JSON (`Content-Type: application/json`)", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::AuthProblems,
        (status = 404, description = "no such task, or another department's", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "another completion won, or the task is closed", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "unknown outcome, a bad field, or a required reason missing", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn complete(
    State(ctx): State<Ctx>,
    identity: Identity,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CompleteBody>,
) -> Result<Json<Completed>, ApiError> {
    let task = visible_task(&ctx, &identity, &id).await?;
    let reason = body.reason.filter(|r| !r.trim().is_empty());
    let engine = ctx.app.engine();
    let actor = engine.actor_on(&identity.principal(), &task).await?;
    let transition = engine
        .complete(task.id, &actor, &body.outcome, body.data, reason)
        .await?;
    let task = reread(&ctx, task.id).await?;
    Ok(Json(Completed::new(task, &transition.state)))
}

/// Body of `POST /api/v1/tasks/{id}/reassign`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ReassignBody {
    /// Login of the clerk or supervisor of the task's department to hand it to.
    to: String,
    /// Why (改派原因), kept in the history.
    reason: String,
}

/// A supervisor hands an open task of their department to someone there, with a reason.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/reassign",
    operation_id = "reassignTask",
    tag = "tasks",
    params(("id" = String, Path, description = "task id (UUID)")),
    request_body = ReassignBody,
    responses(
        (status = 200, description = "the task, now claimed by `to`", body = Task),
        (status = 400, description = "unreadable JSON", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::AuthProblems,
        (status = 404, description = "no such task, or another department's", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "the task is closed", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "no reason (`reason-required`), `to` is not of the department (`reassign-target`) or is away (`assignee-away`)", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn reassign(
    State(ctx): State<Ctx>,
    identity: Identity,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReassignBody>,
) -> Result<Json<Option<Task>>, ApiError> {
    let task = visible_task(&ctx, &identity, &id).await?;
    ctx.app
        .engine()
        .reassign_for(&identity.principal(), task.id, body.to.trim(), &body.reason)
        .await?;
    Ok(Json(reread(&ctx, task.id).await?))
}
