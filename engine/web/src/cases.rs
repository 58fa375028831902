//! `/api/v1/cases…`: start a case, list the department's cases (personal data masked), get
//! one case in full (recorded in its history as a `view`), and its documents. A case the
//! caller's department takes no part in answers 404.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::input::{JsonBody, QueryParams};
use super::tasks::{case_position, limit, task_json};
use super::{ApiError, Ctx, Identity};
use lianban_core::runtime::CaseId;
use lianban_service::records::{
    CaseQuery, CaseRecord, CaseSummary, DocumentId, HistoryEntry, TaskQuery,
};

fn not_found() -> ApiError {
    ApiError::NotFound("办件不存在".into())
}

/// The case id, if the caller's department takes part in the case (and the case's process
/// is of the caller's county, when the caller has one); otherwise 404.
pub(super) async fn visible_case(
    ctx: &Ctx,
    identity: &Identity,
    id: &str,
) -> Result<CaseId, ApiError> {
    let id = Uuid::parse_str(id).map(CaseId).map_err(|_| not_found())?;
    let Some((county, departments)) = ctx.app.engine().case_scope(id).await? else {
        return Err(not_found());
    };
    if !identity
        .principal()
        .may_see_case(departments.iter().map(String::as_str), &county)
    {
        return Err(not_found());
    }
    Ok(id)
}

fn summary_json(c: &CaseSummary) -> Value {
    json!({
        "id": c.id,
        "process": c.process,
        "version": c.version,
        "status": c.status,
        "result": c.result,
        "current_steps": c.current_steps,
        "title": c.title,
        "started_at": c.started_at,
        "updated_at": c.updated_at,
    })
}

fn history_json(h: &HistoryEntry) -> Value {
    json!({
        "seq": h.seq,
        "at": h.at,
        "actor": h.actor.user,
        "actor_department": h.actor.department,
        "on_behalf_of": h.actor.on_behalf_of,
        "action": h.action,
        "from_status": h.from_status,
        "from_steps": h.from_steps,
        "to_status": h.to_status,
        "to_steps": h.to_steps,
        "events": h.events,
        "data_changed": h.data_changed,
    })
}

async fn case_tasks(ctx: &Ctx, case: CaseId) -> Result<Vec<Value>, ApiError> {
    let query = TaskQuery {
        case: Some(case),
        ..TaskQuery::default()
    };
    let tasks = ctx.app.engine().list_tasks(&query).await?;
    Ok(tasks.iter().map(task_json).collect())
}

fn case_json(record: &CaseRecord, tasks: Vec<Value>, history: Option<Vec<Value>>) -> Value {
    let state = &record.state;
    let mut out = case_position(state);
    if let Value::Object(map) = &mut out {
        let mut more = Map::new();
        more.insert("process".into(), json!(state.process));
        more.insert("version".into(), json!(state.version));
        more.insert("title".into(), json!(record.title));
        more.insert("form".into(), Value::Object(state.form.clone()));
        more.insert("data".into(), Value::Object(state.data.clone()));
        more.insert("materials".into(), json!(state.materials));
        more.insert("started_at".into(), json!(state.started_at));
        more.insert("ended_at".into(), json!(state.ended_at));
        more.insert("tasks".into(), Value::Array(tasks));
        if let Some(history) = history {
            more.insert("history".into(), Value::Array(history));
        }
        map.extend(more);
    }
    out
}

