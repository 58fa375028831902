//! `/api/v1/cases…`: start a case, list the department's cases (personal data masked), get
//! one case in full (recorded in its history as a `view`), and its documents. A case the
//! caller's department takes no part in answers 404.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::answers::{Case, CaseMoved, CaseSummary, Document, HistoryEntry, Task};
use super::input::{JsonBody, QueryParams};
use super::tasks::limit;
use super::{ApiError, Ctx, Identity};
use lianban_core::runtime::CaseId;
use lianban_service::records::{CaseQuery, DocumentId, TaskQuery};

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
    let Some(scope) = ctx.app.engine().case_scope(id).await? else {
        return Err(not_found());
    };
    if !identity.principal().may_see_case(
        scope.departments.iter().map(String::as_str),
        scope.started_by.as_deref(),
        &scope.county,
    ) {
        return Err(not_found());
    }
    Ok(id)
}

async fn case_tasks(ctx: &Ctx, case: CaseId) -> Result<Vec<Task>, ApiError> {
    let query = TaskQuery {
        case: Some(case),
        ..TaskQuery::default()
    };
    let tasks = ctx.app.engine().list_tasks(&query).await?;
    Ok(tasks.iter().map(Task::of).collect())
}

/// One case in full: state, tasks and history. The view itself is recorded first, so the
/// history returned ends with it.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}",
    operation_id = "getCase",
    tag = "cases",
    params(("id" = String, Path, description = "case id (UUID)")),
    responses(
        (status = 200, description = "the case in full, with its history; the view is recorded", body = Case),
        super::openapi::AuthProblems,
        (status = 404, description = "no such case, or the caller's department takes no part in it", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn get(
    State(ctx): State<Ctx>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<Case>, ApiError> {
    let id = visible_case(&ctx, &identity, &id).await?;
    let engine = ctx.app.engine();
    let record = engine.get_case(id).await?.ok_or_else(not_found)?;
    engine
        .record_view(id, &identity.actor(), engine.now())
        .await?;
    let history = engine
        .history(id)
        .await?
        .iter()
        .map(HistoryEntry::from)
        .collect();
    let tasks = case_tasks(&ctx, id).await?;
    Ok(Json(Case::new(&record, tasks, Some(history))))
}

/// Query of `GET /api/v1/cases`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    status: Option<String>,
    process: Option<String>,
    /// Only the case with this number (办件编号), e.g. `阳城退休〔2026〕0012`; the brackets
    /// may be typed as `[]` or `()` and the sequence without leading zeros.
    number: Option<String>,
    limit: Option<u64>,
    offset: Option<u64>,
}

/// The cases the caller's department takes part in (for an intake key: the cases it
/// started), most recently changed first. Titles carry masked ID numbers only.
#[utoipa::path(
    get,
    path = "/api/v1/cases",
    operation_id = "listCases",
    tag = "cases",
    params(ListParams),
    responses(
        (status = 200, description = "the cases the caller's department takes part in", body = Vec<CaseSummary>),
        (status = 400, description = "a query parameter is unreadable, unknown or out of range (names it; `code: out-of-range` for the last)", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::AuthProblems,
    )
)]
pub(super) async fn list(
    State(ctx): State<Ctx>,
    identity: Identity,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<Vec<CaseSummary>>, ApiError> {
    let principal = identity.principal();
    if !principal.works_cases() && !principal.is_intake() {
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
        // An intake key lists the cases it started; a department the cases it takes part in.
        department: (!principal.is_intake()).then(|| identity.department.clone()),
        started_by: principal.is_intake().then(|| identity.user.clone()),
        county: identity.county.clone(),
        limit: Some(limit(params.limit)?),
        offset: crate::input::offset(params.offset)?,
        search: None,
        number: params.number.filter(|n| !n.trim().is_empty()),
        ended_since: None,
    };
    let cases = ctx.app.engine().list_cases(&query).await?;
    Ok(Json(cases.iter().map(CaseSummary::from).collect()))
}

/// Body of `POST /api/v1/cases`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StartBody {
    /// The process id, e.g. `yangcheng.retirement`.
    process: String,
    /// The application form; its JSON Schema is `GET /api/v1/processes/{id}/form`.
    #[serde(default)]
    form: Map<String, Value>,
    #[serde(default)]
    materials: Vec<String>,
}

/// Starts a case: 201 with the case and its open tasks; every form problem at once as 422.
#[utoipa::path(
    post,
    path = "/api/v1/cases",
    operation_id = "startCase",
    tag = "cases",
    request_body = StartBody,
    responses(
        (status = 201, description = "the case with its open tasks (no history)", body = Case),
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
    let out = Case::new(&record, tasks, None);
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// The documents a case issued (without their HTML).
#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}/documents",
    operation_id = "listCaseDocuments",
    tag = "documents",
    params(("id" = String, Path, description = "case id (UUID)")),
    responses(
        (status = 200, description = "the documents the case issued", body = Vec<Document>),
        super::openapi::AuthProblems,
        (status = 404, description = "no such case, or the caller's department takes no part in it", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn documents(
    State(ctx): State<Ctx>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<Vec<Document>>, ApiError> {
    let id = visible_case(&ctx, &identity, &id).await?;
    let documents = ctx.app.engine().list_documents(id).await?;
    Ok(Json(documents.iter().map(Document::from).collect()))
}

/// One issued document as HTML, exactly as issued; the view is recorded in the history.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}/documents/{doc}",
    operation_id = "getCaseDocument",
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
    operation_id = "deliverCaseEvent",
    tag = "cases",
    params(("id" = String, Path, description = "case id (UUID)"), ("event" = String, Path, description = "the event, e.g. `supplied`, `replied`")),
    request_body = EventBody,
    responses(
        (status = 200, description = "where the case went", body = CaseMoved),
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
) -> Result<Json<CaseMoved>, ApiError> {
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
    Ok(Json(CaseMoved::of(&transition.state)))
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
    operation_id = "cancelCase",
    tag = "cases",
    params(("id" = String, Path, description = "case id (UUID)")),
    request_body = CancelBody,
    responses(
        (status = 200, description = "the case, cancelled", body = CaseMoved),
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
) -> Result<Json<CaseMoved>, ApiError> {
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
    Ok(Json(CaseMoved::of(&transition.state)))
}
