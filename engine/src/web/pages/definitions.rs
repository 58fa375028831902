//! `GET /definitions` (supervisors and admins): each loaded definition and version, its
//! steps (kind, role, time limit, outcomes), parameters (with the 本地设置 badge for local
//! settings) and documents. Read from the catalog; nothing here changes anything.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::view::value_text;
use super::{PageUser, department_name, render};
use crate::definition::{Process, Step, StepKind};
use crate::web::{ApiError, Ctx};

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

fn step_json(ctx: &Ctx, process: &Process, step: &Step) -> Value {
    let (role, due, outcomes) = match &step.kind {
        StepKind::Task(t) => {
            let role = process.roles.get(&t.role).map_or_else(
                || t.role.clone(),
                |r| {
                    format!(
                        "{}（{}）",
                        r.name,
                        department_name(ctx, Some(process), &r.department)
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

fn process_json(ctx: &Ctx, process: &Process) -> Value {
    json!({
        "id": process.id,
        "version": process.version,
        "name": process.name,
        "file": process.file,
        "hash": process.content_hash.get(..12).unwrap_or(&process.content_hash),
        "departments": process.departments.values().map(|d| d.name.clone()).collect::<Vec<_>>(),
        "steps": process.steps.values().map(|s| step_json(ctx, process, s)).collect::<Vec<_>>(),
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
    let mut processes: Vec<_> = catalog.iter().collect();
    processes.sort_by(|a, b| a.id.cmp(&b.id).then(b.version.cmp(&a.version)));
    let list: Vec<Value> = processes.iter().map(|p| process_json(&ctx, p)).collect();
    render(
        &ctx,
        &user,
        StatusCode::OK,
        "web/definitions.html.j2",
        "流程定义",
        json!({"processes": list}),
    )
}