/// One case in full: state, tasks and history. The view itself is recorded first, so the
/// history returned ends with it.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}",
    tag = "cases",
    params(("id" = String, Path, description = "case id (UUID)")),
    responses(
        (status = 200, description = "the case in full, with its history; the view is recorded", body = super::openapi::Case),
        super::openapi::AuthProblems,
        (status = 404, description = "no such case, or the caller's department takes no part in it", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn get(
    State(ctx): State<Ctx>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = visible_case(&ctx, &identity, &id).await?;
    let engine = ctx.app.engine();
    let record = engine.get_case(id).await?.ok_or_else(not_found)?;
    engine
        .record_view(id, &identity.actor(), engine.now())
        .await?;
    let history = engine.history(id).await?.iter().map(history_json).collect();
    let tasks = case_tasks(&ctx, id).await?;
    Ok(Json(case_json(&record, tasks, Some(history))))
}

/// Query of `GET /api/v1/cases`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    status: Option<String>,
    process: Option<String>,
    limit: Option<u64>,
    offset: Option<u64>,
}

/// The cases the caller's department takes part in, most recently changed first. Titles
/// carry masked ID numbers only.
#[utoipa::path(
    get,
    path = "/api/v1/cases",
    tag = "cases",
    params(ListParams),
    responses(
        (status = 200, description = "the cases the caller's department takes part in", body = Vec<super::openapi::CaseSummary>),
        (status = 400, description = "a query parameter is unreadable, unknown or out of range (names it; `code: out-of-range` for the last)", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::AuthProblems,
    )
)]
pub(super) async fn list(
    State(ctx): State<Ctx>,
    identity: Identity,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<Vec<Value>>, ApiError> {
    if !identity.principal().works_cases() {
        return Err(ApiError::Forbidden("只有经办人和负责人可以查看办件"));
    }
    let statuses = match params.status.as_deref() {
        None | Some("") => Vec::new(),
        Some(s @ ("active" | "completed" | "cancelled")) => vec![s.to_owned()],
        Some(_) => {
            return Err(ApiError::field(
                "status",
                "应为 active、completed 或 cancelled",
            ));
        }
    };
    let query = CaseQuery {
        statuses,
        process: params.process.filter(|p| !p.is_empty()),
        department: Some(identity.department.clone()),
        county: identity.county.clone(),
        limit: Some(limit(params.limit)?),
        offset: crate::input::offset(params.offset)?,
        search: None,
        ended_since: None,
    };
    let cases = ctx.app.engine().list_cases(&query).await?;
    Ok(Json(cases.iter().map(summary_json).collect()))
}

/// Body of `POST /api/v1/cases`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StartBody {
    process: String,
    #[serde(default)]
    form: Map<String, Value>,
    #[serde(default)]
    materials: Vec<String>,
}

