//! The loading pipeline for one definition: parse, decode, compile its rule files,
//! validate, then hash and keep the sources. Where the rule files come from (disk or the
//! database) is the caller's business, given as a function.

use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use super::TemplateCheck;
use crate::rules::RuleLibrary;

use super::calendar::{self, Calendars};
use super::decode::{Decoder, decode_process, describe};
use super::diagnostic::{Code, Diagnostic, Sink};
use super::example_model::Example;
use super::examples::{Place, examples};
use super::model::{Process, SourceFile};
use super::source_map::item;
use super::tables::tables;
use super::validate::{Cx, build};
use super::yaml::parse;

/// Loads the definition in `yaml`; `rule_file` returns a rules or table file at a path
/// relative to the definition, or `None` when there is none. `tests` is the sibling
/// `*.tests.yaml`, if any: its examples are checked and added, but it is not a source.
/// `calendars` are those the definition's `calendar:` may name.
pub(super) fn load(
    yaml: &SourceFile,
    rule_file: &dyn Fn(&str) -> Option<SourceFile>,
    tests: Option<&SourceFile>,
    templates: &dyn TemplateCheck,
    calendars: &Calendars,
) -> Result<Process, Vec<Diagnostic>> {
    let mut sink = Sink::new(&yaml.path);
    let Some((value, map)) = parse(&yaml.text, &mut sink) else {
        return Err(sink.into_vec());
    };
    let Some((mut raw, at)) = decode_process(&value, &map, &mut sink) else {
        return Err(sink.into_vec());
    };

    let mut rule_files = Vec::new();
    for (i, rel) in std::mem::take(&mut raw.rules).iter().enumerate() {
        let path = item("rules", i);
        if leaves_definition_dir(rel) {
            sink.push(
                map.value_pos(&path),
                Code::Rules,
                &path,
                format!("规则文件 `{rel}` 不在本定义文件所在的目录内"),
                Some("只能引用本定义目录下的文件，不能写绝对路径或 `..`".into()),
            );
            continue;
        }
        match rule_file(rel) {
            Some(file) => rule_files.push(file),
            None => sink.push(
                map.value_pos(&path),
                Code::Rules,
                &path,
                format!("规则文件 `{rel}` 不存在"),
                Some("路径相对于本定义文件所在的目录，例如 `rules/retirement.rhai`".into()),
            ),
        }
    }
    let rules = RuleLibrary::compile(
        rule_files
            .iter()
            .map(|f| (f.path.as_str(), f.text.as_str())),
    )
    .unwrap_or_else(|errors| {
        for e in errors {
            let message = format!("规则文件有错误：{}", e.message);
            sink.push_in(e.path, e.line, e.column, Code::Rules, "", message, None);
        }
        RuleLibrary::default()
    });

    let (tables, table_files) = tables(std::mem::take(&mut raw.tables), &map, &mut sink, rule_file);

    let mut cx = Cx {
        map: &map,
        sink: &mut sink,
        text: &yaml.text,
        rules,
        templates,
        params: Vec::new(),
        param_numbers: Default::default(),
        tables: tables.keys().cloned().collect(),
        form_keys: Vec::new(),
        departments: Vec::new(),
        roles: Vec::new(),
        documents: Vec::new(),
        steps: Vec::new(),
        step_paths: Default::default(),
        task_steps: Vec::new(),
        default_warn: None,
    };
    let raw_tests = std::mem::take(&mut raw.tests);
    let mut process = build(raw, &at, &mut cx, &yaml.path);
    process.tables = tables;
    process.calendar_data =
        calendar::resolve(process.calendar.as_deref(), calendars, &map, &mut sink);
    let mut place = Place {
        file: &yaml.path,
        map: &map,
        sink: &mut sink,
        list: "tests",
    };
    process.tests = examples(raw_tests, &at.tests, &mut place, &process);
    let mut diagnostics = Vec::new();
    if let Some(file) = tests {
        match tests_file(file, &process) {
            Ok(more) => process.tests.extend(more),
            Err(more) => diagnostics = more,
        }
    }
    if !sink.is_empty() || !diagnostics.is_empty() {
        let mut all = sink.into_vec();
        all.extend(diagnostics);
        return Err(all);
    }
    rule_files.extend(table_files);
    rule_files.sort_by(|a, b| a.path.cmp(&b.path));
    rule_files.dedup_by(|a, b| a.path == b.path);
    process.content_hash = content_hash(&yaml.text, &rule_files);
    process.sources = std::iter::once(yaml.clone()).chain(rule_files).collect();
    Ok(process)
}

