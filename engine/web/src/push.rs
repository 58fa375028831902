//! Push tables (附件4) and the outbox, over JSON: `GET /api/v1/push-tables` (the tables the
//! caller may see, without their rows), `GET /api/v1/push-tables/{id}` (one table with its
//! rows; ID numbers in full, which is the table's purpose), and for admins the outbox:
//! `GET /api/v1/admin/outbox?status=dead` and `POST /api/v1/admin/outbox/{id}/retry`.
//! Who may see which table is [`lianban_core::accounts::Principal::may_see_push_table`].

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::input::QueryParams;
use super::{ApiError, Ctx, Identity};
use lianban_core::accounts::{Principal, county_of};
use lianban_core::definition::StepKind;
use lianban_core::runtime::CaseId;
use lianban_service::records::{OutboxMessage, OutboxStatus, PushTableRecord, PushTableSummary};

/// How many tables or messages a list shows.
const LIST_LIMIT: u64 = 200;

/// The lead department of a process: the department of its start step's role (社保 for the
/// retirement process), which issues the push tables.
pub(super) fn lead_department(ctx: &Ctx, process_id: &str) -> Option<String> {
    let process = ctx.app.engine().catalog().latest(process_id)?;
    let step = process.step(&process.start)?;
    let StepKind::Task(task) = &step.kind else {
        return None;
    };
    process.roles.get(&task.role).map(|r| r.department.clone())
}

/// The push tables `principal` may see, newest first.
pub(super) async fn visible_tables(
    ctx: &Ctx,
    principal: &Principal,
) -> Result<Vec<PushTableSummary>, ApiError> {
    let tables = ctx.app.engine().list_push_tables(&[], LIST_LIMIT).await?;
    Ok(tables
        .into_iter()
        .filter(|t| {
            principal.may_see_push_table(
                &t.department,
                lead_department(ctx, &t.process_id).as_deref(),
                county_of(&t.process_id),
            )
        })
        .collect())
}

/// One push table, if `principal` may see it; otherwise (or when there is none) 404.
pub(super) async fn visible_table(
    ctx: &Ctx,
    principal: &Principal,
    id: &str,
) -> Result<PushTableRecord, ApiError> {
    let missing = || ApiError::NotFound("推送信息表不存在".into());
    let id = Uuid::parse_str(id).map_err(|_| missing())?;
    let table = ctx
        .app
        .engine()
        .get_push_table(id)
        .await?
        .ok_or_else(missing)?;
    let lead = lead_department(ctx, &table.summary.process_id);
    if !principal.may_see_push_table(
        &table.summary.department,
        lead.as_deref(),
        county_of(&table.summary.process_id),
    ) {
        return Err(missing());
    }
    Ok(table)
}

/// Records a `view` in the history of every case the table lists: opening a table reads
/// those cases' personal data, and every read of a case is on its record.
pub(super) async fn record_views(
    ctx: &Ctx,
    identity: &Identity,
    table: &PushTableRecord,
) -> Result<(), ApiError> {
    let engine = ctx.app.engine();
    let now = engine.now();
    let actor = identity.actor();
    for row in table.rows.as_array().into_iter().flatten() {
        let Some(case) = row["case_id"]
            .as_str()
            .and_then(|id| Uuid::parse_str(id).ok())
        else {
            continue;
        };
        engine
            .record_view(lianban_core::runtime::CaseId(case), &actor, now)
            .await?;
    }
    Ok(())
}

/// A push table as lists show it, without its rows.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct PushTableAnswer {
    /// Its id (a UUID).
    #[schema(value_type = String)]
    id: Uuid,
    /// Process id.
    process: String,
    /// Document key in the definition.
    document: String,
    /// Document name.
    name: String,
    /// Receiving department key.
    department: String,
    /// Beijing date, `YYYY-MM-DD`.
    day: String,
    /// Printed number, when the document kind is numbered.
    number: Option<String>,
    /// How many cases it lists.
    rows: i32,
    /// SHA-256 (hex) of the printable HTML.
    content_hash: String,
    /// When it was issued.
    issued_at: DateTime<Utc>,
}

