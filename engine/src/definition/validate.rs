//! [`RawProcess`] → [`Process`]: required keys, ids, references, expressions, templates,
//! schedules. Every problem is reported and building goes on with a placeholder, so one
//! run finds them all; the loader throws the result away when anything was reported.
//! Steps live in `steps.rs`, the flow graph checks in `graph.rs`.

use std::collections::HashMap;

use indexmap::IndexMap;

use crate::documents::{RenderError, Templates};
use crate::rules::RuleLibrary;

use super::decode::ListIndices;
use super::diagnostic::{Code, Sink, did_you_mean};
use super::model::{
    Department, Document, Example, Field, FieldType, Material, Metadata, Parameter, Process, Role,
    Schedule, StepId,
};
use super::raw::{RawField, RawProcess};
use super::yaml::{SourceMap, child, item};
use super::{cron_text, graph, steps};

/// What validation needs while it walks one definition.
pub(super) struct Cx<'a> {
    pub(super) map: &'a SourceMap,
    pub(super) sink: &'a mut Sink,
    /// The definition text, to map positions inside expressions.
    pub(super) text: &'a str,
    pub(super) rules: RuleLibrary,
    pub(super) templates: &'a Templates,
    pub(super) params: Vec<String>,
    pub(super) departments: Vec<String>,
    pub(super) roles: Vec<String>,
    pub(super) documents: Vec<String>,
    pub(super) steps: Vec<String>,
    /// Where each step id is defined (`steps[3]`), for diagnostics about whole steps.
    pub(super) step_paths: HashMap<String, String>,
}

/// The field types a form field may have, as written in YAML.
const FIELD_TYPES: [&str; 12] = [
    "text",
    "choice",
    "multi_choice",
    "bool",
    "date",
    "year_month",
    "number",
    "money",
    "phone",
    "cn_id",
    "bank_card",
    "address",
];

impl Cx<'_> {
    /// `value`, or a missing-key diagnostic on the mapping at `path`.
    pub(super) fn required<T>(&mut self, value: Option<T>, path: &str, key: &str) -> Option<T> {
        // A value of the wrong type was reported and dropped while decoding; once is enough.
        if value.is_none() && !self.sink.reported(&child(path, key)) {
            self.sink.push(
                self.map.value_pos(path),
                Code::MissingKey,
                path,
                format!("缺少必填的键 `{key}`"),
                None,
            );
        }
        value
    }

    /// Checks that `name` (written at `path`) is one of `known`; `owner` and `kind` word the
    /// message: "{owner} 引用了不存在的{kind} `{name}`".
    pub(super) fn reference(
        &mut self,
        code: Code,
        owner: &str,
        kind: &str,
        name: &str,
        path: &str,
    ) -> bool {
        let (known, section) = match code {
            Code::UnknownStep => (&self.steps, "steps"),
            Code::UnknownRole => (&self.roles, "roles"),
            Code::UnknownDepartment => (&self.departments, "departments"),
            Code::UnknownDocument => (&self.documents, "documents"),
            _ => (&self.params, "parameters"),
        };
        if known.iter().any(|k| k == name) {
            return true;
        }
        let hint = did_you_mean(name, known.iter().map(String::as_str)).or_else(|| {
            Some(if known.is_empty() {
                format!("{kind}要先在 `{section}:` 里定义")
            } else {
                format!("可以引用的{kind}：{}", known.join("、"))
            })
        });
        self.sink.push(
            self.map.value_pos(path),
            code,
            path,
            format!("{owner} 引用了不存在的{kind} `{name}`"),
            hint,
        );
        false
    }

    /// Records `id` (written at `path`) in `seen`, reporting a second use.
    pub(super) fn unique(
        &mut self,
        seen: &mut HashMap<String, usize>,
        what: &str,
        id: &str,
        path: &str,
    ) {
        let pos = self.map.value_pos(path);
        if let Some(first) = seen.get(id) {
            self.sink.push(
                pos,
                Code::DuplicateId,
                path,
                format!("{what} `{id}` 重复定义（第 {first} 行已经有了）"),
                Some("每个标识只能用一次，请改名或删除其中一个".into()),
            );
        } else {
            seen.insert(id.to_owned(), pos.line);
        }
    }
}

