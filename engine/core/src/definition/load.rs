//! The loading pipeline for one definition: parse, decode, compile its rule files,
//! validate, then hash and keep the sources. Where the rule files come from (disk or the
//! database) is the caller's business, given as a function.

use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use super::TemplateCheck;
use crate::rules::RuleLibrary;

use super::calendar::{self, Calendars};
use super::decode::{Decoder, decode_process};
use super::diagnostic::{Code, Diagnostic, Sink};
use super::example_model::Example;
use super::examples::{Place, examples};
use super::model::{Process, SourceFile};
use super::overlay::{merge_definition, merge_examples};
use super::source_map::{Pos, item};
use super::tables::tables;
use super::validate::{Cx, build};
use super::yaml::{Kind, Node, parse_tree, to_value};

/// How the loader reaches the files a definition names, wherever they are kept (disk or
/// the database).
pub(super) struct Files<'a> {
    /// A file by its path (normalised, `processes/shanxi/rules/national.rhai`), or `None`.
    pub(super) read: &'a dyn Fn(&str) -> Option<SourceFile>,
    /// The example file (`<name>.tests.yaml`) of the definition at a path, when examples
    /// are read at all; an unreadable one is a diagnostic.
    pub(super) tests: &'a TestsFile,
}

/// Reads the example file of the definition at a path (see [`Files::tests`]).
pub(super) type TestsFile = dyn Fn(&str) -> Result<Option<SourceFile>, Vec<Diagnostic>>;

/// How many bases deep a definition may extend (a county over a province over the nation
/// is three); more is surely a mistake, and a cycle is caught before.
const MAX_CHAIN: usize = 4;

/// Loads the definition in `yaml`, with the bases it extends (`extends:`), the rule and
/// table files they name and their example files. `calendars` are those the definition's
/// `calendar:` may name.
pub(super) fn load(
    yaml: &SourceFile,
    files: &Files<'_>,
    templates: &dyn TemplateCheck,
    calendars: &Calendars,
) -> Result<Process, Vec<Diagnostic>> {
    let mut sink = Sink::new(&yaml.path);
    let Some(tree) = parse_tree(&yaml.text, 0, &mut sink) else {
        return Err(sink.into_vec());
    };
    let Some((chain, trees, ids)) = resolve_chain(yaml, tree, files, &mut sink) else {
        return Err(sink.into_vec());
    };
    if chain.len() > 1 {
        sink.set_chain(chain.iter().map(|f| f.path.clone()).collect());
    }
    let mut trees = trees.into_iter().rev();
    let mut merged = trees.next().expect("the chain holds the definition");
    for overlay in trees {
        merged = merge_definition(merged, overlay, &mut sink);
    }
    let (value, map) = to_value(&merged, &mut sink);
    let Some((mut raw, at)) = decode_process(&value, &map, &mut sink) else {
        return Err(sink.into_vec());
    };
    // A path written in a file is relative to that file's directory (a base's rules stay
    // beside the base).
    let dir_of = |file: usize| {
        let path = chain
            .get(file)
            .map_or(yaml.path.as_str(), |f| f.path.as_str());
        Path::new(path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    };
    let fetch = |file: usize, rel: &str| {
        let path = normalize(&dir_of(file).join(rel));
        (files.read)(&path.display().to_string())
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
        match fetch(map.value_pos(&path).file, rel) {
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

    let (tables, table_files) = tables(std::mem::take(&mut raw.tables), &map, &mut sink, &fetch);

    let texts: Vec<&str> = chain.iter().map(|f| f.text.as_str()).collect();
    let mut cx = Cx {
        map: &map,
        sink: &mut sink,
        texts: &texts,
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
    process.extends = ids;
    process.tables = tables;
    process.calendar_data =
        calendar::resolve(process.calendar.as_deref(), calendars, &map, &mut sink);
    let mut place = Place {
        map: &map,
        sink: &mut sink,
        list: "tests",
    };
    process.tests = examples(raw_tests, &at.tests, &mut place, &process);
    let more = tests_files(&chain, files, &process, &mut sink);
    process.tests.extend(more);
    process.origins = map
        .spans
        .iter()
        .filter(|(path, _)| !path.is_empty())
        .map(|(path, span)| {
            let pos = span.key.unwrap_or(span.value);
            (path.clone(), format!("{}:{}", sink.file_of(pos), pos.line))
        })
        .collect();
    if !sink.is_empty() {
        return Err(sink.into_vec());
    }
    process.resolved = value;
    rule_files.extend(table_files);
    rule_files.sort_by(|a, b| a.path.cmp(&b.path));
    rule_files.dedup_by(|a, b| a.path == b.path);
    let texts: Vec<&str> = chain.iter().map(|f| f.text.as_str()).collect();
    process.content_hash = content_hash(&texts, &rule_files);
    process.sources = chain.into_iter().chain(rule_files).collect();
    Ok(process)
}

/// The definition and the bases it extends, nearest first: their files, parsed trees and
/// (for the bases) ids. `None` when a base cannot be found or read (reported).
///
/// A base `a.b` is the file `a/b.yaml` beside the definition's own directory — for
/// `processes/yangcheng/retirement.yaml`, `extends: shanxi.retirement` is
/// `processes/shanxi/retirement.yaml` — so a definition reaches nothing outside the
/// directory tree its county folder is in, and a stored version finds its base among its
/// own sources.
fn resolve_chain(
    yaml: &SourceFile,
    tree: Node,
    files: &Files<'_>,
    sink: &mut Sink,
) -> Option<(Vec<SourceFile>, Vec<Node>, Vec<String>)> {
    let mut chain = vec![yaml.clone()];
    let mut trees = vec![tree];
    let mut ids = Vec::new();
    while let Some((id, pos)) = trees.last().and_then(|t| top_scalar(t, "extends")) {
        let from = chain.last().map_or("", |f| f.path.as_str()).to_owned();
        let Some(path) = base_path(&from, &id) else {
            sink.push(
                pos,
                Code::Extends,
                "extends",
                format!(
                    "`extends` 应当写一个流程标识，例如 `shanxi.retirement`，这里写的是 `{id}`"
                ),
                None,
            );
            return None;
        };
        if chain
            .iter()
            .any(|f| normalize(Path::new(&f.path)) == Path::new(&path))
            || chain.len() > MAX_CHAIN
        {
            let names: Vec<&str> = chain.iter().map(|f| f.path.as_str()).collect();
            sink.push(
                pos,
                Code::Extends,
                "extends",
                format!(
                    "继承关系成环或超过 {MAX_CHAIN} 层：{} → {path}",
                    names.join(" → ")
                ),
                Some("基础定义不能（间接地）继承引用它的定义".into()),
            );
            return None;
        }
        let Some(file) = (files.read)(&path) else {
            sink.push(
                pos,
                Code::Extends,
                "extends",
                format!("找不到基础定义 `{id}`（应当在 `{path}`）"),
                Some("`extends: 省.流程` 指向与本县目录并列的 `省/流程.yaml`".into()),
            );
            return None;
        };
        let number = sink.add_file(&file.path);
        let base = parse_tree(&file.text, number, sink)?;
        match top_scalar(&base, "id") {
            Some((own, _)) if own == id => {}
            other => {
                let own = other.map(|(own, _)| own).unwrap_or_default();
                sink.push(
                    pos,
                    Code::Extends,
                    "extends",
                    format!("`{path}` 的流程标识是 `{own}`，不是 `{id}`"),
                    None,
                );
                return None;
            }
        }
        ids.push(id);
        chain.push(file);
        trees.push(base);
    }
    Some((chain, trees, ids))
}

/// `processes/yangcheng/retirement.yaml` + `shanxi.retirement` →
/// `processes/shanxi/retirement.yaml`; `None` for a text that is not a process id of at
/// least two segments.
fn base_path(from: &str, id: &str) -> Option<String> {
    let (folder, name) = id.split_once('.')?;
    let segment = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c))
            })
    };
    if !segment(folder) || !segment(name) {
        return None;
    }
    let root = Path::new(from).parent()?.parent().unwrap_or(Path::new(""));
    Some(
        normalize(&root.join(folder).join(format!("{name}.yaml")))
            .display()
            .to_string(),
    )
}

