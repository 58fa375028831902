//! The definition loader and validator on mangled input: the shipped definitions and the
//! broken fixtures, mutated (bytes flipped, lines dropped or repeated, keys renamed, values
//! swapped for odd YAML), a county overlay over a mangled shared base, and random YAML
//! documents. Every input must load or fail with
//! diagnostics that say where; none may panic. A fixed seed and a bounded number of cases
//! keep this a short, repeatable run for CI; `fuzz/` holds the open-ended cargo-fuzz target
//! over the same corpus.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use lianban::definition::{SourceFile, load_sources};
use lianban::documents::Templates;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One seed: a definition, the rule and table files beside it and the bases it extends
/// with theirs, and which of these files the mutations change.
#[derive(Debug, Clone)]
struct Seed {
    definition: SourceFile,
    others: Vec<SourceFile>,
    /// `None`: the definition itself; `Some(i)`: `others[i]` (a base under an overlay).
    mutated: Option<usize>,
}

impl Seed {
    fn target(&self) -> &SourceFile {
        self.mutated.map_or(&self.definition, |i| &self.others[i])
    }
}

/// The files a definition in `dir` may need: its rules and tables, and those of its
/// neighbours in the same tree (a county's base lives beside it, e.g. `processes/shanxi/`
/// beside `processes/zezhou/`), definitions of those neighbours included.
fn neighbours(dir: &Path) -> Vec<SourceFile> {
    let mut paths = Vec::new();
    files(&dir.join("rules"), &[".rhai"], &mut paths);
    files(&dir.join("data"), &[".yaml"], &mut paths);
    if let Some(parent) = dir.parent().filter(|p| p.ends_with("processes")) {
        let Ok(entries) = std::fs::read_dir(parent) else {
            return Vec::new();
        };
        let mut others: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir() && p != dir)
            .collect();
        others.sort();
        for other in others {
            let mut found = Vec::new();
            files(&other, &[".yaml", ".rhai"], &mut found);
            paths.extend(found.into_iter().filter(|p| {
                let s = p.display().to_string();
                !s.contains("/calendars/") && !s.ends_with(".tests.yaml")
            }));
        }
    }
    paths.iter().filter_map(|p| read(p)).collect()
}

fn read(path: &Path) -> Option<SourceFile> {
    Some(SourceFile {
        path: path.display().to_string(),
        text: std::fs::read_to_string(path).ok()?,
    })
}

/// Every file under `dir` (recursively) whose name ends with one of `ends`.
fn files(dir: &Path, ends: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            files(&path, ends, out);
        } else if ends.iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

/// The seed corpus: each definition of `processes/` and the fixtures (broken ones
/// included), with the rule and data files of its directory.
fn seeds() -> Vec<Seed> {
    let root = repo();
    let mut definitions = Vec::new();
    for dir in ["processes", "tests/fixtures/broken", "tests/fixtures/flows"] {
        let mut found = Vec::new();
        files(&root.join(dir), &[".yaml"], &mut found);
        definitions.extend(found.into_iter().filter(|p| {
            let s = p.display().to_string();
            !s.contains("/calendars/") && !s.contains("/data/") && !s.ends_with(".tests.yaml")
        }));
    }
    let mut seeds = Vec::new();
    for path in &definitions {
        let (Some(dir), Some(definition)) = (path.parent(), read(path)) else {
            continue;
        };
        let others = neighbours(dir);
        // An overlay is also a way into its base: the county's file as shipped over a
        // mangled base, whose diagnostics must point into the base.
        let bases: Vec<usize> = others
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                f.path.ends_with(".yaml")
                    && !f.path.contains("/data/")
                    && definition.text.lines().any(|l| {
                        l.strip_prefix("extends:").is_some_and(|id| {
                            let id = id.trim().replace('.', "/");
                            f.path.ends_with(&format!("{id}.yaml"))
                        })
                    })
            })
            .map(|(i, _)| i)
            .collect();
        for base in bases {
            seeds.push(Seed {
                definition: definition.clone(),
                others: others.clone(),
                mutated: Some(base),
            });
        }
        seeds.push(Seed {
            definition,
            others,
            mutated: None,
        });
    }
    seeds
}

/// Loads `text` in place of the seed's definition. Panics are caught and returned as
/// `Err` with the message, so the failing input can be shown.
fn load(seed: &Seed, text: &str, templates: &Templates) -> Result<(), String> {
    let mut sources = vec![seed.definition.clone()];
    sources.extend(seed.others.iter().cloned());
    let target = seed.mutated.map_or(0, |i| i + 1);
    sources[target].text = text.to_owned();
    let outcome = catch_unwind(AssertUnwindSafe(|| load_sources(&sources, templates)));
    let lines = text.lines().count().max(1);
    match outcome {
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Err(format!("the loader panicked: {what}"))
        }
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.diagnostics.is_empty() => Err("a failure without diagnostics".into()),
        Ok(Err(e)) => {
            for d in &e.diagnostics {
                if d.file.is_empty() || d.line == 0 || d.column == 0 || d.message.is_empty() {
                    return Err(format!("a diagnostic without a position or message: {d:?}"));
                }
                // A diagnostic about the definition itself points into it (one line past
                // the end is where a missing thing would go).
                if d.file == seed.target().path && d.line > lines + 1 {
                    return Err(format!("line {} of a {lines}-line file: {d:?}", d.line));
                }
                if !d.code.starts_with("E-") {
                    return Err(format!("a diagnostic without a code: {d:?}"));
                }
            }
            Ok(())
        }
    }
}