/// Builds the process; `file` is the definition path for [`Process::file`]. The content
/// hash and sources are filled in by the loader.
pub(super) fn build(raw: RawProcess, at: &ListIndices, cx: &mut Cx<'_>, file: &str) -> Process {
    let id = cx.required(raw.id, "", "id").unwrap_or_default();
    if !id.is_empty()
        && !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
    {
        cx.sink.push(
            cx.map.value_pos("id"),
            Code::Version,
            "id",
            format!("流程标识 `{id}` 只能由小写字母、数字和 `.`、`_`、`-` 组成"),
            Some("例如 `yangcheng.retirement`".into()),
        );
    }
    let version = match cx.required(raw.version, "", "version") {
        Some(v) => u32::try_from(v).ok().filter(|v| *v > 0).unwrap_or_else(|| {
            cx.sink.push(
                cx.map.value_pos("version"),
                Code::Version,
                "version",
                format!("版本号应当是正整数，这里写的是 {v}"),
                Some("第一版写 `version: 1`，每次修改已启用的流程时加一".into()),
            );
            0
        }),
        None => 0,
    };
    let name = cx.required(raw.name, "", "name").unwrap_or_default();

    let parameters = parameters(cx, raw.parameters);
    let departments = departments(cx, raw.departments);
    let roles = roles(cx, raw.roles);
    let documents = documents(cx, raw.documents);
    let form = fields(cx, raw.form, "form", &at.form);
    let materials = materials(cx, raw.materials, &at.materials);

    let raw_steps = cx.required(raw.steps, "", "steps").unwrap_or_default();
    let step_map = steps::build(cx, raw_steps, &at.steps);
    let start = match raw.start {
        Some(start) => {
            cx.reference(
                Code::UnknownStep,
                "开始步骤 `start`",
                "步骤",
                &start,
                "start",
            );
            StepId(start)
        }
        None => step_map
            .keys()
            .next()
            .cloned()
            .unwrap_or_else(|| StepId(String::new())),
    };
    let step_map = graph::check(cx, step_map, &start);

    let schedules = schedules(cx, raw.schedules, &at.schedules);
    let tests = raw
        .tests
        .into_iter()
        .zip(&at.tests)
        .map(|(t, i)| Example {
            name: cx
                .required(t.name, &item("tests", *i), "name")
                .unwrap_or_default(),
            input: t.input,
            expect: t.expect,
        })
        .collect();
    let m = raw.metadata;
    Process {
        id,
        version,
        name,
        content_hash: String::new(),
        file: file.to_owned(),
        calendar: raw.calendar,
        metadata: Metadata {
            authority: m.authority,
            document_number: m.document_number,
            legal_basis: m.legal_basis,
            acceptance: m.acceptance,
            location: m.location,
            contacts: m.contacts,
        },
        departments,
        roles,
        form,
        materials,
        parameters,
        start,
        steps: step_map,
        documents,
        schedules,
        tests,
        sources: Vec::new(),
    }
}

fn parameters(
    cx: &mut Cx<'_>,
    raw: IndexMap<String, super::raw::RawParameter>,
) -> IndexMap<String, Parameter> {
    cx.params = raw.keys().cloned().collect();
    raw.into_iter()
        .map(|(key, p)| {
            let path = child("parameters", &key);
            let value = cx.required(p.value, &path, "value").unwrap_or_default();
            let source = cx.required(p.source, &path, "source").unwrap_or_default();
            (
                key.clone(),
                Parameter {
                    key,
                    value,
                    source,
                    local: p.local,
                },
            )
        })
        .collect()
}

