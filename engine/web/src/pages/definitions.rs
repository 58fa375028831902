//! `GET /definitions` (supervisors and admins): each loaded definition and version, its
//! steps (kind, role, time limit, outcomes), parameters (with the 本地设置 badge for local
//! settings) and documents, with each definition's process map. Read from the catalog;
//! nothing here changes anything.
//!
//! `GET /definitions/{id}/resolved` shows the merged definition with where each value is
//! written (supervisors and admins).
//!
//! `GET /definitions/{id}/diagram.svg?version=N` serves the plain map (附件3 流程图) as
//! SVG and `GET /definitions/{id}/diagram` a page that prints it on A4, to any signed-in
//! person of the definition's county (clerks see it on case pages too).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::view::value_text;
use super::{PageUser, render};
use crate::input::QueryParams;
use crate::{ApiError, Ctx};
use lianban_core::definition::{Process, Step, StepKind};

fn kind_text(kind: &StepKind) -> &'static str {
    match kind {
        StepKind::Task(_) => "人工办理",
        StepKind::Auto(_) => "自动计算",
        StepKind::Choice(_) => "条件分支",
        StepKind::MultiChoice(_) => "按条件联办",
        StepKind::Parallel(_) => "并行办理",
        StepKind::Join(_) => "汇合",
        StepKind::Wait(_) => "等待",
        StepKind::End(_) => "办结",
    }
}

fn step_json(process: &Process, step: &Step) -> Value {
    let (role, due, outcomes) = match &step.kind {
        StepKind::Task(t) => {
            let role = process.roles.get(&t.role).map_or_else(
                || t.role.clone(),
                |r| {
                    format!(
                        "{}（{}）",
                        r.name,
                        // This very version's name of it: the page shows one definition.
                        process
                            .departments
                            .get(&r.department)
                            .map_or(r.department.as_str(), |d| d.name.as_str())
                    )
                },
            );
            let outcomes: Vec<String> = t
                .outcomes
                .values()
                .map(|o| {
                    let target = process
                        .step(&o.target)
                        .map_or(o.target.as_str(), |s| s.name.as_str());
                    let reason = if o.reason_required {
                        "，须写理由"
                    } else {
                        ""
                    };
                    format!("{} → {target}{reason}", o.label)
                })
                .collect();
            (Some(role), t.due.map(|d| d.to_string()), outcomes)
        }
        StepKind::Wait(w) => (None, w.due.map(|d| d.to_string()), Vec::new()),
        StepKind::End(e) => (None, None, vec![format!("结果：{}", e.result)]),
        _ => (None, None, Vec::new()),
    };
    json!({
        "id": step.id.as_str(),
        "name": step.name,
        "kind": kind_text(&step.kind),
        "role": role,
        "due": due,
        "outcomes": outcomes,
    })
}

fn process_json(process: &Process) -> Value {
    json!({
        "id": process.id,
        "version": process.version,
        "name": process.name,
        "file": process.file,
        "extends": process.extends,
        "hash": process.content_hash.get(..12).unwrap_or(&process.content_hash),
        "diagram": lianban_core::diagram::svg(process),
        "departments": process.departments.values().map(|d| d.name.clone()).collect::<Vec<_>>(),
        "steps": process.steps.values().map(|s| step_json(process, s)).collect::<Vec<_>>(),
        "parameters": process.parameters.values().map(|p| json!({
            "key": p.key,
            "value": value_text(&p.value),
            "source": p.source,
            "local": p.local,
        })).collect::<Vec<_>>(),
        "documents": process.documents.values().map(|d| json!({
            "key": d.key,
            "name": d.name,
            "template": d.template,
            "numbered": d.numbered,
        })).collect::<Vec<_>>(),
    })
}

