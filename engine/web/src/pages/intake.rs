//! `GET /intake` and `POST /intake`: the window that starts cases. The application form is
//! drawn from the definition's `form:`; the materials this applicant must bring come from
//! the rules (`evaluate`), recomputed when the clerk presses 更新材料清单
//! (`action=refresh`, which starts nothing); 开始办理 (`action=start`) checks the whole form
//! on the server — `when` conditions included — and starts the case, or shows every
//! problem at its field with 422.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::fields::{describe, posted, values};
use super::view::today;
use super::{PageUser, render};
use crate::input::QueryParams;
use crate::{ApiError, Ctx, Identity};
use lianban_core::definition::Process;
use lianban_core::evaluate::evaluate;
use lianban_core::runtime::{RuntimeError, fields_applying};
use lianban_service::EngineError;

/// Application fields are posted as `form.<key>`.
const FORM: &str = "form.";

/// The latest versions of the processes this person may start
/// ([`lianban_core::accounts::Principal::may_start`], the rule the JSON API follows too).
pub(super) fn startable(ctx: &Ctx, identity: &Identity) -> Vec<Arc<Process>> {
    let catalog = ctx.app.engine().catalog();
    let principal = identity.principal();
    let mut ids: Vec<&str> = catalog.iter().map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
        .filter_map(|id| catalog.latest(id))
        .filter(|p| principal.may_start(p).is_ok())
        .collect()
}

/// Query of `GET /intake`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct IntakeQuery {
    #[serde(default)]
    process: String,
}

fn process_for(ctx: &Ctx, user: &PageUser, id: &str) -> Result<Arc<Process>, ApiError> {
    let process = ctx
        .app
        .engine()
        .catalog()
        .latest(id)
        .ok_or_else(|| ApiError::NotFound("没有这个流程".into()))?;
    // Checked again when the case starts; here so the form is not even shown.
    user.0
        .principal()
        .may_start(&process)
        .map_err(|refusal| ApiError::Refused(refusal.to_string()))?;
    Ok(process)
}

/// What the page shows: the fields with values and errors, and the materials checklist.
fn show(
    ctx: &Ctx,
    user: &PageUser,
    status: StatusCode,
    process: &Process,
    form: &Map<String, Value>,
    received: &[String],
    errors: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let evaluation = evaluate(process, form, today(ctx.app.engine().now()));
    let materials: Vec<Value> = evaluation
        .materials
        .iter()
        .map(|m| {
            json!({
                "key": m.key,
                "name": m.name,
                "copies": m.copies,
                "unit": m.unit,
                "why": m.why,
                "note": m.note,
                "received": received.contains(&m.key),
            })
        })
        .collect();
    // Only the fields that apply to the answers so far are shown; the others are in the
    // page, hidden and disabled (so not posted), and intake.js shows them as they come to
    // apply. Without JavaScript, 更新申请表和材料清单 does the same with a whole page.
    let mut fields = describe(&process.form, FORM, form, errors);
    let now = today(ctx.app.engine().now());
    let applying = fields_applying(process, &process.form, form, &Map::new(), now);
    for ((shown, field), applies) in fields.iter_mut().zip(&process.form).zip(applying) {
        if let Value::Object(map) = shown {
            let hidden = !applies && !errors.contains_key(&field.key);
            map.insert("hidden".into(), json!(hidden));
            // A field that applies now is as required as any other, and no longer
            // "视情况填写": the situation is the one on screen.
            if applies && field.when.is_some() {
                map.insert("required".into(), json!(field.required));
                map.insert("conditional".into(), json!(false));
            }
        }
    }
    let page = json!({
        "process": {"id": process.id, "name": process.name, "version": process.version},
        "fields": fields,
        "materials": materials,
        "materials_error": evaluation.materials_error.is_some(),
        "invalid": !errors.is_empty(),
    });
    let title = format!("新建申请 · {}", process.name);
    render(ctx, user, status, "web/intake.html.j2", &title, page)
}

/// The intake page: the form of `?process=`, or the list of processes this window starts.
pub(super) async fn page(
    State(ctx): State<Ctx>,
    user: PageUser,
    QueryParams(query): QueryParams<IntakeQuery>,
) -> Result<Response, ApiError> {
    if query.process.is_empty() {
        let list: Vec<Value> = startable(&ctx, &user.0)
            .iter()
            .map(|p| json!({"id": p.id, "name": p.name, "version": p.version}))
            .collect();
        let page = json!({"choose": list});
        return render(
            &ctx,
            &user,
            StatusCode::OK,
            "web/intake.html.j2",
            "新建申请",
            page,
        );
    }
    let process = process_for(&ctx, &user, &query.process)?;
    show(
        &ctx,
        &user,
        StatusCode::OK,
        &process,
        &Map::new(),
        &[],
        &HashMap::new(),
    )
}

/// Refreshes the checklist, or starts the case and goes to its page.
pub(super) async fn submit(
    State(ctx): State<Ctx>,
    user: PageUser,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    user.check_csrf(posted(&pairs, "csrf"))?;
    let process = process_for(&ctx, &user, posted(&pairs, "process"))?;
    let form = values(&process.form, FORM, &pairs);
    let received: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "materials")
        .map(|(_, v)| v.clone())
        .filter(|v| process.materials.iter().any(|m| m.key == *v))
        .collect();
    if posted(&pairs, "action") != "start" {
        return show(
            &ctx,
            &user,
            StatusCode::OK,
            &process,
            &form,
            &received,
            &HashMap::new(),
        );
    }
    let engine = ctx.app.engine();
    let result = engine
        .start_case_for(
            &user.0.principal(),
            &process.id,
            form.clone(),
            received.clone(),
        )
        .await;
    match result {
        Ok(id) => Ok(Redirect::to(&format!("/cases/{id}")).into_response()),
        Err(EngineError::Runtime(RuntimeError::InvalidForm(problems))) => {
            let errors = problems.into_iter().map(|e| (e.field, e.message)).collect();
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            show(&ctx, &user, status, &process, &form, &received, &errors)
        }
        Err(e) => Err(e.into()),
    }
}