fn departments(
    cx: &mut Cx<'_>,
    raw: Option<IndexMap<String, super::raw::RawDepartment>>,
) -> IndexMap<String, Department> {
    let raw = cx.required(raw, "", "departments").unwrap_or_default();
    if raw.is_empty() && cx.map.contains("departments") {
        cx.sink.push(
            cx.map.value_pos("departments"),
            Code::MissingKey,
            "departments",
            "至少要有一个部门".into(),
            None,
        );
    }
    cx.departments = raw.keys().cloned().collect();
    raw.into_iter()
        .map(|(key, d)| {
            let name = cx
                .required(d.name, &child("departments", &key), "name")
                .unwrap_or_default();
            (
                key.clone(),
                Department {
                    key,
                    name,
                    window: d.window,
                    phone: d.phone,
                },
            )
        })
        .collect()
}

fn roles(
    cx: &mut Cx<'_>,
    raw: Option<IndexMap<String, super::raw::RawRole>>,
) -> IndexMap<String, Role> {
    let raw = cx.required(raw, "", "roles").unwrap_or_default();
    cx.roles = raw.keys().cloned().collect();
    raw.into_iter()
        .map(|(key, r)| {
            let path = child("roles", &key);
            let name = cx.required(r.name, &path, "name").unwrap_or_default();
            let department = cx
                .required(r.department, &path, "department")
                .unwrap_or_default();
            if !department.is_empty() {
                let owner = format!("角色 `{key}`");
                cx.reference(
                    Code::UnknownDepartment,
                    &owner,
                    "部门",
                    &department,
                    &child(&path, "department"),
                );
            }
            (
                key.clone(),
                Role {
                    key,
                    name,
                    department,
                },
            )
        })
        .collect()
}

fn documents(
    cx: &mut Cx<'_>,
    raw: IndexMap<String, super::raw::RawDocument>,
) -> IndexMap<String, Document> {
    cx.documents = raw.keys().cloned().collect();
    raw.into_iter()
        .map(|(key, d)| {
            let path = child("documents", &key);
            let name = cx.required(d.name, &path, "name").unwrap_or_default();
            let template = cx
                .required(d.template, &path, "template")
                .unwrap_or_default();
            if !template.is_empty() {
                check_template(cx, &key, &template, &child(&path, "template"));
            }
            (
                key.clone(),
                Document {
                    key,
                    name,
                    template,
                    numbered: d.numbered,
                },
            )
        })
        .collect()
}

fn check_template(cx: &mut Cx<'_>, key: &str, template: &str, path: &str) {
    match cx.templates.check(template) {
        Ok(()) => {}
        Err(RenderError::Syntax { file, line, column, message }) => cx.sink.push_in(
            file,
            line,
            column,
            Code::Template,
            path,
            format!("文书 `{key}` 的模板 `{template}` 有语法错误：{message}"),
            None,
        ),
        Err(_) => cx.sink.push(
            cx.map.value_pos(path),
            Code::UnknownTemplate,
            path,
            format!("文书 `{key}` 引用了不存在的模板 `{template}`"),
            Some("模板放在 templates/ 目录下，这里写相对于该目录的路径，例如 `yangcheng/notice.html.j2`".into()),
        ),
    }
}

