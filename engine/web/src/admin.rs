//! Service routes: health, the definitions in force, the admin reload call (the admin
//! token only: an API key or a session never reloads), and moving running cases to another
//! definition version (the admin token, or a signed-in admin).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use axum::extract::FromRequestParts as _;
use axum::http::request::Parts;

use super::answers::{MigrateBody, Migrated, ProcessInfo, Reloaded};
use super::input::JsonBody;
use super::{ApiError, Ctx, Identity};
use lianban_core::definition::StepId;
use lianban_core::runtime::{Actor, CaseId};
use lianban_service::MigrationRequest;
use lianban_service::app::{App, ReloadError};

pub(super) async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub(super) async fn not_found() -> ApiError {
    ApiError::NotFound("没有这个地址".into())
}

/// Reload needs the admin token until accounts exist; without a configured token it is off.
pub(super) fn authorize_admin(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = app.settings().admin_token.as_deref() else {
        return Err(ApiError::Forbidden(
            "未配置管理令牌（--admin-token），管理接口已关闭",
        ));
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(token) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => Ok(()),
        _ => Err(ApiError::Unauthorized),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/reload",
    operation_id = "reloadProcesses",
    tag = "definitions",
    responses(
        (status = 200, description = "the definitions after reloading", body = Reloaded),
        (status = 401, description = "the admin token is missing or wrong", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 403, description = "no admin token is configured", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "the definitions have errors; the old ones stay in force", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn reload(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Json<Reloaded>, ApiError> {
    authorize_admin(&app, &headers)?;
    match app.reload().await {
        Ok(processes) => Ok(Json(Reloaded {
            reloaded: true,
            processes: processes.iter().map(|p| ProcessInfo::of(p, true)).collect(),
        })),
        Err(ReloadError::Definitions(e)) => Err(ApiError::Validation {
            title: "流程定义有误，未重新加载，原定义继续生效".into(),
            extra: json!({
                "diagnostics": e.diagnostics.iter().map(|d| d.to_string()).collect::<Vec<_>>()
            }),
        }),
        Err(e @ ReloadError::Store(lianban_service::StoreError::VersionChanged { .. }))
        | Err(e @ ReloadError::Templates(_)) => Err(ApiError::Validation {
            title: "重新加载被拒绝，原定义继续生效".into(),
            extra: json!({ "detail": e.to_string() }),
        }),
        Err(ReloadError::Store(e)) => Err(ApiError::Internal(e.into())),
    }
}

/// Moves running cases to another version of their definition (or, with `dry_run`, plans
/// it). Only the admin token or a signed-in admin may: the move rewrites where cases stand.
#[utoipa::path(
    post,
    path = "/api/v1/admin/cases/migrate",
    operation_id = "migrateCases",
    tag = "definitions",
    request_body = MigrateBody,
    responses(
        (status = 200, description = "what became of each case; refused cases are left as they were", body = Migrated),
        (status = 400, description = "unreadable JSON", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 401, description = "no admin token, session or key", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an admin", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "unknown process or version, the same version twice, a mapping naming steps the versions lack, a bad case id", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("admin_token" = []), ("session" = []))
)]
pub(super) async fn migrate_cases(
    State(ctx): State<Ctx>,
    mut parts: Parts,
    JsonBody(body): JsonBody<MigrateBody>,
) -> Result<Json<Migrated>, ApiError> {
    let actor = admin_actor(&ctx, &mut parts).await?;
    let cases = body
        .cases
        .iter()
        .map(|c| {
            uuid::Uuid::parse_str(c)
                .map(CaseId)
                .map_err(|_| ApiError::field("cases", format!("{c} 不是办件编号")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let request = MigrationRequest {
        process: body.process,
        from_version: body.from_version,
        to_version: body.to_version,
        mapping: body
            .mapping
            .into_iter()
            .map(|(a, b)| (StepId(a), StepId(b)))
            .collect(),
        cases,
        dry_run: body.dry_run,
    };
    let outcomes = ctx
        .app
        .engine()
        .migrate_cases(&request, &actor, &|_, _| {})
        .await?;
    tracing::info!(process = %request.process, user = %actor.user, cases = outcomes.len(), dry_run = request.dry_run, "cases migrate");
    Ok(Json(Migrated::new(request.dry_run, &outcomes)))
}

/// Who an admin call acts for: the admin token (recorded as `admin-token`), else a session
/// or key whose account is an admin.
async fn admin_actor(ctx: &Ctx, parts: &mut Parts) -> Result<Actor, ApiError> {
    let token = ctx.app.settings().admin_token.as_deref();
    if let (Some(expected), Some(given)) = (token, super::session::bearer(&parts.headers))
        && constant_time_eq(given.as_bytes(), expected.as_bytes())
    {
        return Ok(Actor {
            user: "admin-token".into(),
            department: None,
            on_behalf_of: None,
        });
    }
    let identity = Identity::from_request_parts(parts, ctx).await?;
    if !identity.principal().is_admin() {
        return Err(ApiError::Forbidden("只有系统管理员可以迁移办件的流程版本"));
    }
    Ok(identity.actor())
}
