//! [`RawProcess`] → [`Process`]: required keys, ids, references, expressions, templates,
//! schedules. Every problem is reported and building goes on with a placeholder, so one
//! run finds them all; the loader throws the result away when anything was reported.
//! Steps live in `steps.rs`, the flow graph checks in `graph.rs`.

use std::collections::HashMap;

use indexmap::IndexMap;

use super::{TemplateCheck, TemplateProblem};
use crate::rules::RuleLibrary;

use super::decode::ListIndices;
use super::diagnostic::{Code, Sink, did_you_mean};
use super::form::{fields, materials};
use super::model::{
    Department, Document, Duration, Metadata, Parameter, Process, Role, Step, StepId, StepKind,
    TimeLimits,
};
use super::raw::RawProcess;
use super::schedules::schedules;
use super::source_map::{SourceMap, Span, child, item};
use super::{graph, steps};

/// What validation needs while it walks one definition.
pub(super) struct Cx<'a> {
    pub(super) map: &'a SourceMap,
    pub(super) sink: &'a mut Sink,
    /// The texts of the definition and the bases it extends (by [`Pos::file`]), to map
    /// positions inside expressions.
    pub(super) texts: &'a [&'a str],
    pub(super) rules: RuleLibrary,
    pub(super) templates: &'a dyn TemplateCheck,
    pub(super) params: Vec<String>,
    /// Whole-number parameter values, for durations written as `params.<key> workdays`.
    pub(super) param_numbers: HashMap<String, u32>,
    /// Names of the tables, which expressions read as `tables.<name>`.
    pub(super) tables: Vec<String>,
    /// Keys of the application form, which expressions read as `form.<key>`.
    pub(super) form_keys: Vec<String>,
    pub(super) departments: Vec<String>,
    pub(super) roles: Vec<String>,
    pub(super) documents: Vec<String>,
    pub(super) steps: Vec<String>,
    /// The ids of the steps of type `task`, which `not_same_as` may name.
    pub(super) task_steps: Vec<String>,
    /// Where each step id is defined (`steps[3]`), for diagnostics about whole steps.
    pub(super) step_paths: HashMap<String, String>,
    /// `time_limits.warn`: the warning period of task steps without their own `warn`.
    pub(super) default_warn: Option<Duration>,
}

impl Cx<'_> {
    /// The text of the file `span` is in.
    pub(super) fn text_of(&self, span: Span) -> &str {
        self.texts.get(span.value.file).copied().unwrap_or_default()
    }

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

    /// A duration written at `at`: `N workdays|days|hours`, or `params.<key> <unit>` with a
    /// whole-number parameter, so a time limit lives once, as a parameter with its source.
    pub(super) fn duration(&mut self, text: &str, at: &str) -> Option<Duration> {
        let resolved = match text.trim().strip_prefix("params.") {
            Some(rest) => {
                let (key, unit) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                if !self.params.iter().any(|p| p == key) {
                    let hint = did_you_mean(key, self.params.iter().map(String::as_str));
                    self.sink.push(
                        self.map.value_pos(at),
                        Code::UnknownParameter,
                        at,
                        format!("时限引用了不存在的参数 `{key}`"),
                        hint,
                    );
                    return None;
                }
                match self.param_numbers.get(key) {
                    Some(n) => format!("{n} {}", unit.trim()),
                    None => {
                        self.sink.push(
                            self.map.value_pos(at),
                            Code::Duration,
                            at,
                            format!("参数 `{key}` 的值不是正整数，不能用作时限"),
                            Some("时限参数写成 `{value: 5, source: …}`".into()),
                        );
                        return None;
                    }
                }
            }
            None => text.to_owned(),
        };
        match Duration::parse(&resolved) {
            Ok(d) => Some(d),
            Err(_) => {
                self.sink.push(
                    self.map.value_pos(at),
                    Code::Duration,
                    at,
                    format!("无法识别的时限 `{text}`"),
                    Some("写成 `N workdays`（工作日）、`N days`（自然日）或 `N hours`（小时），N 为正整数；也可写 `params.参数名 workdays`".into()),
                );
                None
            }
        }
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
    let case_prefix = raw.case_prefix.filter(|prefix| {
        let fine = !prefix.trim().is_empty()
            && !prefix
                .chars()
                .any(|c| c.is_whitespace() || c.is_ascii_digit() || "〔〕[]()（）【】".contains(c));
        if !fine {
            cx.sink.push(
                cx.map.value_pos("case_prefix"),
                Code::Type,
                "case_prefix",
                format!("办件编号前缀 `{prefix}` 不能为空，也不能含空格、数字或括号"),
                Some("写县名简称加事项，如 `case_prefix: 阳城退休`（办件编号为 阳城退休〔2026〕0012）".into()),
            );
        }
        fine
    });

    let parameters = parameters(cx, raw.parameters);
    let departments = departments(cx, raw.departments);
    let roles = roles(cx, raw.roles);
    let documents = documents(cx, raw.documents);
    // Collected first: a field's `when` may read a field written after it.
    cx.form_keys = raw.form.iter().filter_map(|f| f.key.clone()).collect();
    let form = fields(cx, raw.form, "form", &at.form);
    for (i, field) in form.iter().enumerate() {
        if !field.outcomes.is_empty() {
            let path = child(
                &item("form", at.form.get(i).copied().unwrap_or(i)),
                "outcomes",
            );
            cx.sink.push(
                cx.map.key_pos(&path),
                Code::Field,
                &path,
                format!("申请表字段 `{}` 不能写 `outcomes`", field.key),
                Some("`outcomes` 只用于任务步骤的表单，说明字段属于哪些办理结果".into()),
            );
        }
    }
    let materials = materials(cx, raw.materials, &at.materials);

    let time_limits = time_limits(cx, raw.time_limits.unwrap_or_default());
    cx.default_warn = time_limits.warn;
    let raw_steps = cx.required(raw.steps, "", "steps").unwrap_or_default();
    if cx.map.contains("steps") && !cx.map.contains("steps[0]") && !cx.sink.reported("steps") {
        let pos = cx.map.value_pos("steps");
        let message = "至少要有一个步骤".to_owned();
        cx.sink.push(pos, Code::MissingKey, "steps", message, None);
    }
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
    if !raw.is_abstract.unwrap_or(false) {
        issuers(cx, &departments, &roles, &documents, &step_map);
    }

    let joint_items = super::joint::joint_items(cx, raw.joint_items, &at.joint_items, &form);
    let schedules = schedules(cx, raw.schedules, &at.schedules);
    let evaluate = raw.evaluate.and_then(|e| cx.expr(&e, "evaluate"));
    let m = raw.metadata;
    Process {
        id,
        version,
        name,
        content_hash: String::new(),
        is_abstract: raw.is_abstract.unwrap_or(false),
        // The loader puts the whole chain here once it has resolved it.
        extends: raw.extends.into_iter().collect(),
        origins: Default::default(),
        resolved: Default::default(),
        file: file.to_owned(),
        calendar: raw.calendar,
        case_prefix,
        calendar_data: None,
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
        joint_items,
        parameters,
        start,
        steps: step_map,
        documents,
        schedules,
        time_limits,
        labels: raw.labels,
        // Tables are read by the loader (they may live in files) and examples are checked
        // against the built process; both are filled in there.
        tables: IndexMap::new(),
        evaluate,
        tests: Vec::new(),
        sources: Vec::new(),
    }
}

