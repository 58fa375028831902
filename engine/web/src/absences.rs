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
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::input::JsonBody;
use super::{ApiError, Ctx, Identity};
use lianban_core::accounts::Absence;

/// An absence as the API answers it, with the people's names.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AbsenceAnswer {
    /// Its id (a UUID).
    pub(crate) id: String,
    /// Login of the person away.
    pub(crate) user: String,
    /// Their name as shown in histories.
    pub(crate) user_name: String,
    /// Login of the substitute (代办人).
    pub(crate) substitute: String,
    /// The substitute's name.
    pub(crate) substitute_name: String,
    /// First day away, `YYYY-MM-DD` (Beijing time).
    pub(crate) from: String,
    /// Last day away, `YYYY-MM-DD`, included.
    pub(crate) to: String,
    /// Whether the absence holds now.
    pub(crate) in_force: bool,
    /// Login of whoever recorded it (the person, a supervisor, or `cli`).
    pub(crate) recorded_by: String,
}

impl AbsenceAnswer {
    fn new(a: &Absence, names: &HashMap<String, String>, now: DateTime<Utc>) -> Self {
        let name = |login: &String| names.get(login).cloned().unwrap_or_else(|| login.clone());
        AbsenceAnswer {
            id: a.id.clone(),
            user_name: name(&a.user),
            user: a.user.clone(),
            substitute_name: name(&a.substitute),
            substitute: a.substitute.clone(),
            from: a.from.to_string(),
            to: a.to.to_string(),
            in_force: a.holds_at(now),
            recorded_by: a.recorded_by.clone(),
        }
    }
}

/// The answer of `POST /api/v1/absences/{user}/end`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AbsencesEnded {
    /// Login of the person back.
    user: String,
    /// How many absences were ended (0 when none held or was to come).
    ended: u64,
}

/// The absences with their people's names, looked up once.
pub(crate) async fn absence_answers(
    ctx: &Ctx,
    absences: &[Absence],
) -> Result<Vec<AbsenceAnswer>, ApiError> {
    let engine = ctx.app.engine();
    let logins: Vec<String> = absences
        .iter()
        .flat_map(|a| [a.user.clone(), a.substitute.clone()])
        .collect();
    let names = engine.display_names(&logins).await?;
    let now = engine.now();
    Ok(absences
        .iter()
        .map(|a| AbsenceAnswer::new(a, &names, now))
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
    operation_id = "listAbsences",
    responses(
        (status = 200, description = "absences in force or to come: the caller's own, those they stand in for, and a supervisor's whole department", body = Vec<AbsenceAnswer>),
        super::openapi::AuthProblems,
    )
)]
pub(super) async fn list(
    State(ctx): State<Ctx>,
    identity: Identity,
) -> Result<Json<Vec<AbsenceAnswer>>, ApiError> {
    works_cases(&identity)?;
    let absences = ctx
        .app
        .engine()
        .visible_absences(&identity.principal())
        .await?;
    Ok(Json(absence_answers(&ctx, &absences).await?))
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
    operation_id = "recordAbsence",
    request_body = AbsenceBody,
    responses(
        (status = 201, description = "the absence recorded", body = AbsenceAnswer),
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
    let mut out = absence_answers(&ctx, std::slice::from_ref(&absence)).await?;
    Ok((StatusCode::CREATED, Json(out.remove(0))).into_response())
}

/// Ends a person's absences early (销假): their claimed tasks are theirs again at once.
#[utoipa::path(
    post,
    path = "/api/v1/absences/{user}/end",
    tag = "absences",
    operation_id = "endAbsences",
    params(("user" = String, Path, description = "login of the person back")),
    responses(
        (status = 200, description = "how many absences were ended", body = AbsencesEnded),
        super::openapi::AuthProblems,
        (status = 404, description = "no such user", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn end(
    State(ctx): State<Ctx>,
    identity: Identity,
    Path(user): Path<String>,
) -> Result<Json<AbsencesEnded>, ApiError> {
    works_cases(&identity)?;
    let ended = ctx
        .app
        .engine()
        .end_absence_for(&identity.principal(), &user)
        .await?;
    Ok(Json(AbsencesEnded { user, ended }))
}
