//! `joint_items:`: the items (联办事项) a "one thing" bundles beside its main line, each done
//! by one department and asked for by one yes/no field of the start form. Papers list them
//! from here (the notice's flow, the 办结通知书's results, the push table's columns), so a
//! county that adds an item adds it once, in its definition, and ships no template for it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::diagnostic::Code;
use super::model::{Field, FieldType};
use super::source_map::{child, item};
use super::validate::Cx;

/// One joint item as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJointItem {
    key: Option<String>,
    name: Option<String>,
    department: Option<String>,
    field: Option<String>,
    step: Option<String>,
    short: Option<String>,
    flow: Option<String>,
    done_text: Option<String>,
    #[serde(default)]
    results: Vec<JointResult>,
}

/// A line the 办结通知书 prints for a done item when the case data holds `data`: `text`
/// with `{}` replaced by the value (as money, two decimals, with `money: true`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JointResult {
    /// The case data key, e.g. `fund_amount`.
    pub data: String,
    /// The text, e.g. `提取金额{}元`.
    pub text: String,
    /// Print the value as money (two decimals).
    #[serde(default)]
    pub money: bool,
}

/// A joint item (联办事项), as papers see it in `process.joint_items`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JointItem {
    /// Key; by convention also the step that does it and the prefix of the case data the
    /// step sets: `<key>_done`, `<key>_refused`.
    pub key: String,
    /// Its name, e.g. 企业职工医疗缴费年限认定.
    pub name: String,
    /// The department doing it.
    pub department: String,
    /// The start form's yes/no field asking for it; `None`: every case has it.
    pub field: Option<String>,
    /// The step doing it (`key` when not written).
    pub step: String,
    /// A short heading for table columns (`name` when not written).
    pub short: String,
    /// How the notice's flow line names it (`部门名称（name）` when not written).
    pub flow: Option<String>,
    /// What the 办结通知书 says when it is done (`已办理` when not written).
    pub done_text: String,
    /// The lines printed for a done item.
    pub results: Vec<JointResult>,
}

/// Checks and builds `joint_items:`; runs after the form and the steps are built, which
/// its entries name.
pub(super) fn joint_items(
    cx: &mut Cx<'_>,
    raw: Vec<RawJointItem>,
    indices: &[usize],
    form: &[Field],
) -> Vec<JointItem> {
    let mut seen = HashMap::new();
    raw.into_iter()
        .zip(indices)
        .filter_map(|(j, i)| {
            let path = item("joint_items", *i);
            let key = cx.required(j.key, &path, "key")?;
            cx.unique(&mut seen, "联办事项", &key, &child(&path, "key"));
            let name = cx.required(j.name, &path, "name").unwrap_or_default();
            let department = cx.required(j.department, &path, "department")?;
            cx.reference(
                Code::UnknownDepartment,
                &format!("联办事项 `{key}`"),
                "部门",
                &department,
                &child(&path, "department"),
            );
            if let Some(field) = &j.field {
                let at = child(&path, "field");
                match form.iter().find(|f| &f.key == field) {
                    Some(f) if f.field_type == FieldType::Bool => {}
                    found => {
                        let message = if found.is_some() {
                            format!("联办事项 `{key}` 的 `field` 应当是申请表里“是/否”类型（bool）的字段，`{field}` 不是")
                        } else {
                            format!("联办事项 `{key}` 的 `field` 引用了申请表里没有的字段 `{field}`")
                        };
                        cx.sink.push(
                            cx.map.value_pos(&at),
                            Code::Field,
                            &at,
                            message,
                            Some("写申请表里问“是否申请这项联办”的字段，如 `field: joint_medical`".into()),
                        );
                    }
                }
            }
            let (step, at, owner) = match j.step {
                Some(step) => (step, child(&path, "step"), format!("联办事项 `{key}`")),
                None => (
                    key.clone(),
                    child(&path, "key"),
                    format!("联办事项 `{key}`（没写 `step`，按 `key` 找办理它的步骤）"),
                ),
            };
            cx.reference(Code::UnknownStep, &owner, "步骤", &step, &at);
            Some(JointItem {
                short: j.short.unwrap_or_else(|| name.clone()),
                key,
                name,
                department,
                field: j.field,
                step,
                flow: j.flow,
                done_text: j.done_text.unwrap_or_else(|| "已办理".to_owned()),
                results: j.results,
            })
        })
        .collect()
}