/// The examples of a sibling `*.tests.yaml` (a YAML list in the form of `tests:`), checked
/// against `process`; diagnostics point into that file.
fn tests_file(file: &SourceFile, process: &Process) -> Result<Vec<Example>, Vec<Diagnostic>> {
    let mut sink = Sink::new(&file.path);
    let Some((value, map)) = parse(&file.text, &mut sink) else {
        return Err(sink.into_vec());
    };
    if !matches!(value, serde_yaml::Value::Sequence(_)) {
        sink.push(
            map.value_pos(""),
            Code::Type,
            "",
            format!("示例文件应当是列表，这里写的是{}", describe(&value)),
            Some("每个示例以 `- name:` 开头".into()),
        );
        return Err(sink.into_vec());
    }
    let mut decoder = Decoder {
        map: &map,
        sink: &mut sink,
    };
    let (raw, indices) = decoder.decode_list(Some(&value), "");
    let mut place = Place {
        file: &file.path,
        map: &map,
        sink: &mut sink,
        list: "",
    };
    let examples = examples(raw, &indices, &mut place, process);
    if sink.is_empty() {
        Ok(examples)
    } else {
        Err(sink.into_vec())
    }
}

/// SHA-256 (hex) over the definition text and its rule files' texts in path order. Each
/// text is length-prefixed so that moving bytes between files changes the hash.
fn content_hash(yaml: &str, rule_files: &[SourceFile]) -> String {
    let mut hasher = Sha256::new();
    for text in std::iter::once(yaml).chain(rule_files.iter().map(|f| f.text.as_str())) {
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// `a/./b/../c` → `a/c`, without touching the file system (the sources may not be on disk).
/// Whether a file a definition names (`rules:`, a table's `file:`) could lie outside the
/// definition's own directory: an absolute path, a drive or root, or any `..`. Such names
/// are refused before anything is read, so a definition cannot pull in (and echo back in a
/// diagnostic) a file the author was not meant to see.
pub(super) fn leaves_definition_dir(rel: &str) -> bool {
    rel.contains('\\')
        || Path::new(rel)
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
}

pub(super) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_outside_the_definition_dir_are_recognised() {
        for rel in [
            "../r.rhai",
            "rules/../../r.rhai",
            "/etc/passwd",
            "rules\\..\\x",
        ] {
            assert!(leaves_definition_dir(rel), "{rel}");
        }
        for rel in ["rules/r.rhai", "./data/t.yaml", "r..rhai"] {
            assert!(!leaves_definition_dir(rel), "{rel}");
        }
    }

    #[test]
    fn normalize_collapses_dots() {
        assert_eq!(
            normalize(Path::new("p/x/./rules/../r.rhai")),
            PathBuf::from("p/x/r.rhai")
        );
        assert_eq!(
            normalize(Path::new("../r.rhai")),
            PathBuf::from("../r.rhai")
        );
    }

    #[test]
    fn hash_depends_on_every_byte_and_file_boundary() {
        let f = |text: &str| SourceFile {
            path: "r.rhai".into(),
            text: text.into(),
        };
        let a = content_hash("ab", &[f("c")]);
        assert_ne!(a, content_hash("a", &[f("bc")]));
        assert_ne!(a, content_hash("ab", &[f("d")]));
        assert_eq!(a, content_hash("ab", &[f("c")]));
    }
}