fn parameters(
    cx: &mut Cx<'_>,
    raw: IndexMap<String, super::raw::RawParameter>,
) -> IndexMap<String, Parameter> {
    cx.params = raw.keys().cloned().collect();
    cx.param_numbers = raw
        .iter()
        .filter_map(|(key, p)| {
            let n = p.value.as_ref()?.as_u64()?;
            Some((key.clone(), u32::try_from(n).ok()?))
        })
        .collect();
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

fn time_limits(cx: &mut Cx<'_>, raw: super::raw::RawTimeLimits) -> TimeLimits {
    let mut one = |text: Option<String>, key: &str| {
        let text = text?;
        cx.duration(&text, &child("time_limits", key))
    };
    TimeLimits {
        legal: one(raw.legal, "legal"),
        promised: one(raw.promised, "promised"),
        warn: one(raw.warn, "warn"),
    }
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
            let system_path = child(&child("departments", &key), "system");
            let system = d
                .system
                .and_then(|s| super::schedules::system(cx, s, &system_path));
            (
                key.clone(),
                Department {
                    key,
                    name,
                    issuer: d.issuer,
                    window: d.window,
                    phone: d.phone,
                    system,
                },
            )
        })
        .collect()
}

/// Every department that signs a paper (its role does a task whose outcome issues a
/// document) must say the name it signs with: a 股 or a window does not seal papers. A base
/// (`abstract: true`) leaves that to the counties.
fn issuers(
    cx: &mut Cx<'_>,
    departments: &IndexMap<String, Department>,
    roles: &IndexMap<String, Role>,
    documents: &IndexMap<String, Document>,
    steps: &IndexMap<StepId, Step>,
) {
    let mut reported: Vec<&str> = Vec::new();
    for step in steps.values() {
        let StepKind::Task(spec) = &step.kind else {
            continue;
        };
        let Some(outcome) = spec.outcomes.values().find(|o| !o.documents.is_empty()) else {
            continue;
        };
        let Some(department) = roles
            .get(&spec.role)
            .and_then(|role| departments.get(&role.department))
        else {
            continue;
        };
        let named = department
            .issuer
            .as_deref()
            .is_some_and(|issuer| !issuer.trim().is_empty());
        if named || reported.contains(&department.key.as_str()) {
            continue;
        }
        reported.push(&department.key);
        let path = child("departments", &department.key);
        cx.sink.push(
            cx.map.key_pos(&path),
            Code::MissingKey,
            &path,
            format!(
                "部门 `{}`（{}）在步骤 `{}` 的办理结果 `{}` 出具文书 {}，但没有写出具文书时落款、盖章的名称 `issuer`",
                department.key,
                department.name,
                step.id,
                outcome.key,
                outcome
                    .documents
                    .iter()
                    .map(|key| match documents.get(key) {
                        Some(document) => format!("《{}》（{key}）", document.name),
                        None => format!("`{key}`"),
                    })
                    .collect::<Vec<_>>()
                    .join("、")
            ),
            Some(format!(
                "在本县定义的部门里写上，如 `{}: {{issuer: 阳城县社会保险服务中心}}`；股室、窗口不能作为落款单位",
                department.key
            )),
        );
    }
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
    match cx.templates.check_template(template) {
        Ok(()) => {}
        Err(TemplateProblem::Syntax { file, line, column, message }) => cx.sink.push_in(
            file,
            line,
            column,
            Code::Template,
            path,
            format!("文书 `{key}` 的模板 `{template}` 有语法错误：{message}"),
            None,
        ),
        Err(TemplateProblem::Missing) => cx.sink.push(
            cx.map.value_pos(path),
            Code::UnknownTemplate,
            path,
            format!("文书 `{key}` 引用了不存在的模板 `{template}`"),
            Some("模板放在 templates/ 目录下，这里写相对于该目录的路径，例如 `shanxi/notice.html.j2`".into()),
        ),
    }
}
