//! `/api/v1/absences`: absences and their substitutes (请假与代办) over JSON. `GET` lists
//! those not over yet that the caller may see (their own and those they stand in for; a
//! supervisor's whole department), `POST` records one (for oneself, or as a supervisor for
//! someone of the department), `POST /api/v1/absences/{user}/end` ends them early (销假).
//! Who may is [`lianban_core::accounts::Principal::may_record_absence`], asked by the service.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

use super::input::JsonBody;
use super::{ApiError, Ctx, Identity};
use lianban_core::accounts::Absence;

/// The JSON of an absence, with the people's names.
pub(crate) fn absence_json(
    a: &Absence,
    names: &HashMap<String, String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    let name = |login: &String| names.get(login).cloned().unwrap_or_else(|| login.clone());
    json!({
        "id": a.id,
        "user": a.user,
        "user_name": name(&a.user),
        "substitute": a.substitute,
        "substitute_name": name(&a.substitute),
        "from": a.from.to_string(),
        "to": a.to.to_string(),
        "in_force": a.holds_at(now),
        "recorded_by": a.recorded_by,
    })
}

/// The absences as JSON, names looked up once.
pub(crate) async fn absences_json(ctx: &Ctx, absences: &[Absence]) -> Result<Vec<Value>, ApiError> {
    let engine = ctx.app.engine();
    let logins: Vec<String> = absences
        .iter()
        .flat_map(|a| [a.user.clone(), a.substitute.clone()])
        .collect();
    let names = engine.display_names(&logins).await?;
    let now = engine.now();
    Ok(absences
        .iter()
        .map(|a| absence_json(a, &names, now))
        .collect())
}

fn works_cases(identity: &Identity) -> Result<(), ApiError> {
    // A department's system (an API key) acts for no person, so is never away.
    if identity.user.starts_with("apikey:") {
        return Err(ApiError::Forbidden(
            "部门系统（API 密钥）不能登记请假与代办",
        ));
    }
    if identity.principal().works_cases() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("只有经办人和负责人可以登记请假与代办"))
    }
}

/// The absences not over yet that the caller may see.
#[utoipa::path(
    get,
    path = "/api/v1/absences",
    tag = "absences",
    responses(
        (status = 200, description = "absences in force or to come: the caller's own, those they stand in for, and a supervisor's whole department", body = Vec<Object>),
        super::openapi::AuthProblems,
    )
)]
pub(super) async fn list(
    State(ctx): State<Ctx>,
    identity: Identity,
) -> Result<Json<Vec<Value>>, ApiError> {
    works_cases(&identity)?;
    let absences = ctx
        .app
        .engine()
        .visible_absences(&identity.principal())
        .await?;
    Ok(Json(absences_json(&ctx, &absences).await?))
}

/// Body of `POST /api/v1/absences`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AbsenceBody {
    /// Login of the person away; the caller when absent.
    #[serde(default)]
    user: Option<String>,
    /// Login of the substitute, of the same department and county.
    substitute: String,
    /// First day away, `YYYY-MM-DD` (Beijing time).
    from: String,
    /// Last day away, `YYYY-MM-DD`, included.
    to: String,
}

/// A day as `YYYY-MM-DD`, or a field error naming `field`.
pub(crate) fn day(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::field(
            field,
            format!("日期“{}”应写作 YYYY-MM-DD，如 2026-12-07", text.trim()),
        )
    })
}

/// Records an absence and its substitute.
#[utoipa::path(
    post,
    path = "/api/v1/absences",
    tag = "absences",
    request_body = AbsenceBody,
    responses(
        (status = 201, description = "the absence recorded", body = Object),
        (status = 400, description = "unreadable JSON", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::AuthProblems,
        (status = 404, description = "no such user", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "bad days (`absence-dates`), a substitute who cannot stand in (`absence-substitute`), an absence already recorded on those days (`absence-overlaps`)", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn record(
    State(ctx): State<Ctx>,
    identity: Identity,
    JsonBody(body): JsonBody<AbsenceBody>,
) -> Result<Response, ApiError> {
    works_cases(&identity)?;
    let days = (day("from", &body.from)?, day("to", &body.to)?);
    let user = body
        .user
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| identity.user.clone());
    let absence = ctx
        .app
        .engine()
        .record_absence_for(&identity.principal(), &user, body.substitute.trim(), days)
        .await?;
    let out = absences_json(&ctx, std::slice::from_ref(&absence)).await?;
    Ok((StatusCode::CREATED, Json(out.into_iter().next())).into_response())
}

/// Ends a person's absences early (销假): their claimed tasks are theirs again at once.
#[utoipa::path(
    post,
    path = "/api/v1/absences/{user}/end",
    tag = "absences",
    params(("user" = String, Path, description = "login of the person back")),
    responses(
        (status = 200, description = "how many absences were ended", body = Object),
        super::openapi::AuthProblems,
        (status = 404, description = "no such user", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn end(
    State(ctx): State<Ctx>,
    identity: Identity,
    Path(user): Path<String>,
) -> Result<Json<Value>, ApiError> {
    works_cases(&identity)?;
    let ended = ctx
        .app
        .engine()
        .end_absence_for(&identity.principal(), &user)
        .await?;
    Ok(Json(json!({ "user": user, "ended": ended })))
}