/// A mutation of a seed's text.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the byte at (position mod length) with this one.
    Flip(usize, u8),
    /// Delete the line at (index mod lines).
    DeleteLine(usize),
    /// Repeat the line at (index mod lines).
    RepeatLine(usize),
    /// Rename the key of the line at (index mod lines), if it has one.
    RenameKey(usize, String),
    /// Replace the value of the line at (index mod lines) with odd YAML.
    Value(usize, String),
    /// Cut the text at (position mod length).
    Truncate(usize),
    /// Insert odd YAML as a line at (index mod lines).
    Insert(usize, String),
}

/// Odd YAML values: anchors and aliases, tags, deep nesting, huge numbers, empty things,
/// other types, control characters and long strings.
fn odd_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("".to_owned()),
        Just("~".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just("&a [*a]".to_owned()),
        Just("*nowhere".to_owned()),
        Just("!!binary aGVsbG8=".to_owned()),
        Just("!custom {a: 1}".to_owned()),
        Just("99999999999999999999999999".to_owned()),
        Just("-1".to_owned()),
        Just("1e400".to_owned()),
        Just(".nan".to_owned()),
        Just("\"\\u0000\\t\"".to_owned()),
        Just("'../../etc/passwd'".to_owned()),
        Just("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]".to_owned()),
        Just("{a: {a: {a: {a: {a: {a: {a: {a: {a: {a: 1}}}}}}}}}}".to_owned()),
        Just("|\n  多行\n  文本".to_owned()),
        Just("? complex\n: key".to_owned()),
        "[a-z0-9 :,\\[\\]{}'\"#&*!|>%@`-]{0,40}",
        "\\PC{0,20}",
        (1usize..2000).prop_map(|n| "长".repeat(n)),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::RepeatLine),
        (any::<usize>(), "[a-z_]{1,12}").prop_map(|(i, k)| Mutation::RenameKey(i, k)),
        (any::<usize>(), odd_value()).prop_map(|(i, v)| Mutation::Value(i, v)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), odd_value()).prop_map(|(i, v)| Mutation::Insert(i, v)),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let n = lines.len();
    match m {
        Mutation::Flip(i, b) => {
            let mut bytes = text.as_bytes().to_vec();
            if bytes.is_empty() {
                return String::from_utf8_lossy(&[*b]).into_owned();
            }
            let at = i % bytes.len();
            bytes[at] = *b;
            // The loader takes text: bytes that are not UTF-8 are what a reader of the file
            // would have refused earlier, so they become U+FFFD here.
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        Mutation::Truncate(i) => {
            let mut at = i % text.len().max(1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            return text[..at].to_owned();
        }
        Mutation::DeleteLine(i) => {
            lines.remove(i % n);
        }
        Mutation::RepeatLine(i) => {
            let line = lines[i % n].clone();
            lines.insert(i % n, line);
        }
        Mutation::RenameKey(i, key) => {
            let line = &mut lines[i % n];
            if let Some(colon) = line.find(':') {
                let indent = line.len() - line.trim_start_matches([' ', '-']).len();
                if indent <= colon {
                    *line = format!("{}{key}{}", &line[..indent], &line[colon..]);
                }
            }
        }
        Mutation::Value(i, value) => {
            let line = &mut lines[i % n];
            if let Some(colon) = line.find(": ") {
                *line = format!("{}: {value}", &line[..colon]);
            }
        }
        Mutation::Insert(i, value) => {
            lines.insert(i % n, value.clone());
        }
    }
    lines.join("\n")
}

fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[42u8; 32]),
    )
}

fn templates() -> Templates {
    Templates::load(&repo().join("templates")).expect("the shipped templates load")
}

#[test]
fn the_seed_corpus_itself_loads_or_fails_with_positioned_diagnostics() {
    let templates = templates();
    let seeds = seeds();
    assert!(seeds.len() > 30, "only {} seeds", seeds.len());
    let overlays = seeds.iter().filter(|s| s.mutated.is_some()).count();
    assert!(overlays >= 3, "only {overlays} overlay-over-base seeds");
    for seed in &seeds {
        if let Err(why) = load(seed, &seed.target().text, &templates) {
            panic!("{}: {why}", seed.definition.path);
        }
        // The shipped definitions, overlays included, load as they are: a seed that fails
        // at once would only ever test the first error.
        if seed.definition.path.contains("/processes/") {
            let mut sources = vec![seed.definition.clone()];
            sources.extend(seed.others.iter().cloned());
            if let Err(e) = load_sources(&sources, &templates) {
                panic!("{}: {e}", seed.definition.path);
            }
        }
    }
}