/// Starts a case: 201 with the case and its open tasks; every form problem at once as 422.
#[utoipa::path(
    post,
    path = "/api/v1/cases",
    tag = "cases",
    request_body = StartBody,
    responses(
        (status = 201, description = "the case with its open tasks (no history)", body = super::openapi::Case),
        (status = 400, description = "unreadable JSON", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 415, description = "the body is not declared as JSON (`Content-Type: application/json`)", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::AuthProblems,
        (status = 422, description = "unknown process, or form problems listed in `errors`", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn start(
    State(ctx): State<Ctx>,
    identity: Identity,
    JsonBody(body): JsonBody<StartBody>,
) -> Result<Response, ApiError> {
    let engine = ctx.app.engine();
    let id = engine
        .start_case_for(
            &identity.principal(),
            &body.process,
            body.form,
            body.materials,
        )
        .await?;
    let record = engine.get_case(id).await?.ok_or_else(not_found)?;
    let tasks = case_tasks(&ctx, id).await?;
    let out = case_json(&record, tasks, None);
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// The documents a case issued (without their HTML).
#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}/documents",
    tag = "documents",
    params(("id" = String, Path, description = "case id (UUID)")),
    responses(
        (status = 200, description = "the documents the case issued", body = Vec<super::openapi::Document>),
        super::openapi::AuthProblems,
        (status = 404, description = "no such case, or the caller's department takes no part in it", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn documents(
    State(ctx): State<Ctx>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let id = visible_case(&ctx, &identity, &id).await?;
    let documents = ctx.app.engine().list_documents(id).await?;
    Ok(Json(
        documents
            .iter()
            .map(|d| {
                json!({
                    "id": d.id.to_string(),
                    "key": d.key,
                    "name": d.name,
                    "number": d.number,
                    "issued_at": d.issued_at,
                    "issued_by": d.issued_by,
                    "step": d.step,
                    "department": d.department,
                    "content_hash": d.content_hash,
                })
            })
            .collect(),
    ))
}

/// One issued document as HTML, exactly as issued; the view is recorded in the history.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}/documents/{doc}",
    tag = "documents",
    params(("id" = String, Path, description = "case id (UUID)"), ("doc" = String, Path, description = "document id (UUID)")),
    responses(
        (status = 200, description = "the document's HTML as issued; the view is recorded", body = String, content_type = "text/html"),
        super::openapi::AuthProblems,
        (status = 404, description = "no such case or document, or not the caller's", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn document(
    State(ctx): State<Ctx>,
    identity: Identity,
    Path((id, doc)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = visible_case(&ctx, &identity, &id).await?;
    let doc = Uuid::parse_str(&doc)
        .map(DocumentId)
        .map_err(|_| ApiError::NotFound("文书不存在".into()))?;
    let engine = ctx.app.engine();
    let document = engine
        .get_document(id, doc)
        .await?
        .ok_or_else(|| ApiError::NotFound("文书不存在".into()))?;
    engine
        .record_view(id, &identity.actor(), engine.now())
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
            ),
        ],
        document.html,
    )
        .into_response())
}

/// Body of `POST /api/v1/cases/{id}/events/{event}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EventBody {
    #[serde(default)]
    data: Map<String, Value>,
    #[serde(default)]
    materials: Vec<String>,
}

/// Delivers an external event to a case waiting for it — the applicant handed in what was
/// missing (`supplied`), a department replied (`replied`): 200 with where the case stands,
/// 409 when the case is not waiting for that event.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/events/{event}",
    tag = "cases",
    params(("id" = String, Path, description = "case id (UUID)"), ("event" = String, Path, description = "the event, e.g. `supplied`, `replied`")),
    request_body = EventBody,
    responses(
        (status = 200, description = "where the case went", body = super::openapi::CaseMoved),
        (status = 400, description = "unreadable JSON", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 415, description = "the body is not declared as JSON (`Content-Type: application/json`)", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::AuthProblems,
        (status = 403, description = "the caller's department does not hold the case now and the caller is no supervisor (`not-current-department`)", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such case, or the caller's department takes no part in it", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "the case is not waiting for that event", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "a body field is unknown or of the wrong type", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn deliver(
    State(ctx): State<Ctx>,
    identity: Identity,
    Path((id, event)): Path<(String, String)>,
    JsonBody(body): JsonBody<EventBody>,
) -> Result<Json<Value>, ApiError> {
    if !identity.principal().works_cases() {
        return Err(ApiError::Forbidden("只有经办人和负责人可以办理办件"));
    }
    let case = visible_case(&ctx, &identity, &id).await?;
    let transition = ctx
        .app
        .engine()
        .deliver_for(
            case,
            &event,
            body.data,
            body.materials,
            &identity.principal(),
        )
        .await?;
    Ok(Json(json!({ "case": case_position(&transition.state) })))
}

/// Body of `POST /api/v1/cases/{id}/cancel`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CancelBody {
    reason: String,
}

/// Cancels a case (撤件) with a written reason; its open tasks are cancelled.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/cancel",
    tag = "cases",
    params(("id" = String, Path, description = "case id (UUID)")),
    request_body = CancelBody,
    responses(
        (status = 200, description = "the case, cancelled", body = super::openapi::CaseMoved),
        (status = 400, description = "unreadable JSON", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 415, description = "the body is not declared as JSON (`Content-Type: application/json`)", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::AuthProblems,
        (status = 404, description = "no such case, or the caller's department takes no part in it", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "the case has ended", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "the reason is missing or blank", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn cancel(
    State(ctx): State<Ctx>,
    identity: Identity,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CancelBody>,
) -> Result<Json<Value>, ApiError> {
    // Visibility first, so another department learns nothing (404) even without the role.
    let case = visible_case(&ctx, &identity, &id).await?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::field("reason", "撤件需要填写理由"));
    }
    let transition = ctx
        .app
        .engine()
        .cancel_for(case, body.reason.trim(), &identity.principal())
        .await?;
    Ok(Json(json!({ "case": case_position(&transition.state) })))
}
