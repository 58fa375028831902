//! Service routes: health, the definitions in force, and the admin reload call (the admin
//! token only: an API key or a session never reloads).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::ApiError;
use super::answers::{ProcessInfo, Reloaded};
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
