//! `serde_yaml::Value` → [`RawProcess`], piece by piece so that one bad key does not hide the
//! others: list sections decode element by element, and within a piece a rejected key is
//! reported, removed and the piece decoded again.

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use serde_yaml::Value;

use super::diagnostic::{Code, Sink, did_you_mean};
use super::raw::RawProcess;
use super::source_map::{SourceMap, child, item};

/// Sections that are lists: each element decodes on its own.
const LIST_SECTIONS: [&str; 6] = [
    "form",
    "materials",
    "joint_items",
    "steps",
    "schedules",
    "tests",
];

/// Where each decoded list element was in the file: elements that did not decode are left
/// out of the lists, so positions must come from the original indices.
#[derive(Debug, Default)]
pub(super) struct ListIndices {
    pub(super) form: Vec<usize>,
    pub(super) materials: Vec<usize>,
    pub(super) joint_items: Vec<usize>,
    pub(super) steps: Vec<usize>,
    pub(super) schedules: Vec<usize>,
    pub(super) tests: Vec<usize>,
}

/// Decodes the whole document; problems go to `sink`, what could be read is returned.
/// `None` when the document is not a mapping at all: nothing else is worth reporting then.
pub(super) fn decode_process(
    root: &Value,
    map: &SourceMap,
    sink: &mut Sink,
) -> Option<(RawProcess, ListIndices)> {
    let Value::Mapping(entries) = root else {
        sink.push(
            map.value_pos(""),
            Code::Type,
            "",
            format!("流程定义应当是“键: 值”的映射，这里写的是{}", describe(root)),
            Some("文件应以 `id:`、`version:`、`name:` 等键开头".into()),
        );
        return None;
    };
    let mut decoder = Decoder { map, sink };
    let scalars: serde_yaml::Mapping = entries
        .iter()
        .filter(|(k, _)| !k.as_str().is_some_and(|k| LIST_SECTIONS.contains(&k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut raw: RawProcess = decoder
        .decode(&Value::Mapping(scalars), "")
        .unwrap_or_default();
    let mut at = ListIndices::default();
    (raw.form, at.form) = decoder.decode_list(root.get("form"), "form");
    (raw.materials, at.materials) = decoder.decode_list(root.get("materials"), "materials");
    (raw.joint_items, at.joint_items) = decoder.decode_list(root.get("joint_items"), "joint_items");
    if let Some(steps) = root.get("steps") {
        let (steps, indices) = decoder.decode_list(Some(steps), "steps");
        (raw.steps, at.steps) = (Some(steps), indices);
    }
    (raw.schedules, at.schedules) = decoder.decode_list(root.get("schedules"), "schedules");
    (raw.tests, at.tests) = decoder.decode_list(root.get("tests"), "tests");
    Some((raw, at))
}

/// Decodes pieces of one document, reporting into its sink.
pub(super) struct Decoder<'a> {
    pub(super) map: &'a SourceMap,
    pub(super) sink: &'a mut Sink,
}

/// How many rejected keys one piece may have before we stop retrying it.
const MAX_RETRIES: usize = 64;

impl Decoder<'_> {
    /// Decodes a list element by element; elements that do not decode are left out, and the
    /// original index of each one kept is returned beside it.
    pub(super) fn decode_list<T: DeserializeOwned>(
        &mut self,
        value: Option<&Value>,
        path: &str,
    ) -> (Vec<T>, Vec<usize>) {
        match value {
            None | Some(Value::Null) => (Vec::new(), Vec::new()),
            Some(Value::Sequence(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| self.decode(v, &item(path, i)).map(|t| (t, i)))
                .unzip(),
            Some(other) => {
                self.sink.push(
                    self.map.value_pos(path),
                    Code::Type,
                    path,
                    format!("`{path}` 应当是列表，这里写的是{}", describe(other)),
                    Some("列表的每一项以 `- ` 开头".into()),
                );
                (Vec::new(), Vec::new())
            }
        }
    }

    /// Decodes one piece found at `path`. Each rejected key is reported, removed, and the
    /// piece decoded again, so all of its bad keys are reported at once.
    pub(super) fn decode<T: DeserializeOwned>(&mut self, value: &Value, path: &str) -> Option<T> {
        let mut value = value.clone();
        let mut reported: Vec<String> = Vec::new();
        for _ in 0..MAX_RETRIES {
            let error = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
                Ok(t) => return Some(t),
                Err(e) => e,
            };
            let segments: Vec<Segment> = error.path().iter().cloned().collect();
            let message = error.inner().to_string();
            let at = join(path, &segments);
            if let Some((field, expected)) = unknown_field(&message) {
                // serde_path_to_error may or may not have pushed the unknown key itself.
                let mut owner = segments.clone();
                if matches!(owner.last(), Some(Segment::Map { key }) if *key == field) {
                    owner.pop();
                }
                let key_path = child(&join(path, &owner), &field);
                self.sink.push(
                    self.map.key_pos(&key_path),
                    Code::UnknownKey,
                    &key_path,
                    format!("未知的键 `{field}`"),
                    did_you_mean(&field, expected.iter().map(String::as_str))
                        .or_else(|| Some(format!("这里可以写的键：{}", expected.join("、")))),
                );
                owner.push(Segment::Map { key: field });
                if !remove(&mut value, &owner) {
                    return None;
                }
            } else if let Some(field) = missing_field(&message) {
                if !reported.contains(&child(&at, &field)) {
                    self.sink.push(
                        self.map.value_pos(&at),
                        Code::MissingKey,
                        &at,
                        format!("缺少必填的键 `{field}`"),
                        None,
                    );
                }
                return None;
            } else {
                let name = match segments.last() {
                    Some(Segment::Map { key }) => format!("`{key}` "),
                    _ => String::new(),
                };
                self.sink.push(
                    self.map.value_pos(&at),
                    Code::Type,
                    &at,
                    format!("{name}{}", type_message(&message)),
                    None,
                );
                reported.push(at);
                if !matches!(segments.last(), Some(Segment::Map { .. }))
                    || !remove(&mut value, &segments)
                {
                    return None;
                }
            }
        }
        None
    }
}

fn join(prefix: &str, segments: &[Segment]) -> String {
    let mut path = prefix.to_owned();
    for segment in segments {
        path = match segment {
            Segment::Seq { index } => item(&path, *index),
            Segment::Map { key } | Segment::Enum { variant: key } => child(&path, key),
            Segment::Unknown => path,
        };
    }
    path
}

/// Removes the entry `segments` points at; false when it cannot be found.
fn remove(value: &mut Value, segments: &[Segment]) -> bool {
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut node = value;
    for segment in parents {
        let next = match (segment, node) {
            (Segment::Seq { index }, Value::Sequence(items)) => items.get_mut(*index),
            (Segment::Map { key }, Value::Mapping(m)) => m.get_mut(key.as_str()),
            _ => None,
        };
        let Some(next) = next else { return false };
        node = next;
    }
    match (last, node) {
        (Segment::Map { key }, Value::Mapping(m)) => m.remove(key.as_str()).is_some(),
        _ => false,
    }
}

/// Text between backticks, in order.
fn ticked(message: &str) -> Vec<String> {
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// serde's "unknown field `x`, expected one of `a`, `b`" → (x, [a, b]).
fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    if !message.starts_with("unknown field `") {
        return None;
    }
    let mut words = ticked(message);
    if words.is_empty() {
        return None;
    }
    let field = words.remove(0);
    Some((field, words))
}

/// serde's "missing field `x`" → x.
fn missing_field(message: &str) -> Option<String> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
        .map(str::to_owned)
}

