//! Issuing a document: a [`Draft`] holds everything but the number; the store draws the
//! number inside the transaction that persists the transition and then renders the draft,
//! so a number is only ever used by a document that was actually stored.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::context::{self, CaseView, MissingMaterial, Parts, TaskView};
use super::{RenderError, Templates};
use crate::case_number::CaseNumber;
use crate::definition::{Process, StepKind};

/// A document about to be issued: its kind, template and context, without a number yet.
#[derive(Debug, Clone)]
pub struct Draft {
    /// Document key in the definition.
    pub key: String,
    /// Document name (一次性补正材料告知书).
    pub name: String,
    /// Template name.
    pub template: String,
    /// Number prefix when this kind is numbered.
    pub prefix: Option<String>,
    /// When it is issued.
    pub issued_at: DateTime<Utc>,
    context: Value,
}

/// A rendered document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The number printed on it, if numbered.
    pub number: Option<String>,
    /// The HTML.
    pub html: String,
    /// SHA-256 (hex) of the HTML.
    pub content_hash: String,
    /// SHA-256 (hex) of the template source it was rendered from.
    pub template_hash: String,
}

impl Draft {
    /// Prepares document `key` of `process` for a case.
    ///
    /// # Errors
    /// [`RenderError::UnknownDocument`] when the definition has no such document.
    pub fn new(
        process: &Process,
        key: &str,
        case: &CaseView<'_>,
        task: Option<&TaskView>,
        missing: &[MissingMaterial],
        issued_at: DateTime<Utc>,
    ) -> Result<Draft, RenderError> {
        let document = process
            .documents
            .get(key)
            .ok_or_else(|| RenderError::UnknownDocument {
                process: process.id.clone(),
                key: key.to_owned(),
            })?;
        let context = context::build(&Parts {
            process,
            key,
            name: &document.name,
            case,
            task,
            missing,
            issued_at,
        });
        Ok(Draft {
            key: key.to_owned(),
            name: document.name.clone(),
            template: document.template.clone(),
            prefix: document.numbered.clone(),
            issued_at,
            context,
        })
    }

    /// The year the number is drawn in (Beijing time).
    pub fn year(&self) -> i32 {
        context::numbering_year(self.issued_at)
    }

    /// Sets a top-level value of the context that only the caller knows, such as
    /// `refusals` (the refusal notices the case issued before, with their numbers).
    pub fn set_context(&mut self, key: &str, value: Value) {
        if let Some(context) = self.context.as_object_mut() {
            context.insert(key.to_owned(), value);
        }
    }

    /// The context the template sees, with `document.number` still `null`.
    pub fn context(&self) -> &Value {
        &self.context
    }

    /// Renders the draft with its number (`None` for unnumbered kinds).
    ///
    /// # Errors
    /// [`RenderError`] from the template; nothing should be stored then.
    pub fn render(
        &self,
        templates: &Templates,
        number: Option<String>,
    ) -> Result<Rendered, RenderError> {
        let mut context = self.context.clone();
        if let Some(document) = context.get_mut("document").and_then(Value::as_object_mut) {
            document.insert(
                "number".into(),
                number.clone().map_or(Value::Null, Value::String),
            );
        }
        let html = templates.render(&self.template, &context)?;
        let template_hash = templates
            .source(&self.template)
            .map(|source| sha256(&source))
            .unwrap_or_default();
        Ok(Rendered {
            number,
            content_hash: sha256(&html),
            html,
            template_hash,
        })
    }
}

/// Renders document `key` of `process` for a case whose form is `form` and which has
/// received no materials: what `lianban render` prints. The number reads
/// `阳社补〔YYYY〕第0000号（预览）` and the issuing task is the first outcome that lists the
/// document, done by `（预览）`.
///
/// # Errors
/// [`RenderError::UnknownDocument`], [`RenderError::Rule`] when a material condition
/// fails, or the template's [`RenderError`].
pub fn preview(
    process: &Process,
    templates: &Templates,
    key: &str,
    form: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Rendered, RenderError> {
    let (draft, number) = preview_draft(process, key, form, now)?;
    draft.render(templates, number)
}

/// Renders a table document (such as 附件4 推送信息表) over many cases at once: the
/// template receives `rows` (each a case's `{form, data}` or a bare form) and, when given,
/// `department` (the receiving department of the definition), besides the preview context.
///
/// # Errors
/// [`RenderError::UnknownDocument`], [`RenderError::UnknownDepartment`], or the
/// template's [`RenderError`].
pub fn preview_table(
    process: &Process,
    templates: &Templates,
    key: &str,
    rows: Vec<Value>,
    department: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Rendered, RenderError> {
    let (draft, number) = table_parts(process, key, rows, department, now)?;
    draft.render(templates, number)
}

/// The draft of a table document (such as 附件4 推送信息表) over many cases, as the push
/// schedule issues it: the store draws its number (the definition's prefix) and renders
/// it in the transaction that stores it. The template sees what [`preview_table`] gives.
///
/// # Errors
/// [`RenderError::UnknownDocument`], [`RenderError::UnknownDepartment`].
pub fn table_draft(
    process: &Process,
    key: &str,
    rows: Vec<Value>,
    department: &str,
    issued_at: DateTime<Utc>,
) -> Result<Draft, RenderError> {
    table_parts(process, key, rows, Some(department), issued_at).map(|(draft, _)| draft)
}

fn table_parts(
    process: &Process,
    key: &str,
    rows: Vec<Value>,
    department: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Draft, Option<String>), RenderError> {
    let department = match department {
        None => Value::Null,
        Some(d) => {
            let found =
                process
                    .departments
                    .get(d)
                    .ok_or_else(|| RenderError::UnknownDepartment {
                        process: process.id.clone(),
                        department: d.to_owned(),
                    })?;
            serde_json::to_value(found).unwrap_or(Value::Null)
        }
    };
    let (mut draft, number) = preview_draft(process, key, &Map::new(), now)?;
    if let Some(context) = draft.context.as_object_mut() {
        context.insert("rows".into(), Value::Array(rows));
        context.insert("department".into(), department);
    }
    Ok((draft, number))
}

/// The draft `lianban render` shows, with its preview number.
fn preview_draft(
    process: &Process,
    key: &str,
    form: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<(Draft, Option<String>), RenderError> {
    let data = Map::new();
    // A preview draws no number, like its document number: `阳城退休〔2026〕0000（预览）`.
    let case_number = process.case_prefix.as_deref().map(|prefix| {
        let number = CaseNumber::new(prefix, CaseNumber::year_of(now), 0);
        format!("{number}（预览）")
    });
    let case = CaseView {
        id: "00000000-0000-0000-0000-000000000000",
        form,
        data: &data,
        materials: &[],
        started_at: now,
        number: case_number.as_deref(),
    };
    let today: NaiveDate = now.with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let missing = context::missing_materials(process, &case, today)?;
    let task = process.steps.values().find_map(|step| match &step.kind {
        StepKind::Task(spec) => spec
            .outcomes
            .values()
            .find(|o| o.documents.iter().any(|d| d == key))
            .map(|o| TaskView {
                step: step.id.clone(),
                outcome: o.key.clone(),
                reason: None,
                clerk: "（预览）".into(),
            }),
        _ => None,
    });
    let draft = Draft::new(process, key, &case, task.as_ref(), &missing, now)?;
    let number = draft
        .prefix
        .as_deref()
        .map(|prefix| context::preview_number(prefix, draft.year()));
    Ok((draft, number))
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}