impl From<&PushTableSummary> for PushTableAnswer {
    fn from(t: &PushTableSummary) -> Self {
        PushTableAnswer {
            id: t.id,
            process: t.process_id.clone(),
            document: t.document.clone(),
            name: t.name.clone(),
            department: t.department.clone(),
            day: t.day.clone(),
            number: t.number.clone(),
            rows: t.row_count,
            content_hash: t.content_hash.clone(),
            issued_at: t.issued_at,
        }
    }
}

/// One case of a push table: the form and the data as they were when it was issued (ID
/// numbers in full, which is the table's purpose).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(super) struct PushTableCase {
    /// The case (a UUID).
    case_id: String,
    /// The start form's answers.
    form: Map<String, Value>,
    /// What the rules and outcomes set.
    data: Map<String, Value>,
}

/// A push table with its cases.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct PushTableDetail {
    #[serde(flatten)]
    summary: PushTableAnswer,
    /// Tasks created after this instant are its rows…
    window_start: DateTime<Utc>,
    /// …up to and including this one.
    window_end: DateTime<Utc>,
    /// Its rows.
    cases: Vec<PushTableCase>,
}

/// `GET /api/v1/push-tables`.
#[utoipa::path(
    get,
    path = "/api/v1/push-tables",
    operation_id = "listPushTables",
    tag = "push",
    responses(
        (status = 200, description = "the push tables the caller may see, newest first, without their rows", body = Vec<PushTableAnswer>),
        (status = 401, description = "no or expired session", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn list(
    State(ctx): State<Ctx>,
    identity: Identity,
) -> Result<Json<Vec<PushTableAnswer>>, ApiError> {
    let tables = visible_tables(&ctx, &identity.principal()).await?;
    Ok(Json(tables.iter().map(PushTableAnswer::from).collect()))
}

/// `GET /api/v1/push-tables/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/push-tables/{id}",
    operation_id = "getPushTable",
    tag = "push",
    params(("id" = String, Path, description = "push table id (UUID)")),
    responses(
        (status = 200, description = "the table with its cases (ID numbers in full)", body = PushTableDetail),
        (status = 401, description = "no or expired session", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such table, or not the caller's to see", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn get(
    State(ctx): State<Ctx>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<PushTableDetail>, ApiError> {
    let table = visible_table(&ctx, &identity.principal(), &id).await?;
    record_views(&ctx, &identity, &table).await?;
    // The rows were written by the scheduler in this shape; a row that is not is a
    // store fault, not something to pass on silently.
    let cases: Vec<PushTableCase> = serde_json::from_value(table.rows).map_err(|e| {
        ApiError::Internal(anyhow::anyhow!(
            "push table {id}: a stored row is malformed: {e}"
        ))
    })?;
    Ok(Json(PushTableDetail {
        summary: PushTableAnswer::from(&table.summary),
        window_start: table.window.0,
        window_end: table.window.1,
        cases,
    }))
}

/// `?status=` of the outbox list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OutboxQuery {
    /// `pending`, `delivered` or `dead`; all when absent.
    #[serde(default)]
    pub(super) status: Option<String>,
}

/// The status asked for, or a 400 naming the allowed words.
pub(super) fn parse_status(word: Option<&str>) -> Result<Option<OutboxStatus>, ApiError> {
    match word.filter(|w| !w.is_empty()) {
        None => Ok(None),
        Some(w) => OutboxStatus::parse(w)
            .map(Some)
            .ok_or_else(|| ApiError::BadRequest {
                title: format!("status 只能是 pending、delivered 或 dead，不能是 `{w}`"),
                extra: json!({"errors": [{"field": "status", "message": "取值无效"}]}),
            }),
    }
}

pub(super) fn require_admin(identity: &Identity) -> Result<(), ApiError> {
    if identity.principal().is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("只有系统管理员可以查看和重推推送队列"))
    }
}

/// A message as lists show it: no body (it carries the applicant's data), no secret name.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct OutboxAnswer {
    /// Message id (a UUID), sent as `Idempotency-Key`.
    #[schema(value_type = String)]
    id: Uuid,
    /// The case it is about.
    #[schema(value_type = String)]
    case_id: CaseId,
    /// Process id.
    process: String,
    /// Receiving department key.
    department: String,
    /// The task whose creation it announces.
    task_id: Option<String>,
    /// Message type, e.g. `task_created`.
    #[serde(rename = "type")]
    kind: String,
    /// `pending`, `delivered` or `dead`.
    status: &'static str,
    /// Delivery attempts made so far.
    attempts: u32,
    /// Not before this instant.
    next_attempt_at: DateTime<Utc>,
    /// The last error (Chinese, or the receiver's status).
    last_error: Option<String>,
    /// When it was queued.
    created_at: DateTime<Utc>,
    /// When it was delivered.
    delivered_at: Option<DateTime<Utc>>,
    /// What the receiver answered on delivery.
    receipt: Option<Value>,
}