/// serde's "invalid type: string \"a\", expected u32" in words a policy officer reads.
fn type_message(message: &str) -> String {
    let body = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .unwrap_or(message);
    let Some((got, expected)) = body.rsplit_once(", expected ") else {
        return format!("的值不对：{message}");
    };
    format!(
        "应当是{}，这里写的是{}",
        expected_words(expected),
        got_words(got)
    )
}

fn expected_words(expected: &str) -> String {
    let words = match expected {
        "a string" => "一段文字",
        "u32" | "i64" | "u64" | "i32" => "整数",
        "a boolean" => "true 或 false",
        "a sequence" => "列表（每项以 `- ` 开头，或写成 [a, b]）",
        "a map" => "“键: 值”的映射",
        "a step id or a list of step ids" => "步骤 id，或步骤 id 的列表（如 [accept, check]）",
        e if e.starts_with("struct ") => "“键: 值”的映射",
        e => return e.to_owned(),
    };
    words.to_owned()
}

fn got_words(got: &str) -> String {
    if let Some(rest) = got.strip_prefix("string ") {
        return format!("文字 {rest}");
    }
    for (prefix, words) in [
        ("integer ", "整数 "),
        ("floating point ", "小数 "),
        ("boolean ", ""),
    ] {
        if let Some(rest) = got.strip_prefix(prefix) {
            return format!("{words}{}", rest.trim_matches('`'));
        }
    }
    match got {
        "sequence" => "列表".into(),
        "map" => "映射".into(),
        "unit value" => "空值".into(),
        g => g.to_owned(),
    }
}

/// A value's kind in words, for messages about the wrong kind of value.
pub(super) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "空值",
        Value::Bool(_) => " true/false 值",
        Value::Number(_) => "数字",
        Value::String(_) => "一段文字",
        Value::Sequence(_) => "列表",
        Value::Mapping(_) => "映射",
        Value::Tagged(_) => "带标签的值",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::yaml::parse;

    fn decode(text: &str) -> (RawProcess, Vec<super::super::Diagnostic>) {
        let mut sink = Sink::new("t.yaml");
        let (value, map) = parse(text, &mut sink).expect("yaml");
        let raw = decode_process(&value, &map, &mut sink)
            .map(|(raw, _)| raw)
            .unwrap_or_default();
        (raw, sink.into_vec())
    }

    #[test]
    fn every_bad_key_of_one_step_is_reported() {
        let text = "id: a\nsteps:\n  - id: x\n    nmae: y\n    role: [1]\n    nxt: z\n";
        let (raw, d) = decode(text);
        let got: Vec<_> = d
            .iter()
            .map(|d| (d.line, d.column, d.code, d.path.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (4, 5, "E-UNKNOWN-KEY", "steps[0].nmae"),
                (5, 11, "E-TYPE", "steps[0].role"),
                (6, 5, "E-UNKNOWN-KEY", "steps[0].nxt")
            ]
        );
        assert_eq!(d[0].hint.as_deref(), Some("是不是想写 `name`？"));
        assert_eq!(raw.steps.map(|s| s.len()), Some(1));
    }

    #[test]
    fn a_root_that_is_not_a_mapping_is_one_diagnostic() {
        let (_, d) = decode("- a\n- b\n");
        assert_eq!((d.len(), d[0].code), (1, "E-TYPE"));
    }

    #[test]
    fn type_errors_read_in_chinese() {
        let (_, d) = decode("id: a\nversion: one\n");
        assert_eq!(d[0].message, "`version` 应当是整数，这里写的是文字 \"one\"");
    }
}
