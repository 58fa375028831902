//! `GET /guide/{process_id}`: the public 办事指南 of a process with its blank 一次性告知单,
//! for the window to show or hand to an enterprise before any case exists (the source's
//! 六(一)). No sign-in: everything on it is what the county publishes anyway (conditions,
//! materials, flow, windows and phones). It prints on A4.
//!
//! Everything comes from the definition in force, so the page follows a policy officer's
//! change on the next reload, like the personalised notices do.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::{ApiError, Ctx};
use lianban_core::definition::{Process, StepKind};
use lianban_core::documents::duration_text;

/// The guide of the process `id` in force; 404 for an id that is not loaded.
pub(super) async fn page(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Some(process) = ctx.app.engine().catalog().latest(&id) else {
        return Err(ApiError::NotFound(format!("没有事项 {id}")));
    };
    let html = ctx
        .app
        .pages()
        .render_page("web/guide.html.j2", &guide(&process))
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The flow map is inline SVG; the page needs nothing else of anyone.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
            ),
        ],
        html,
    )
        .into_response())
}

/// What the guide template shows.
fn guide(process: &Process) -> Value {
    let department = |key: &str| process.departments.get(key);
    let materials: Vec<Value> = process
        .materials
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "copies": m.copies,
                "unit": m.unit,
                // The condition in the words the definition gives for it; a material
                // with a condition but no words still says that it is not for everyone.
                "conditional": m.when.is_some(),
                "note": m.note,
                "why": m.why,
            })
        })
        .collect();
    let steps: Vec<Value> = process
        .steps
        .values()
        .filter_map(|step| match &step.kind {
            StepKind::Task(task) => {
                let role = process.roles.get(&task.role);
                let dept = role.and_then(|r| department(&r.department));
                Some(json!({
                    "name": step.name,
                    "department": dept.map(|d| d.name.as_str()),
                    "limit": task.due.map(duration_text),
                }))
            }
            _ => None,
        })
        .collect();
    let departments: Vec<Value> = process
        .departments
        .values()
        .map(|d| json!({"name": d.name, "window": d.window, "phone": d.phone}))
        .collect();
    json!({
        "id": process.id,
        "version": process.version,
        "name": process.name,
        "metadata": process.metadata,
        // In the order the definition lists them (a map would come out sorted).
        "contacts": process
            .metadata
            .contacts
            .iter()
            .map(|(label, phone)| json!({"label": label, "phone": phone}))
            .collect::<Vec<_>>(),
        "materials": materials,
        "steps": steps,
        "departments": departments,
        "legal": process.time_limits.legal.map(duration_text),
        "promised": process.time_limits.promised.map(duration_text),
        "flow_svg": lianban_core::diagram::svg(process),
    })
}
