//! `GET /cases/{id}`: where a case is, its timeline, its documents and (for those allowed)
//! the applicant's data in full; each view is recorded in the case history.
//! `GET /cases/{id}/print/{doc}` serves an issued document's stored HTML for printing.
//! [`facts`] is the part the task page shows too. The page also draws the case's process
//! map ([`case_map`]): done, current and skipped steps, the path taken, and the clerk and
//! time of each done task.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use super::actions::{Refusal, actions};
use super::view::{
    case_status_text, history_row, readable_value, step_names, task_row, today, value_text,
};
use super::{PageUser, department_name, render};
use std::collections::{HashMap, HashSet};

use crate::cases::visible_case;
use crate::{ApiError, Ctx};
use lianban_core::definition::{Process, StepId, StepKind};
use lianban_core::diagram::{self, Mark, Marks};
use lianban_core::documents::{CaseView, Draft, missing_materials};
use lianban_core::evaluate::evaluate;
use lianban_core::runtime::{CaseId, CaseStatus};
use lianban_service::records::{CaseRecord, DocumentId, TaskQuery, TaskRecord};

/// Labels of the keys case data can have: the decision fields of the task steps.
fn data_label(process: &Process, key: &str) -> String {
    // A key without a label is a W-UNLABELED-DATA warning of `lianban check`; shown raw
    // rather than hidden, so that nothing the case holds is kept from the clerk.
    process.data_label(key).unwrap_or(key).to_owned()
}