/// Form fields of the application form (`form`) or of a task (`steps[i].form`).
pub(super) fn fields(
    cx: &mut Cx<'_>,
    raw: Vec<RawField>,
    list: &str,
    indices: &[usize],
) -> Vec<Field> {
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for (i, f) in raw.into_iter().enumerate() {
        let path = item(list, indices.get(i).copied().unwrap_or(i));
        let key = cx.required(f.key, &path, "key").unwrap_or_default();
        cx.unique(&mut seen, "表单字段", &key, &child(&path, "key"));
        let label = cx.required(f.label, &path, "label").unwrap_or_default();
        let field_type = cx
            .required(f.field_type, &path, "type")
            .and_then(|t| field_type(cx, &t, &path));
        let options = f.options.unwrap_or_default();
        let is_choice = matches!(field_type, Some(FieldType::Choice | FieldType::MultiChoice));
        if is_choice && options.is_empty() {
            cx.sink.push(
                cx.map.key_pos(&child(&path, "type")),
                Code::Field,
                &path,
                format!("选择题字段 `{key}` 需要写 `options`（可选的答案）"),
                Some("例如 `options: [管理, 生产, 灵活就业, 其他]`".into()),
            );
        } else if field_type.is_some() && !is_choice && cx.map.contains(&child(&path, "options")) {
            cx.sink.push(
                cx.map.key_pos(&child(&path, "options")),
                Code::Field,
                &path,
                format!("字段 `{key}` 不是选择题，不需要 `options`"),
                Some("只有 `type: choice` 或 `type: multi_choice` 的字段写 `options`".into()),
            );
        }
        let when = f.when.and_then(|w| cx.expr(&w, &child(&path, "when")));
        let field_type = field_type.unwrap_or(FieldType::Text);
        out.push(Field {
            key,
            label,
            field_type,
            required: f.required,
            when,
            options,
            help: f.help,
        });
    }
    out
}

fn field_type(cx: &mut Cx<'_>, text: &str, path: &str) -> Option<FieldType> {
    let parsed =
        serde_json::from_value::<FieldType>(serde_json::Value::String(text.to_owned())).ok();
    if parsed.is_none() {
        let at = child(path, "type");
        cx.sink.push(
            cx.map.value_pos(&at),
            Code::Field,
            &at,
            format!("未知的字段类型 `{text}`"),
            did_you_mean(text, FIELD_TYPES)
                .or_else(|| Some(format!("可用的类型：{}", FIELD_TYPES.join("、")))),
        );
    }
    parsed
}

fn materials(
    cx: &mut Cx<'_>,
    raw: Vec<super::raw::RawMaterial>,
    indices: &[usize],
) -> Vec<Material> {
    let mut seen = HashMap::new();
    raw.into_iter()
        .zip(indices)
        .map(|(m, i)| {
            let path = item("materials", *i);
            let key = cx.required(m.key, &path, "key").unwrap_or_default();
            cx.unique(&mut seen, "材料", &key, &child(&path, "key"));
            let name = cx.required(m.name, &path, "name").unwrap_or_default();
            let when = m.when.and_then(|w| cx.expr(&w, &child(&path, "when")));
            Material {
                key,
                name,
                copies: m.copies,
                when,
                note: m.note,
            }
        })
        .collect()
}

fn schedules(
    cx: &mut Cx<'_>,
    raw: Vec<super::raw::RawSchedule>,
    indices: &[usize],
) -> Vec<Schedule> {
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for (s, i) in raw.into_iter().zip(indices) {
        let path = item("schedules", *i);
        let id = cx.required(s.id, &path, "id").unwrap_or_default();
        cx.unique(&mut seen, "定时任务", &id, &child(&path, "id"));
        let action = cx.required(s.action, &path, "action").unwrap_or_default();
        let Some(cron_text) = cx.required(s.cron, &path, "cron") else {
            continue;
        };
        match cron_text::parse(&cron_text) {
            Ok(cron) => out.push(Schedule {
                id,
                cron_text,
                cron,
                action,
                workdays_only: s.workdays_only,
                catch_up: s.catch_up,
            }),
            Err(why) => {
                let at = child(&path, "cron");
                cx.sink.push(
                    cx.map.value_pos(&at),
                    Code::Cron,
                    &at,
                    format!("定时表达式 `{cron_text}` 无法识别：{why}"),
                    Some(
                        "写 5 个字段：分 时 日 月 星期，例如 `0 17 * * 1-5` 表示工作日 17:00"
                            .into(),
                    ),
                );
            }
        }
    }
    out
}
