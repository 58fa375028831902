//! What a clerk can do to a case from its page: deliver the event a wait step waits for
//! (`POST /cases/{id}/events/{event}`, e.g. 补正材料已收齐) with the materials handed in,
//! and withdraw the case (`POST /cases/{id}/cancel`, 撤件, a reason required). Both act
//! through the same engine calls and permission rule as the JSON API; a refusal the clerk
//! can fix re-renders the case page with the message.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Map, Value, json};

use super::PageUser;
use super::case::show;
use super::fields::posted;
use super::view::today;
use crate::cases::visible_case;
use crate::{ApiError, Ctx};
use lianban_core::accounts::Principal;
use lianban_core::definition::{Process, StepKind};
use lianban_core::documents::{CaseView, missing_materials};
use lianban_core::runtime::{CaseStatus, RuntimeError};
use lianban_service::EngineError;
use lianban_service::records::CaseRecord;

/// The case page's action forms: one per event of each wait step the case is at
/// (labelled with where it leads, shown only to whom may hand it in:
/// `Principal::may_deliver`), the materials still missing as checkboxes, and whether
/// this person may withdraw the case (only while it is active; the engine's rule,
/// `Principal::may_withdraw`). The engine applies both again when a form is sent.
pub(super) fn actions(
    ctx: &Ctx,
    principal: &Principal,
    record: &CaseRecord,
    process: Option<&Process>,
) -> Result<Value, ApiError> {
    let state = &record.state;
    let active = matches!(state.status, CaseStatus::Active);
    let Some(process) = process.filter(|_| active) else {
        return Ok(json!({"events": [], "materials": [], "cancellable": false}));
    };
    let cancellable = principal.may_withdraw(process, state).is_ok();
    let may_deliver = principal.may_deliver(process, state).is_ok();
    let events: Vec<Value> = state
        .tokens
        .iter()
        .filter(|_| may_deliver)
        .filter_map(|t| match &process.step(&t.step)?.kind {
            StepKind::Wait(wait) => Some(wait.on.iter()),
            _ => None,
        })
        .flatten()
        .map(|(event, to)| {
            let target = process.step(to).map_or(to.0.as_str(), |s| s.name.as_str());
            json!({"key": event, "label": format!("{} → {target}", lianban_core::definition::event_label(event))})
        })
        .collect();
    let materials: Vec<Value> = if events.is_empty() {
        Vec::new()
    } else {
        let case_id = state.id.to_string();
        let view = CaseView {
            id: &case_id,
            form: &state.form,
            data: &state.data,
            materials: &state.materials,
            started_at: state.started_at,
            number: state.number.as_ref().map(|n| n.as_str()),
        };
        missing_materials(process, &view, today(ctx.app.engine().now()))
            .map_err(|e| ApiError::Internal(e.into()))?
            .iter()
            .map(|m| json!({"key": m.key, "name": m.name}))
            .collect()
    };
    Ok(json!({"events": events, "materials": materials, "cancellable": cancellable}))
}

/// What a refused action brings back to the case page.
#[derive(Debug, Default)]
pub(super) struct Refusal {
    /// The message shown above the forms.
    pub(super) message: Option<String>,
    /// The 撤件 reason as typed.
    pub(super) reason: String,
}

/// The same rule as the JSON API: clerks and supervisors of a department taking part.
async fn workable_case(
    ctx: &Ctx,
    user: &PageUser,
    id: &str,
) -> Result<lianban_core::runtime::CaseId, ApiError> {
    // Visibility first, so another department learns nothing (404) even without the role.
    let case = visible_case(ctx, &user.0, id).await?;
    if !user.0.principal().works_cases() {
        return Err(ApiError::Forbidden("只有经办人和负责人可以办理办件"));
    }
    Ok(case)
}

/// `POST /cases/{id}/events/{event}`: delivers the event with the ticked `materials`,
/// then back to the case page; 409 with the message when the case does not wait for it.
pub(super) async fn deliver(
    State(ctx): State<Ctx>,
    user: PageUser,
    Path((id, event)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    user.check_csrf(posted(&pairs, "csrf"))?;
    let case = workable_case(&ctx, &user, &id).await?;
    let materials: Vec<String> = pairs
        .iter()
        .filter(|(k, v)| k == "materials" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    let result = ctx
        .app
        .engine()
        .deliver_for(case, &event, Map::new(), materials, &user.0.principal())
        .await;
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/cases/{case}")).into_response()),
        Err(EngineError::Runtime(
            e @ (RuntimeError::NotWaiting(_) | RuntimeError::CaseEnded(_)),
        )) => {
            let refusal = Refusal {
                message: Some(e.to_string()),
                ..Refusal::default()
            };
            show(&ctx, &user, case, StatusCode::CONFLICT, &refusal).await
        }
        Err(EngineError::Refused(e)) => {
            let refusal = Refusal {
                message: Some(e.to_string()),
                ..Refusal::default()
            };
            show(&ctx, &user, case, StatusCode::FORBIDDEN, &refusal).await
        }
        Err(EngineError::Runtime(RuntimeError::InvalidField { message, .. })) => {
            let refusal = Refusal {
                message: Some(message),
                ..Refusal::default()
            };
            show(
                &ctx,
                &user,
                case,
                StatusCode::UNPROCESSABLE_ENTITY,
                &refusal,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /cases/{id}/cancel`: 撤件 with the written `reason`, then back to the case page;
/// 422 with the message when the reason is blank, 409 when the case has ended, 403 when
/// the person may not withdraw it (`Principal::may_withdraw`, judged by the engine).
pub(super) async fn cancel(
    State(ctx): State<Ctx>,
    user: PageUser,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    user.check_csrf(posted(&pairs, "csrf"))?;
    let case = workable_case(&ctx, &user, &id).await?;
    let reason = posted(&pairs, "reason").trim().to_owned();
    if reason.is_empty() {
        let refusal = Refusal {
            message: Some("撤件需要填写理由".into()),
            reason,
        };
        return show(
            &ctx,
            &user,
            case,
            StatusCode::UNPROCESSABLE_ENTITY,
            &refusal,
        )
        .await;
    }
    let result = ctx
        .app
        .engine()
        .cancel_for(case, &reason, &user.0.principal())
        .await;
    let (status, message) = match result {
        Ok(_) => return Ok(Redirect::to(&format!("/cases/{case}")).into_response()),
        Err(EngineError::Runtime(e @ RuntimeError::CaseEnded(_))) => {
            (StatusCode::CONFLICT, e.to_string())
        }
        Err(EngineError::Runtime(RuntimeError::InvalidReason { message, .. })) => {
            // A reason with control characters is not drawn again as it was.
            let refusal = Refusal {
                message: Some(message),
                reason: String::new(),
            };
            return show(
                &ctx,
                &user,
                case,
                StatusCode::UNPROCESSABLE_ENTITY,
                &refusal,
            )
            .await;
        }
        Err(EngineError::Refused(e)) => (StatusCode::FORBIDDEN, e.to_string()),
        Err(e) => return Err(e.into()),
    };
    let refusal = Refusal {
        message: Some(message),
        reason,
    };
    show(&ctx, &user, case, status, &refusal).await
}