/// What the task and case pages both show of a case: the application form (masked unless
/// `full`), materials required and received, what the rules computed, the issued documents
/// and the timeline.
pub(super) async fn facts(
    ctx: &Ctx,
    record: &CaseRecord,
    process: Option<&Process>,
    full: bool,
) -> Result<Value, ApiError> {
    let engine = ctx.app.engine();
    let state = &record.state;
    let form = match (process, full) {
        (Some(p), false) => p.masked_form(&state.form),
        _ => state.form.clone(),
    };
    let applicant: Vec<Value> = process
        .map(|p| {
            p.form
                .iter()
                .filter_map(|f| {
                    form.get(&f.key)
                        .map(|v| json!({"label": f.label, "value": readable_value(v)}))
                })
                .collect()
        })
        .unwrap_or_default();
    let evaluation = process.map(|p| evaluate(p, &state.form, today(engine.now())));
    let materials: Vec<Value> = evaluation
        .as_ref()
        .map(|e| {
            e.materials
                .iter()
                .map(|m| {
                    json!({
                        "name": m.name,
                        "copies": m.copies,
                        "unit": m.unit,
                        "why": m.why,
                        "note": m.note,
                        "received": state.materials.contains(&m.key),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let computed: Vec<Value> = state
        .data
        .iter()
        .map(|(k, v)| {
            let label = process.map_or_else(|| k.clone(), |p| data_label(p, k));
            json!({"label": label, "value": readable_value(v)})
        })
        .collect();
    let evaluated: Vec<Value> = match (process, &evaluation) {
        (Some(p), Some(e)) if p.evaluate.is_some() => evaluated_rows(&e.values),
        _ => Vec::new(),
    };
    let issued = engine.list_documents(state.id).await?;
    let entries = engine.history(state.id).await?;
    // People are shown by their names; the history and the documents keep the logins.
    let mut logins: Vec<String> = entries
        .iter()
        .flat_map(|h| {
            let reassigned_to = h.events.iter().filter_map(|e| match e {
                lianban_core::runtime::Event::TaskReassigned { to, .. } => to.clone(),
                _ => None,
            });
            std::iter::once(h.actor.user.clone())
                .chain(h.actor.on_behalf_of.clone())
                .chain(reassigned_to.collect::<Vec<_>>())
        })
        .chain(issued.iter().map(|d| d.issued_by.clone()))
        .collect();
    logins.sort_unstable();
    logins.dedup();
    let names = engine.display_names(&logins).await?;
    let documents: Vec<Value> = issued
        .iter()
        .map(|d| {
            json!({
                "id": d.id.to_string(),
                "name": d.name,
                "number": d.number,
                "issued_at": super::view::time(d.issued_at),
                "issued_by": names.get(&d.issued_by).unwrap_or(&d.issued_by),
            })
        })
        .collect();
    let history = fold_views(
        entries
            .iter()
            .map(|h| history_row(h, process, &names))
            .collect(),
    );
    let status = match &state.status {
        CaseStatus::Active => "active",
        CaseStatus::Completed { .. } => "completed",
        CaseStatus::Cancelled { .. } => "cancelled",
    };
    let result = match &state.status {
        CaseStatus::Active => None,
        CaseStatus::Completed { result, .. } => Some(result.clone()),
        CaseStatus::Cancelled { reason } => Some(reason.clone()),
    };
    Ok(json!({
        "id": state.id.to_string(),
        // Pages and papers call a case by its number (办件编号) and applicant; the UUID
        // stays in URLs.
        "number": state.number.as_ref().map(|n| n.as_str()),
        "title": match (&state.number, record.title.as_deref()) {
            (Some(number), Some(title)) => format!("{number} {title}"),
            (Some(number), None) => number.to_string(),
            (None, title) => title.unwrap_or("（无标题）").to_owned(),
        },
        "process": process.map_or_else(|| state.process.clone(), |p| p.name.clone()),
        "version": state.version,
        // A case keeps the version it started on; say when a newer one is in force, so a
        // clerk reading the rules of today knows this case follows older ones.
        "newer_version": engine
            .catalog()
            .latest(&state.process)
            .map(|latest| latest.version)
            .filter(|latest| *latest > state.version),
        "status": case_status_text(status),
        "result": result,
        "steps": step_names(process, state.tokens.iter().map(|t| &t.step)),
        "started_at": super::view::time(state.started_at),
        "applicant": applicant,
        "materials": materials,
        "computed": computed,
        "evaluated": evaluated,
        "documents": documents,
        "history": history,
        "clock": super::view::case_clock(
            &state.clock,
            engine.now(),
            process.and_then(|p| p.calendar_data.as_deref()),
            status == "active",
        ),
    }))
}

/// The timeline with each run of two or more consecutive views (查看办件) folded into one
/// row that counts them and opens to list them: a finished case is read dozens of times,
/// and the reads would bury the work. The audit history keeps every view as its own entry.
fn fold_views(rows: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut run: Vec<Value> = Vec::new();
    let flush = |run: &mut Vec<Value>, out: &mut Vec<Value>| match run.len() {
        0 => {}
        1 => out.append(run),
        n => {
            let first = run.first().map(|r| r["at"].clone()).unwrap_or_default();
            let last = run.last().map(|r| r["at"].clone()).unwrap_or_default();
            out.push(json!({
                "fold": true,
                "count": n,
                "first": first,
                "last": last,
                "views": std::mem::take(run),
            }));
        }
    };
    for row in rows {
        if row["view"] == true {
            run.push(row);
        } else {
            flush(&mut run, &mut out);
            out.push(row);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The definition version a case runs on, when it is loaded.
pub(super) fn process_of(ctx: &Ctx, record: &CaseRecord) -> Option<std::sync::Arc<Process>> {
    ctx.app
        .engine()
        .catalog()
        .get(&record.state.process, record.state.version)
        .filter(|p| p.content_hash == record.content_hash)
}

/// The case page; the view is recorded before the history is read, so it shows.
pub(super) async fn page(
    State(ctx): State<Ctx>,
    user: PageUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = visible_case(&ctx, &user.0, &id).await?;
    show(&ctx, &user, id, StatusCode::OK, &Refusal::default()).await
}

/// Renders the case page of a visible case with `status`, and what a refused action
/// ([`super::actions`]) brings back.
pub(super) async fn show(
    ctx: &Ctx,
    user: &PageUser,
    id: CaseId,
    status: StatusCode,
    refusal: &Refusal,
) -> Result<Response, ApiError> {
    let engine = ctx.app.engine();
    let record = engine
        .get_case(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("办件不存在".into()))?;
    engine
        .record_view(id, &user.0.actor(), engine.now())
        .await?;
    let process = process_of(ctx, &record);
    // Whoever may see the case (their department takes part) sees it in full here.
    let facts = facts(ctx, &record, process.as_deref(), true).await?;
    // Only those who may act see the forms (an admin reading the case does not).
    let actions = if user.0.principal().works_cases() {
        actions(ctx, &user.0.principal(), &record, process.as_deref())?
    } else {
        json!({})
    };
    let tasks = engine
        .list_tasks(&TaskQuery {
            case: Some(id),
            ..TaskQuery::default()
        })
        .await?;
    let now = engine.now();
    let records = tasks;
    let mut tasks: Vec<Value> = records
        .iter()
        .map(|t| {
            let calendar = process.as_deref().and_then(|p| p.calendar_data.as_deref());
            let mut row = task_row(t, None, now, calendar);
            let outcome = t.outcome.as_ref().map(|key| {
                process
                    .as_deref()
                    .and_then(|p| p.step(&t.step))
                    .and_then(|s| match &s.kind {
                        StepKind::Task(task) => task.outcomes.get(key).map(|o| o.label.clone()),
                        _ => None,
                    })
                    .unwrap_or_else(|| key.clone())
            });
            if let Value::Object(map) = &mut row {
                map.insert("outcome".into(), json!(outcome));
                map.insert(
                    "department".into(),
                    json!(department_name(ctx, &t.county, &t.department)),
                );
                map.insert("mine".into(), json!(t.department == user.0.department));
            }
            row
        })
        .collect();
    super::view::name_people(engine, &mut tasks).await?;
    let previews: Vec<Value> = process
        .as_deref()
        .map(previewable)
        .unwrap_or_default()
        .into_iter()
        .map(|(key, name)| json!({"key": key, "name": name}))
        .collect();
    let map = process.as_deref().map(|p| case_map(p, &record, &records));
    let title = format!("办件 {}", facts["title"].as_str().unwrap_or_default());
    render(
        ctx,
        user,
        status,
        "web/case.html.j2",
        &title,
        json!({
            "case": facts,
            "tasks": tasks,
            "previews": previews,
            "map": map,
            "actions": actions,
            "message": refusal.message,
            "reason": refusal.reason,
        }),
    )
}

/// The case's process map: steps on its trail are done (the task steps with the clerk who
/// completed them and when), the steps its tokens are at are current, the steps it can no
/// longer reach are skipped; an edge is taken when the trail went from its source to its
/// target. Only user names and times appear: no applicant data.
fn case_map(process: &Process, record: &CaseRecord, tasks: &[TaskRecord]) -> String {
    let state = &record.state;
    let edges: HashSet<(StepId, StepId)> = {
        let layout = diagram::layout(process);
        layout.edges.into_iter().map(|e| (e.from, e.to)).collect()
    };
    let current: HashSet<&StepId> = state.tokens.iter().map(|t| &t.step).collect();
    // A multi-choice that took no branch goes straight on after its join: the join counts
    // as passed, so the path stays unbroken on the map.
    let mut trail: Vec<&StepId> = Vec::new();
    for (i, visit) in state.trail.iter().enumerate() {
        trail.push(&visit.step);
        let Some(StepKind::MultiChoice(split)) = process.step(&visit.step).map(|s| &s.kind) else {
            continue;
        };
        let after_join = match process.step(&split.join).map(|s| &s.kind) {
            Some(StepKind::Join(j)) => Some(&j.next),
            _ => None,
        };
        if split.otherwise.is_none()
            && after_join.is_some()
            && state.trail.get(i + 1).map(|v| &v.step) == after_join
        {
            trail.push(&split.join);
        }
    }
    let mut taken: Vec<(StepId, StepId)> = Vec::new();
    for (j, to) in trail.iter().enumerate() {
        if let Some(from) = trail[..j]
            .iter()
            .rev()
            .find(|from| edges.contains(&((**from).clone(), (*to).clone())))
        {
            let pair = ((*from).clone(), (*to).clone());
            if !taken.contains(&pair) {
                taken.push(pair);
            }
        }
    }
    // Steps still ahead: reachable from where the case is now.
    let mut ahead: HashSet<StepId> = HashSet::new();
    let mut queue: Vec<StepId> = current.iter().map(|s| (*s).clone()).collect();
    while let Some(step) = queue.pop() {
        for (from, to) in &edges {
            if *from == step && ahead.insert(to.clone()) {
                queue.push(to.clone());
            }
        }
    }
    let mut marks = Marks::default();
    for step in process.steps.keys() {
        let mark = if current.contains(step) {
            Mark::Current
        } else if trail.contains(&step) {
            Mark::Done
        } else if ahead.contains(step) {
            continue;
        } else {
            Mark::Skipped
        };
        marks.steps.insert(step.clone(), mark);
    }
    marks.taken = taken;
    for task in tasks {
        let label =
            task.outcome
                .as_ref()
                .and_then(|key| match process.step(&task.step).map(|s| &s.kind) {
                    Some(StepKind::Task(t)) => t.outcomes.get(key).map(|o| o.label.clone()),
                    _ => None,
                });
        if let Some(label) = label {
            marks.outcomes.push((task.step.clone(), label));
        }
    }
    let mut notes: HashMap<StepId, Vec<String>> = HashMap::new();
    for task in tasks {
        if let (Some(by), Some(at)) = (&task.completed_by, task.closed_at) {
            // The last completion shows (a step done again after 补正 shows the latest).
            // `YYYY-MM-DD HH:MM` without the year, so that it fits a box.
            let when = super::view::time(at);
            let when = when.get(5..).unwrap_or(&when);
            notes.insert(task.step.clone(), vec![format!("{by} {when}")]);
        }
    }
    diagram::case_svg(process, &marks, &notes)
}

/// The documents of a definition that render from the case alone: unnumbered, and issued
/// by no outcome (申请表, 一次性告知单 …). They are rendered on request, never stored.
pub(super) fn previewable(process: &Process) -> Vec<(&str, &str)> {
    let issued: Vec<&str> = process
        .steps
        .values()
        .filter_map(|s| match &s.kind {
            StepKind::Task(t) => Some(t.outcomes.values()),
            _ => None,
        })
        .flatten()
        .flat_map(|o| o.documents.iter().map(String::as_str))
        .collect();
    process
        .documents
        .values()
        .filter(|d| d.numbered.is_none() && !issued.contains(&d.key.as_str()))
        .map(|d| (d.key.as_str(), d.name.as_str()))
        .collect()
}

/// `GET /cases/{id}/preview/{doc}`: a document of [`previewable`] rendered from the case
/// as it is now, for printing (申请表, 一次性告知单). The view is recorded.
pub(super) async fn preview(
    State(ctx): State<Ctx>,
    user: PageUser,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id: CaseId = visible_case(&ctx, &user.0, &id).await?;
    let missing = || ApiError::NotFound("文书不存在".into());
    let engine = ctx.app.engine();
    let record = engine.get_case(id).await?.ok_or_else(missing)?;
    let process = process_of(&ctx, &record).ok_or_else(missing)?;
    if !previewable(&process).iter().any(|(k, _)| *k == key) {
        return Err(missing());
    }
    let state = &record.state;
    let case_id = state.id.to_string();
    let view = CaseView {
        id: &case_id,
        form: &state.form,
        data: &state.data,
        materials: &state.materials,
        started_at: state.started_at,
        number: state.number.as_ref().map(|n| n.as_str()),
    };
    let now = engine.now();
    let render_error = |e: lianban_core::documents::RenderError| ApiError::Internal(e.into());
    let lacking =
        missing_materials(&process, &view, today(now)).map_err(|e| ApiError::Internal(e.into()))?;
    let draft = Draft::new(&process, &key, &view, None, &lacking, now).map_err(render_error)?;
    let rendered = draft
        .render(&engine.templates(), None)
        .map_err(render_error)?;
    engine.record_view(id, &user.0.actor(), now).await?;
    Ok(printable(rendered.html))
}

fn printable(html: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
            ),
        ],
        html,
    )
        .into_response()
}

/// An issued document of a case the user may see, its reading recorded in the history.
async fn stored_document(
    ctx: &Ctx,
    user: &PageUser,
    id: &str,
    doc: &str,
) -> Result<lianban_service::records::DocumentRecord, ApiError> {
    let id: CaseId = visible_case(ctx, &user.0, id).await?;
    let missing = || ApiError::NotFound("文书不存在".into());
    let doc = Uuid::parse_str(doc)
        .map(DocumentId)
        .map_err(|_| missing())?;
    let engine = ctx.app.engine();
    let document = engine.get_document(id, doc).await?.ok_or_else(missing)?;
    engine
        .record_view(id, &user.0.actor(), engine.now())
        .await?;
    Ok(document)
}

/// An issued document's HTML as stored, for printing; the view is recorded.
pub(super) async fn print(
    State(ctx): State<Ctx>,
    user: PageUser,
    Path((id, doc)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let document = stored_document(&ctx, &user, &id, &doc).await?;
    Ok(printable(document.html))
}

/// An issued document's HTML as stored, as a file to keep (`Content-Disposition:
/// attachment`, named after the document and its number); the view is recorded.
pub(super) async fn download(
    State(ctx): State<Ctx>,
    user: PageUser,
    Path((id, doc)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let document = stored_document(&ctx, &user, &id, &doc).await?;
    let stem = match &document.number {
        Some(number) => format!("{}-{number}", document.name),
        None => document.name.clone(),
    };
    let disposition =
        super::view::attachment(&format!("{}.html", document.key), &format!("{stem}.html"));
    let mut response = printable(document.html);
    if let Ok(value) = header::HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// What the rules computed, as label/value rows. A definition whose `evaluate:` returns a
/// `summary` (a list of `[label, text]` pairs, written in the clerk's words) is shown by it,
/// followed by the `reasons` as 说明; otherwise every value is listed under its key, which
/// is exact but meant for the policy officer rather than the clerk.
fn evaluated_rows(values: &serde_json::Map<String, Value>) -> Vec<Value> {
    let summary: Option<Vec<Value>> = values.get("summary").and_then(Value::as_array).map(|rows| {
        rows.iter()
            .filter_map(|row| match row.as_array().map(Vec::as_slice) {
                Some([label, value]) => Some(json!({
                    "label": value_text(label),
                    "value": value_text(value),
                })),
                _ => None,
            })
            .collect()
    });
    match summary {
        Some(mut rows) => {
            if let Some(reasons) = values.get("reasons").filter(|r| !r.is_null()) {
                rows.push(json!({"label": "说明", "value": value_text(reasons)}));
            }
            rows
        }
        None => values
            .iter()
            .map(|(k, v)| json!({"label": k, "value": value_text(v)}))
            .collect(),
    }
}