impl From<&OutboxMessage> for OutboxAnswer {
    fn from(m: &OutboxMessage) -> Self {
        OutboxAnswer {
            id: m.id,
            case_id: m.case_id,
            process: m.process_id.clone(),
            department: m.department.clone(),
            task_id: m.task_id.clone(),
            kind: m.kind.clone(),
            status: m.status.as_str(),
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error.clone(),
            created_at: m.created_at,
            delivered_at: m.delivered_at,
            receipt: m.receipt.clone(),
        }
    }
}

/// The answer of a retry: the message is pending again.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct OutboxRetried {
    /// The message id.
    id: String,
    /// Always `pending`.
    status: &'static str,
}

/// `GET /api/v1/admin/outbox?status=dead`.
#[utoipa::path(
    get,
    path = "/api/v1/admin/outbox",
    operation_id = "listOutbox",
    tag = "push",
    params(("status" = Option<String>, Query, description = "pending, delivered or dead; all when absent")),
    responses(
        (status = 200, description = "messages to department systems, newest first, without their bodies", body = Vec<OutboxAnswer>),
        (status = 400, description = "an unknown status", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 401, description = "no or expired session", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an admin", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn outbox(
    State(ctx): State<Ctx>,
    identity: Identity,
    QueryParams(query): QueryParams<OutboxQuery>,
) -> Result<Json<Vec<OutboxAnswer>>, ApiError> {
    require_admin(&identity)?;
    let status = parse_status(query.status.as_deref())?;
    let messages = ctx
        .app
        .engine()
        .list_outbox(status, None, LIST_LIMIT)
        .await?;
    Ok(Json(messages.iter().map(OutboxAnswer::from).collect()))
}

/// Requeues a dead message; 404 when there is no dead message with this id.
pub(super) async fn requeue(ctx: &Ctx, identity: &Identity, id: &str) -> Result<(), ApiError> {
    require_admin(identity)?;
    let missing = || ApiError::NotFound("没有这条失败的推送消息".into());
    let id = Uuid::parse_str(id).map_err(|_| missing())?;
    let engine = ctx.app.engine();
    if !engine.requeue_outbox(id, engine.now()).await? {
        return Err(missing());
    }
    tracing::info!(message = %id, user = %identity.user, "dead message requeued");
    Ok(())
}

/// `POST /api/v1/admin/outbox/{id}/retry` (CSRF-checked by [`Identity`]).
#[utoipa::path(
    post,
    path = "/api/v1/admin/outbox/{id}/retry",
    operation_id = "retryOutboxMessage",
    tag = "push",
    params(("id" = String, Path, description = "message id (UUID)")),
    responses(
        (status = 200, description = "the dead message is pending again, due now", body = OutboxRetried),
        (status = 401, description = "no or expired session", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an admin, or CSRF token missing", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 404, description = "no dead message with this id", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn retry(
    State(ctx): State<Ctx>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<OutboxRetried>, ApiError> {
    requeue(&ctx, &identity, &id).await?;
    Ok(Json(OutboxRetried {
        id,
        status: "pending",
    }))
}
