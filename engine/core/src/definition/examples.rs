//! Example cases (`tests:` and the sibling `<name>.tests.yaml`): typed, and every name they
//! use checked against the built process — steps and outcomes in `run`, events, materials,
//! documents, form fields — so a typo in an example fails at load time, not as a puzzling
//! test failure.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::diagnostic::{Code, Sink, did_you_mean};
use super::example_model::{Example, ExpectRun, RunAction};
use super::model::{Process, StepId, StepKind};
use super::raw::{RawAction, RawExample, RawExpectRun};
use super::source_map::{SourceMap, child, item};

/// Where the examples are written: their file's positions and diagnostics, and the path of
/// the list inside it (`tests` in a definition, the root in a `*.tests.yaml`).
pub(super) struct Place<'a> {
    pub(super) map: &'a SourceMap,
    pub(super) sink: &'a mut Sink,
    pub(super) list: &'a str,
}

/// Builds the examples; `indices` are their positions in the written list.
pub(super) fn examples(
    raw: Vec<RawExample>,
    indices: &[usize],
    place: &mut Place<'_>,
    process: &Process,
) -> Vec<Example> {
    let mut out = Vec::new();
    for (e, i) in raw.into_iter().zip(indices) {
        let path = item(place.list, *i);
        let mut check = Check {
            place: &mut *place,
            process,
        };
        out.push(check.example(e, &path));
    }
    out
}

struct Check<'a, 'b> {
    place: &'a mut Place<'b>,
    process: &'a Process,
}

impl Check<'_, '_> {
    fn example(&mut self, e: RawExample, path: &str) -> Example {
        let name = e.name.unwrap_or_else(|| {
            self.push(Code::MissingKey, path, "缺少必填的键 `name`".into(), None);
            String::new()
        });
        let at = e.at.and_then(|text| {
            let date = NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok();
            if date.is_none() {
                let message = format!("`at` 应当是日期 YYYY-MM-DD，这里写的是 `{text}`");
                self.push(Code::Example, &child(path, "at"), message, None);
            }
            date
        });
        let form: Vec<&str> = self.process.form.iter().map(|f| f.key.as_str()).collect();
        for key in e.input.keys() {
            let at = child(&child(path, "input"), key);
            self.known(Code::Field, "申请表字段", key, &form, &at);
        }
        self.expectations(&e.expect, &child(path, "expect"));
        self.materials(&e.materials, &child(path, "materials"));
        let run = e
            .run
            .into_iter()
            .enumerate()
            .filter_map(|(i, a)| self.action(a, &item(&child(path, "run"), i)))
            .collect();
        let expect_run = e
            .expect_run
            .map(|x| self.expect_run(x, &child(path, "expect_run")));
        Example {
            name,
            file: {
                let at = self.place.map.value_pos(path);
                self.place.sink.file_of(at).to_owned()
            },
            line: self.place.map.value_pos(path).line,
            at,
            input: e.input,
            expect: e.expect,
            materials: e.materials,
            run,
            expect_run,
        }
    }

    /// The special keys of `expect:`; dotted paths into the output are not checked here.
    fn expectations(&mut self, expect: &Map<String, Value>, path: &str) {
        for key in ["materials_include", "materials_exclude", "error_fields"] {
            let Some(value) = expect.get(key) else {
                continue;
            };
            let at = child(path, key);
            let Some(names) = string_list(value) else {
                let message = format!("`{key}` 应当是列表，例如 [roster]");
                self.push(Code::Example, &at, message, None);
                continue;
            };
            if key == "error_fields" {
                let form: Vec<&str> = self.process.form.iter().map(|f| f.key.as_str()).collect();
                for (i, name) in names.iter().enumerate() {
                    self.known(Code::Field, "申请表字段", name, &form, &item(&at, i));
                }
            } else {
                self.materials(&names, &at);
            }
        }
    }

    fn materials(&mut self, names: &[String], path: &str) {
        let known: Vec<&str> = self
            .process
            .materials
            .iter()
            .map(|m| m.key.as_str())
            .collect();
        for (i, name) in names.iter().enumerate() {
            self.known(Code::Example, "材料", name, &known, &item(path, i));
        }
    }