#[test]
fn mutated_definitions_never_panic_and_always_say_where() {
    let templates = templates();
    let seeds = seeds();
    let strategy = (0..seeds.len(), prop::collection::vec(mutation(), 1..4));
    runner(300)
        .run(&strategy, |(which, mutations)| {
            let seed = &seeds[which];
            let text = mutations
                .iter()
                .fold(seed.target().text.clone(), |t, m| apply(&t, m));
            load(seed, &text, &templates).map_err(|why| {
                TestCaseError::fail(format!("{}: {why}\n---\n{text}", seed.target().path))
            })
        })
        .expect("no panics, diagnostics with positions");
}

/// Random YAML documents built from keys the loader knows, nested a few levels.
fn random_document() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "id",
        "version",
        "name",
        "departments",
        "roles",
        "steps",
        "form",
        "rules",
        "tables",
        "documents",
        "schedules",
        "calendar",
        "params",
        "type",
        "to",
        "next",
        "outcomes",
        "when",
        "due",
        "role",
        "template",
        "branches",
        "join",
        "set",
        "cron",
        "file",
        "data",
    ]);
    let leaf = odd_value().boxed();
    let tree = leaf.prop_recursive(4, 40, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|pairs| {
                let body: Vec<String> = pairs
                    .into_iter()
                    .map(|(k, v)| format!("{k}: {}", v.replace('\n', " ")))
                    .collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    });
    prop::collection::vec(
        (
            prop::sample::select(vec!["id", "version", "name", "steps", "roles", "form", "x"]),
            tree,
        ),
        0..8,
    )
    .prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}: {}", v.replace('\n', " ")))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

#[test]
fn random_yaml_documents_never_panic_and_always_say_where() {
    let templates = templates();
    let seed = Seed {
        definition: SourceFile {
            path: repo().join("processes/fuzz.yaml").display().to_string(),
            text: String::new(),
        },
        others: Vec::new(),
        mutated: None,
    };
    runner(300)
        .run(&random_document(), |text| {
            load(&seed, &text, &templates)
                .map_err(|why| TestCaseError::fail(format!("{why}\n---\n{text}")))
        })
        .expect("no panics, diagnostics with positions");
}

#[test]
fn rules_and_table_files_outside_the_definition_directory_are_refused_at_check() {
    let templates = templates();
    // The base names the rules and the table the counties share.
    let path = repo().join("processes/shanxi/retirement.yaml");
    let seed = Seed {
        definition: read(&path).expect("the shipped definition"),
        others: Vec::new(),
        mutated: None,
    };
    for (line, wanted) in [
        (
            "rules: [../../../../etc/passwd]",
            "不在本定义文件所在的目录内",
        ),
        ("rules: [/etc/passwd]", "不在本定义文件所在的目录内"),
        (
            "rules: [rules/../../zezhou/rules/local.rhai]",
            "不在本定义文件所在的目录内",
        ),
    ] {
        let text = seed
            .definition
            .text
            .replace("rules: [rules/national.rhai, rules/retirement.rhai]", line);
        assert_ne!(
            text, seed.definition.text,
            "the shipped definition names its rules"
        );
        let mut sources = vec![SourceFile {
            path: seed.definition.path.clone(),
            text,
        }];
        // Even when the escaping file is among the sources, it is not read.
        sources.push(SourceFile {
            path: "/etc/passwd".into(),
            text: "root:x:0:0".into(),
        });
        let e = load_sources(&sources, &templates).expect_err(line);
        let found = e
            .diagnostics
            .iter()
            .find(|d| d.message.contains(wanted))
            .unwrap_or_else(|| panic!("{line}: {e}"));
        assert_eq!(found.code, "E-RULES", "{found:?}");
        assert!(found.path.starts_with("rules"), "{found:?}");
        assert!(!e.to_string().contains("root:x"), "{e}");
    }
    let text = seed
        .definition
        .text
        .replace("file: data/bank_bins.yaml", "file: ../../../etc/passwd");
    assert_ne!(
        text, seed.definition.text,
        "the shipped definition has a table file"
    );
    let sources = [SourceFile {
        path: seed.definition.path.clone(),
        text,
    }];
    let e = load_sources(&sources, &templates).expect_err("a table outside");
    let found = e
        .diagnostics
        .iter()
        .find(|d| d.code == "E-TABLE" && d.message.contains("不在本定义文件所在的目录内"))
        .unwrap_or_else(|| panic!("{e}"));
    assert_eq!(found.path, "tables.bank_bins.file", "{found:?}");
}