/// A top-level text value of a definition tree, with its position.
fn top_scalar(tree: &Node, key: &str) -> Option<(String, Pos)> {
    let Kind::Map(entries) = &tree.kind else {
        return None;
    };
    entries.iter().find_map(|(k, v)| match (&k.kind, &v.kind) {
        (Kind::Scalar(name, _), Kind::Scalar(text, _)) if name == key => {
            Some((text.clone(), v.pos))
        }
        _ => None,
    })
}

/// The examples of the example files (`*.tests.yaml`, each a YAML list in the form of
/// `tests:`) of the definition and its bases: a base's examples run for every definition
/// extending it, an overlay's example of the same name replaces the base's, and
/// `{name: …, remove: true}` drops one. Checked against `process`; diagnostics point into
/// the file each example is written in.
fn tests_files(
    chain: &[SourceFile],
    files: &Files<'_>,
    process: &Process,
    sink: &mut Sink,
) -> Vec<Example> {
    let mut merged: Option<Node> = None;
    for definition in chain.iter().rev() {
        let file = match (files.tests)(&definition.path) {
            Ok(Some(file)) => file,
            Ok(None) => continue,
            Err(problems) => {
                for d in problems {
                    sink.push_in(d.file, d.line, d.column, Code::Yaml, "", d.message, d.hint);
                }
                continue;
            }
        };
        let number = sink.add_file(&file.path);
        let Some(tree) = parse_tree(&file.text, number, sink) else {
            continue;
        };
        if !matches!(tree.kind, Kind::Seq(_)) {
            sink.push(
                tree.pos,
                Code::Type,
                "",
                "示例文件应当是列表".into(),
                Some("每个示例以 `- name:` 开头".into()),
            );
            continue;
        }
        merged = Some(match merged {
            Some(base) => merge_examples(base, tree, sink),
            None => tree,
        });
    }
    let Some(tree) = merged else {
        return Vec::new();
    };
    let (value, map) = to_value(&tree, sink);
    let mut decoder = Decoder {
        map: &map,
        sink: &mut *sink,
    };
    let (raw, indices) = decoder.decode_list(Some(&value), "");
    let mut place = Place {
        map: &map,
        sink,
        list: "",
    };
    examples(raw, &indices, &mut place, process)
}
/// SHA-256 (hex) over the texts of the definition and the bases it extends (nearest
/// first), then its rule and table files' texts in path order. Each text is
/// length-prefixed so that moving bytes between files changes the hash; a definition
/// without `extends:` hashes as it always did.
fn content_hash(yamls: &[&str], rule_files: &[SourceFile]) -> String {
    let mut hasher = Sha256::new();
    for text in yamls
        .iter()
        .copied()
        .chain(rule_files.iter().map(|f| f.text.as_str()))
    {
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
        let a = content_hash(&["ab"], &[f("c")]);
        assert_ne!(a, content_hash(&["a"], &[f("bc")]));
        assert_ne!(a, content_hash(&["ab"], &[f("d")]));
        assert_eq!(a, content_hash(&["ab"], &[f("c")]));
        assert_ne!(a, content_hash(&["ab", "x"], &[f("c")]));
    }
}