/// The definitions page; 403 for clerks.
pub(super) async fn page(State(ctx): State<Ctx>, user: PageUser) -> Result<Response, ApiError> {
    if !user.oversees() {
        return Err(ApiError::Forbidden("只有负责人和管理员可以查看流程定义"));
    }
    let catalog = ctx.app.engine().catalog();
    let county = user.0.county.as_deref();
    let mut processes: Vec<_> = catalog
        .iter()
        .filter(|p| county.is_none_or(|c| lianban_core::accounts::county_of(&p.id) == c))
        .collect();
    processes.sort_by(|a, b| a.id.cmp(&b.id).then(b.version.cmp(&a.version)));
    let list: Vec<Value> = processes.iter().map(|p| process_json(p)).collect();
    render(
        &ctx,
        &user,
        StatusCode::OK,
        "web/definitions.html.j2",
        "流程定义",
        json!({"processes": list}),
    )
}

/// The definition `id` at `?version=N` (default: the latest), when the person's county
/// may see it; anything else is 404 so that other counties' ids stay unknown.
fn visible_definition(
    ctx: &Ctx,
    user: &PageUser,
    id: &str,
    query: &HashMap<String, String>,
) -> Result<Arc<Process>, ApiError> {
    let missing = || ApiError::NotFound("流程定义不存在".into());
    if user
        .0
        .county
        .as_deref()
        .is_some_and(|c| lianban_core::accounts::county_of(id) != c)
    {
        return Err(missing());
    }
    let catalog = ctx.app.engine().catalog();
    match query.get("version") {
        None => catalog.latest(id).ok_or_else(missing),
        Some(text) => {
            let version: u32 = text.trim().parse().map_err(|_| ApiError::BadRequest {
                title: "version 应是正整数版本号".into(),
                extra: json!({"errors": [{"field": "version", "message": "版本号应是正整数"}]}),
            })?;
            catalog.get(id, version).ok_or_else(missing)
        }
    }
}

/// `GET /definitions/{id}/resolved?version=N` (supervisors and admins): the merged
/// definition (合并后的定义), base and county overlay together, each value with the
/// `file:line` it is written at and whether the county writes it or inherits it — what
/// `lianban show --resolved` prints.
pub(super) async fn resolved_page(
    State(ctx): State<Ctx>,
    user: PageUser,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if !user.oversees() {
        return Err(ApiError::Forbidden("只有负责人和管理员可以查看流程定义"));
    }
    let process = visible_definition(&ctx, &user, &id, &query)?;
    let lines: Vec<Value> = process
        .resolved_lines()
        .into_iter()
        .map(|l| {
            json!({
                "text": l.text,
                "path": l.path,
                "origin": l.origin,
                "own": l.own,
            })
        })
        .collect();
    let title = format!("合并后的定义：{}", process.name);
    render(
        &ctx,
        &user,
        StatusCode::OK,
        "web/resolved.html.j2",
        &title,
        json!({
            "id": process.id,
            "version": process.version,
            "name": process.name,
            "file": process.file,
            "extends": process.extends,
            "lines": lines,
        }),
    )
}

/// `GET /definitions/{id}/diagram.svg`: the plain process map.
pub(super) async fn diagram_svg(
    State(ctx): State<Ctx>,
    user: PageUser,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let process = visible_definition(&ctx, &user, &id, &query)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        lianban_core::diagram::svg(&process),
    )
        .into_response())
}

/// `GET /definitions/{id}/diagram`: the map on its own page for printing on A4 (landscape
/// when the map is wider than tall), titled 附件3 流程图.
pub(super) async fn diagram_page(
    State(ctx): State<Ctx>,
    user: PageUser,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let process = visible_definition(&ctx, &user, &id, &query)?;
    let layout = lianban_core::diagram::layout(&process);
    let html = ctx
        .app
        .pages()
        .render_page(
            "web/diagram.html.j2",
            &json!({
                "name": process.name,
                "id": process.id,
                "version": process.version,
                "landscape": layout.width > layout.height,
                "svg": lianban_core::diagram::svg(&process),
            }),
        )
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
            ),
        ],
        html,
    )
        .into_response())
}