    fn action(&mut self, a: RawAction, path: &str) -> Option<RunAction> {
        let verbs = [
            a.complete.is_some(),
            a.deliver.is_some(),
            a.cancel.is_some(),
        ];
        if verbs.iter().filter(|v| **v).count() != 1 {
            let message = "每个操作只能写 `complete`、`deliver`、`cancel` 中的一个".to_owned();
            let hint = "例如 `{complete: accept, outcome: accept}`、`{deliver: supplied}`、`{cancel: 申请人撤回}`";
            self.push(Code::Example, path, message, Some(hint.into()));
            return None;
        }
        let data = a.data.unwrap_or_default();
        let action = if let Some(step) = a.complete {
            self.misplaced(&[("materials", a.materials.is_some())], "complete", path);
            let outcome = a.outcome.unwrap_or_else(|| {
                self.push(
                    Code::MissingKey,
                    path,
                    "缺少必填的键 `outcome`".into(),
                    None,
                );
                String::new()
            });
            self.task_outcome(&step, &outcome, path);
            RunAction::Complete {
                step: StepId(step),
                outcome,
                data,
                reason: a.reason,
            }
        } else if let Some(event) = a.deliver {
            let keys = [
                ("outcome", a.outcome.is_some()),
                ("reason", a.reason.is_some()),
            ];
            self.misplaced(&keys, "deliver", path);
            let events: Vec<&str> = self
                .process
                .steps
                .values()
                .filter_map(|s| match &s.kind {
                    StepKind::Wait(w) => Some(w.on.keys().map(String::as_str)),
                    _ => None,
                })
                .flatten()
                .collect();
            self.known(
                Code::Example,
                "事件",
                &event,
                &events,
                &child(path, "deliver"),
            );
            let materials = a.materials.unwrap_or_default();
            self.materials(&materials, &child(path, "materials"));
            RunAction::Deliver {
                event,
                materials,
                data,
            }
        } else {
            let keys = [
                ("outcome", a.outcome.is_some()),
                ("reason", a.reason.is_some()),
                ("materials", a.materials.is_some()),
                ("data", !data.is_empty()),
            ];
            self.misplaced(&keys, "cancel", path);
            RunAction::Cancel {
                reason: a.cancel.unwrap_or_default(),
            }
        };
        Some(action)
    }

    /// Reports each key that is present but does not belong to a `verb` action.
    fn misplaced(&mut self, keys: &[(&str, bool)], verb: &str, path: &str) {
        for (key, present) in keys {
            if *present {
                let message = format!("`{key}` 不适用于 `{verb}` 操作");
                self.push(Code::Example, &child(path, key), message, None);
            }
        }
    }

    /// `complete: step` must name a task step, and `outcome` one of its outcomes.
    fn task_outcome(&mut self, step: &str, outcome: &str, path: &str) {
        let tasks = task_steps(self.process);
        if !self.known(
            Code::UnknownStep,
            "任务步骤",
            step,
            &tasks,
            &child(path, "complete"),
        ) {
            return;
        }
        let outcomes: Vec<&str> = match self.process.step(&StepId(step.to_owned())).map(|s| &s.kind)
        {
            Some(StepKind::Task(t)) => t.outcomes.keys().map(String::as_str).collect(),
            _ => return,
        };
        if !outcome.is_empty() {
            self.known(
                Code::Example,
                "办理结果",
                outcome,
                &outcomes,
                &child(path, "outcome"),
            );
        }
    }
}

/// Ids of the task steps, the only ones that can have open tasks.
fn task_steps(process: &Process) -> Vec<&str> {
    {
        process
            .steps
            .values()
            .filter(|s| matches!(s.kind, StepKind::Task(_)))
            .map(|s| s.id.as_str())
            .collect()
    }
}

impl Check<'_, '_> {
    fn expect_run(&mut self, x: RawExpectRun, path: &str) -> ExpectRun {
        if let Some(result) = &x.result {
            let mut results: Vec<&str> = vec!["active", "cancelled"];
            results.extend(self.process.steps.values().filter_map(|s| match &s.kind {
                StepKind::End(end) => Some(end.result.as_str()),
                _ => None,
            }));
            self.known(
                Code::Example,
                "结果",
                result,
                &results,
                &child(path, "result"),
            );
        }
        if let Some(steps) = &x.open_tasks {
            let tasks = task_steps(self.process);
            for (i, step) in steps.iter().enumerate() {
                let at = item(&child(path, "open_tasks"), i);
                self.known(Code::UnknownStep, "任务步骤", step, &tasks, &at);
            }
        }
        if let Some(documents) = &x.documents {
            let known: Vec<&str> = self.process.documents.keys().map(String::as_str).collect();
            for (i, document) in documents.iter().enumerate() {
                let at = item(&child(path, "documents"), i);
                self.known(Code::UnknownDocument, "文书", document, &known, &at);
            }
        }
        ExpectRun {
            result: x.result,
            open_tasks: x
                .open_tasks
                .map(|steps| steps.into_iter().map(StepId).collect()),
            documents: x.documents,
            data: x.data,
        }
    }

    /// Whether `name` is among `known`; if not, reports "示例引用了不存在的{kind}".
    fn known(&mut self, code: Code, kind: &str, name: &str, known: &[&str], path: &str) -> bool {
        if known.contains(&name) {
            return true;
        }
        let hint = did_you_mean(name, known.iter().copied()).or_else(|| {
            Some(if known.is_empty() {
                format!("本流程没有可以引用的{kind}")
            } else {
                format!("可以引用的{kind}：{}", known.join("、"))
            })
        });
        self.push(
            code,
            path,
            format!("示例引用了不存在的{kind} `{name}`"),
            hint,
        );
        false
    }

    fn push(&mut self, code: Code, path: &str, message: String, hint: Option<String>) {
        let pos = self.place.map.value_pos(path);
        self.place.sink.push(pos, code, path, message, hint);
    }
}

/// A YAML list of strings, as JSON.
fn string_list(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}
