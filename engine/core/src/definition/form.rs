//! Form fields (the application form and each task's decision form) and materials.

use std::collections::HashMap;

use super::diagnostic::{Code, did_you_mean};
use super::model::{Field, FieldType, Material};
use super::raw::{RawField, RawMaterial};
use super::source_map::{child, item};
use super::validate::Cx;

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

/// Form fields of the application form (`form`) or of a task (`steps[i].form`).
pub(super) fn fields(
    cx: &mut Cx<'_>,
    raw: Vec<RawField>,
    list: &str,
    indices: &[usize],
) -> Vec<Field> {
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for (i, mut f) in raw.into_iter().enumerate() {
        let path = item(list, indices.get(i).copied().unwrap_or(i));
        let written = super::limits::Written {
            max_length: f.max_length,
            min: f.min.take(),
            max: f.max.take(),
            multiline: f.multiline,
        };
        let key = cx.required(f.key, &path, "key").unwrap_or_default();
        cx.unique(&mut seen, "表单字段", &key, &child(&path, "key"));
        let label = cx.required(f.label, &path, "label").unwrap_or_default();
        let field_type = cx
            .required(f.field_type, &path, "type")
            .and_then(|t| field_type(cx, &t, &path));
        let limits = super::limits::limits(cx, written, field_type, &path);
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
        let check = f.check.and_then(|c| cx.expr(&c, &child(&path, "check")));
        let field_type = field_type.unwrap_or(FieldType::Text);
        out.push(Field {
            key,
            label,
            field_type,
            required: f.required,
            when,
            options,
            check,
            help: f.help,
            outcomes: f.outcomes.unwrap_or_default(),
            limits,
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

pub(super) fn materials(
    cx: &mut Cx<'_>,
    raw: Vec<RawMaterial>,
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
                unit: m.unit,
                when,
                note: m.note,
                why: m.why,
            }
        })
        .collect()
}
