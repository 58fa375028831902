//! `GET /absences` (请假与代办): the absences not over yet that the person may see, and a
//! form to record one: for oneself, or as a supervisor for someone of the department, with
//! a substitute of the same department and county. `POST /absences` records it, `POST
//! /absences/end` ends someone's absence early (销假). A refusal re-renders the page with
//! 422 and the message; the rules are `lianban_core::accounts`'s, asked by the service.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{PageUser, render};
use crate::absences::{absence_answers, day};
use crate::{ApiError, Ctx};
use lianban_core::accounts::{Role, absence_day};
use lianban_service::EngineError;

/// What a failed submit brings back to the page.
#[derive(Debug, Default, Deserialize)]
pub(super) struct AbsenceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    substitute: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

async fn show(
    ctx: &Ctx,
    user: &PageUser,
    status: StatusCode,
    form: &AbsenceForm,
    message: Option<String>,
) -> Result<Response, ApiError> {
    let me = &user.0;
    let principal = me.principal();
    if !principal.works_cases() {
        return Err(ApiError::Forbidden("只有经办人和负责人可以登记请假与代办"));
    }
    let engine = ctx.app.engine();
    let absences = engine.visible_absences(&principal).await?;
    let supervisor = principal.has(Role::Supervisor);
    let rows: Vec<Value> = absence_answers(ctx, &absences)
        .await?
        .into_iter()
        .map(|row| {
            let may_end = supervisor || row.user == me.user;
            let mut value = json!(row);
            value["may_end"] = json!(may_end);
            value
        })
        .collect();
    let people: Vec<Value> = engine
        .colleagues(&principal)
        .await?
        .into_iter()
        .map(|a| json!({"login": a.username, "name": a.name}))
        .collect();
    let today = absence_day(engine.now()).to_string();
    render(
        ctx,
        user,
        status,
        "web/absences.html.j2",
        "请假与代办",
        json!({
            "rows": rows,
            "people": people,
            "supervisor": supervisor,
            "message": message,
            "form": {
                "user": if form.user.is_empty() { me.user.clone() } else { form.user.clone() },
                "substitute": form.substitute,
                "from": if form.from.is_empty() { today.clone() } else { form.from.clone() },
                "to": if form.to.is_empty() { today } else { form.to.clone() },
            },
        }),
    )
}

/// The page.
pub(super) async fn page(State(ctx): State<Ctx>, user: PageUser) -> Result<Response, ApiError> {
    show(&ctx, &user, StatusCode::OK, &AbsenceForm::default(), None).await
}

/// The message of a refusal the person can mend, or the error to answer as it is.
fn mendable(error: ApiError) -> Result<String, ApiError> {
    match error {
        ApiError::Coded { error, .. } => mendable(*error),
        ApiError::Validation { title, .. } => Ok(title),
        ApiError::Refused(message) => Ok(message),
        ApiError::NotFound(message) => Ok(message),
        other => Err(other),
    }
}

/// Records an absence; back to the page.
pub(super) async fn record(
    State(ctx): State<Ctx>,
    user: PageUser,
    Form(form): Form<AbsenceForm>,
) -> Result<Response, ApiError> {
    user.check_csrf(&form.csrf)?;
    let days = match (day("from", &form.from), day("to", &form.to)) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(e), _) | (_, Err(e)) => {
            let message = mendable(e)?;
            return show(
                &ctx,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                Some(message),
            )
            .await;
        }
    };
    let absent = if form.user.trim().is_empty() {
        user.0.user.clone()
    } else {
        form.user.trim().to_owned()
    };
    let result = ctx
        .app
        .engine()
        .record_absence_for(&user.0.principal(), &absent, form.substitute.trim(), days)
        .await;
    match result {
        Ok(_) => Ok(Redirect::to("/absences").into_response()),
        Err(e @ EngineError::Absence(_)) => {
            let message = mendable(ApiError::from(e))?;
            show(
                &ctx,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                Some(message),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// Body of `POST /absences/end`.
#[derive(Debug, Deserialize)]
pub(super) struct EndForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user: String,
}

/// Ends someone's absence early (销假); back to the page.
pub(super) async fn end(
    State(ctx): State<Ctx>,
    user: PageUser,
    Form(form): Form<EndForm>,
) -> Result<Response, ApiError> {
    user.check_csrf(&form.csrf)?;
    ctx.app
        .engine()
        .end_absence_for(&user.0.principal(), form.user.trim())
        .await?;
    Ok(Redirect::to("/absences").into_response())
}
