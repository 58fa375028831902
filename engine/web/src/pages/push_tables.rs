//! `GET /push-tables` (the push tables the person may see), `GET /push-tables/{id}` (the
//! stored HTML, for printing), `/push-tables/{id}.xlsx` and `.csv` (the same table's cells;
//! the CSV with a BOM so Excel reads Chinese), and for admins `GET /outbox` with
//! `POST /outbox/{id}/retry`. Permissions are those of the JSON API (`web::push`).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::view::time;
use super::{PageUser, department_name, render};
use crate::input::QueryParams;
use crate::push::{
    parse_status, record_views, requeue, require_admin, visible_table, visible_tables,
};
use crate::{ApiError, Ctx};
use lianban_core::accounts::county_of;
use lianban_core::documents::{table_cells, to_csv, to_xlsx};
use lianban_service::records::OutboxStatus;

/// `GET /push-tables`.
pub(super) async fn page(State(ctx): State<Ctx>, user: PageUser) -> Result<Response, ApiError> {
    let tables = visible_tables(&ctx, &user.0.principal()).await?;
    let rows: Vec<Value> = tables
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "day": t.day,
                "number": t.number,
                "department": department_name(&ctx, county_of(&t.process_id), &t.department),
                "rows": t.row_count,
                "issued_at": time(t.issued_at),
            })
        })
        .collect();
    render(
        &ctx,
        &user,
        StatusCode::OK,
        "web/push_tables.html.j2",
        "推送信息表",
        json!({"tables": rows}),
    )
}

/// `GET /push-tables/{id}`, `{id}.xlsx`, `{id}.csv`.
pub(super) async fn file(
    State(ctx): State<Ctx>,
    user: PageUser,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let (id, kind) = match file.rsplit_once('.') {
        Some((id, "xlsx")) => (id, Some("xlsx")),
        Some((id, "csv")) => (id, Some("csv")),
        _ => (file.as_str(), None),
    };
    let table = visible_table(&ctx, &user.0.principal(), id).await?;
    record_views(&ctx, &user.0, &table).await?;
    let summary = &table.summary;
    tracing::info!(table = %summary.id, department = %summary.department, user = %user.0.user, format = kind.unwrap_or("html"), "push table opened");
    let Some(kind) = kind else {
        return Ok((
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                ),
            ],
            table.html,
        )
            .into_response());
    };
    let cells = table_cells(&table.html);
    let stem = format!(
        "{}-{}-{}",
        summary.name,
        department_name(&ctx, county_of(&summary.process_id), &summary.department),
        summary.day
    );
    let (bytes, mime, ext) = match kind {
        "xlsx" => (
            to_xlsx("推送信息表", &cells).map_err(|e| ApiError::Internal(e.into()))?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        _ => (
            to_csv(&cells).map_err(|e| ApiError::Internal(e.into()))?,
            "text/csv; charset=utf-8",
            "csv",
        ),
    };
    let disposition =
        super::view::attachment(&format!("push-table.{ext}"), &format!("{stem}.{ext}"));
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

/// `?status=` of the outbox page.
#[derive(Debug, Deserialize)]
pub(super) struct OutboxPageQuery {
    #[serde(default)]
    status: Option<String>,
}

/// `GET /outbox` (admins): dead letters by default.
pub(super) async fn outbox(
    State(ctx): State<Ctx>,
    user: PageUser,
    QueryParams(query): QueryParams<OutboxPageQuery>,
) -> Result<Response, ApiError> {
    require_admin(&user.0)?;
    let word = query.status.as_deref().unwrap_or("dead");
    let status = parse_status(Some(word))?;
    let engine = ctx.app.engine();
    let messages = engine.list_outbox(status, None, 200).await?;
    let cases: Vec<_> = messages.iter().map(|m| m.case_id).collect();
    let titles = engine.case_titles(&cases).await?;
    let label = |s: OutboxStatus| match s {
        OutboxStatus::Pending => "待推送",
        OutboxStatus::Delivered => "已送达",
        OutboxStatus::Dead => "推送失败",
    };
    let rows: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "case_id": m.case_id,
                "title": titles.get(&m.case_id.to_string()),
                "department": department_name(&ctx, county_of(&m.process_id), &m.department),
                "status": label(m.status),
                "dead": m.status == OutboxStatus::Dead,
                "attempts": m.attempts,
                "last_error": m.last_error,
                "created_at": time(m.created_at),
            })
        })
        .collect();
    let statuses: Vec<Value> = [
        OutboxStatus::Dead,
        OutboxStatus::Pending,
        OutboxStatus::Delivered,
    ]
    .into_iter()
    .map(|s| json!({"key": s.as_str(), "label": label(s), "current": Some(s) == status}))
    .collect();
    render(
        &ctx,
        &user,
        StatusCode::OK,
        "web/outbox.html.j2",
        "推送队列",
        json!({"messages": rows, "statuses": statuses}),
    )
}

/// The retry form.
#[derive(Debug, Deserialize)]
pub(super) struct RetryForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /outbox/{id}/retry` (admins, CSRF-checked): requeue, then back to the dead letters.
pub(super) async fn retry(
    State(ctx): State<Ctx>,
    user: PageUser,
    Path(id): Path<String>,
    Form(form): Form<RetryForm>,
) -> Result<Redirect, ApiError> {
    user.check_csrf(&form.csrf)?;
    requeue(&ctx, &user.0, &id).await?;
    Ok(Redirect::to("/outbox?status=dead"))
}
