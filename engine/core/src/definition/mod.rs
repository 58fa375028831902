//! Process definitions: YAML in, a validated [`Process`] out. This is the only module that
//! uses `serde_yaml`; it knows nothing of storage or HTTP.
//!
//! The stages, in order: `yaml` parses the text into values and a map of positions,
//! `decode` reads the values into the `raw` structs piece by piece, `validate` (with
//! `steps`, `graph` and `expr`) builds the [`Process`], and `load` runs them for one file.
//! Every problem becomes a [`Diagnostic`]; all of them are returned at once. Working-day
//! calendars (`calendars/*.yaml`) are loaded by `calendar` beside the definitions and
//! resolved into [`Process::calendar_data`].

mod calendar;
mod decode;
mod diagnostic;
mod duration;
mod duties;
mod example_model;
mod examples;
mod expr;
mod form;
mod form_schema;
mod graph;
mod joint;
mod limits;
mod load;
mod materials;
mod model;
mod overlay;
mod personal;
mod raw;
mod resolved;
mod schedules;
mod source_map;
mod steps;
mod tables;
mod templates;
mod validate;
mod yaml;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use calendar::{
    Calendar, CalendarError, CalendarYear, Calendars, DAY_ENDS, Holiday, STATUTORY_2025,
    load_calendar, load_calendars, parse_calendar,
};
pub use diagnostic::Diagnostic;
pub use duration::ParseDurationError;
pub use example_model::{Example, ExpectRun, RunAction};
pub use form_schema::JSON_SCHEMA_DIALECT;
pub use joint::{JointItem, JointResult};
pub use limits::{
    DATE_MIN, DATE_YEARS_AHEAD, MAX_LENGTH_CEILING, MONEY_MAX, MULTILINE_MAX_CHARS, NUMBER_MAX,
    REASON_MAX_CHARS, TEXT_MAX_CHARS,
};
pub use materials::RequiredMaterial;
pub use model::*;
pub use resolved::ResolvedLine;
pub use templates::{TemplateCheck, TemplateProblem};

/// A definition (or several) that failed to load, with every problem found.
#[derive(Debug, Clone, thiserror::Error)]
pub struct LoadError {
    /// The problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl LoadError {
    fn one(file: &str, code: &'static str, message: String) -> Self {
        let d = Diagnostic {
            file: file.to_owned(),
            line: 1,
            column: 1,
            code,
            path: String::new(),
            message,
            hint: None,
            chain: Vec::new(),
        };
        LoadError {
            diagnostics: vec![d],
        }
    }
}

/// Loads one definition file, the rule and table files it names (relative to it) and its
/// sibling example file `<name>.tests.yaml` when there is one.
///
/// Template names are checked against `templates`; the `calendar:` it names is looked up in
/// the nearest `calendars/` directory at or above the file's directory. The file's path is
/// kept as given, for messages and [`Process::file`].
///
/// # Errors
/// A [`LoadError`] with every problem found, including an unreadable file and the problems
/// of the calendar files beside the one it uses.
pub fn load_file(path: &Path, templates: &dyn TemplateCheck) -> Result<Process, LoadError> {
    let (calendars, mut diagnostics) = calendar::calendars_near(path);
    match load_file_with(path, templates, &calendars) {
        Ok(process) if diagnostics.is_empty() => Ok(process),
        Ok(_) => Err(LoadError { diagnostics }),
        Err(e) => {
            diagnostics.splice(0..0, e.diagnostics);
            Err(LoadError { diagnostics })
        }
    }
}

/// [`load_file`] with the calendars already loaded.
fn load_file_with(
    path: &Path,
    templates: &dyn TemplateCheck,
    calendars: &Calendars,
) -> Result<Process, LoadError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::one(&file, "E-YAML", format!("无法读取文件：{e}")))?;
    let read = |path: &str| {
        let text = std::fs::read_to_string(path).ok()?;
        Some(SourceFile {
            path: path.to_owned(),
            text,
        })
    };
    let tests = |definition: &str| {
        let tests_path = tests_file_of(Path::new(definition));
        match std::fs::read_to_string(&tests_path) {
            Ok(text) => Ok(Some(SourceFile {
                path: tests_path.display().to_string(),
                text,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => {
                let file = tests_path.display().to_string();
                Err(LoadError::one(&file, "E-YAML", format!("无法读取文件：{e}")).diagnostics)
            }
        }
    };
    let files = load::Files {
        read: &read,
        tests: &tests,
    };
    load::load(
        &SourceFile { path: file, text },
        &files,
        templates,
        calendars,
    )
    .map_err(|diagnostics| LoadError { diagnostics })
}

/// `dir/retirement.yaml` → `dir/retirement.tests.yaml`.
fn tests_file_of(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    path.with_file_name(format!("{stem}.tests.yaml"))
}

/// Whether `path` is an example file (`*.tests.yaml`), not a definition.
fn is_tests_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".tests.yaml") || n.ends_with(".tests.yml"))
}

/// Loads a definition from files held in memory, e.g. an old version kept in the database.
///
/// The first source is the definition; its `rules:` paths are resolved relative to its path
/// among the other sources. Calendars are not part of a version: the one it names is looked
/// up on disk, in the nearest `calendars/` directory above the definition's path.
///
/// # Errors
/// A [`LoadError`] with every problem found; an empty `sources` is an error too.
pub fn load_sources(
    sources: &[SourceFile],
    templates: &dyn TemplateCheck,
) -> Result<Process, LoadError> {
    let Some(yaml) = sources.first() else {
        return Err(LoadError::one("", "E-YAML", "没有提供定义文件".into()));
    };
    let read = |path: &str| {
        let wanted = load::normalize(Path::new(path));
        sources
            .iter()
            .find(|s| load::normalize(Path::new(&s.path)) == wanted)
            .cloned()
    };
    // Example files are not part of a version, so an old version is loaded without them.
    let files = load::Files {
        read: &read,
        tests: &|_| Ok(None),
    };
    let (calendars, mut diagnostics) = calendar::calendars_near(Path::new(&yaml.path));
    match load::load(yaml, &files, templates, &calendars) {
        Ok(process) if diagnostics.is_empty() => Ok(process),
        Ok(_) => Err(LoadError { diagnostics }),
        Err(mut own) => {
            own.append(&mut diagnostics);
            Err(LoadError { diagnostics: own })
        }
    }
}

/// Loads every definition under `paths`: each is a file or a directory searched recursively
/// for `*.yaml`/`*.yml` (working-day calendars under a `calendars/` directory, table data
/// under a `data/` directory and example files `*.tests.yaml` are skipped; a definition
/// loads its own tables and example file). Each `calendars/` directory serving a definition
/// or a given directory is loaded once and all its files are checked.
///
/// # Errors
/// A [`LoadError`] with the problems of every file, and one for each (id, version) that two
/// files declare.
pub fn load_paths(
    paths: &[PathBuf],
    templates: &dyn TemplateCheck,
) -> Result<Vec<Process>, LoadError> {
    let mut files = Vec::new();
    let mut diagnostics = Vec::new();
    for path in paths {
        if path.is_dir() {
            if let Err(e) = collect(path, &mut files) {
                diagnostics.extend(
                    LoadError::one(
                        &path.display().to_string(),
                        "E-YAML",
                        format!("无法读取目录：{e}"),
                    )
                    .diagnostics,
                );
            }
        } else if !is_tests_file(path) {
            files.push(path.clone());
        }
    }
    let mut calendar_dirs: HashMap<Option<PathBuf>, Calendars> = HashMap::new();
    let mut calendars_for = |path: &Path, diagnostics: &mut Vec<Diagnostic>| {
        let dir = calendar::nearest_dir(path);
        calendar_dirs
            .entry(dir.clone())
            .or_insert_with(|| {
                let (calendars, problems) = match &dir {
                    Some(dir) => calendar::load_dir(dir),
                    None => (Calendars::default(), Vec::new()),
                };
                diagnostics.extend(problems);
                calendars
            })
            .clone()
    };
    for path in paths.iter().filter(|p| p.is_dir()) {
        calendars_for(path, &mut diagnostics);
    }
    let mut processes: Vec<Process> = Vec::new();
    for file in files {
        let calendars = calendars_for(&file, &mut diagnostics);
        match load_file_with(&file, templates, &calendars) {
            Ok(p) => {
                if let Some(first) = processes
                    .iter()
                    .find(|q| q.id == p.id && q.version == p.version)
                {
                    let (line, column) = version_position(&p);
                    diagnostics.push(Diagnostic {
                        file: p.file.clone(),
                        line,
                        column,
                        code: "E-VERSION",
                        path: "version".into(),
                        message: format!(
                            "流程 `{}` 第 {} 版已经在 `{}` 中定义",
                            p.id, p.version, first.file
                        ),
                        hint: Some("修改流程时请把 `version` 加一".into()),
                        chain: Vec::new(),
                    });
                } else {
                    processes.push(p);
                }
            }
            Err(e) => diagnostics.extend(e.diagnostics),
        }
    }
    if diagnostics.is_empty() {
        Ok(processes)
    } else {
        Err(LoadError { diagnostics })
    }
}

/// Where `version:` is written at the top level of a loaded definition.
fn version_position(p: &Process) -> (usize, usize) {
    let text = p.sources.first().map_or("", |s| s.text.as_str());
    let line = text
        .lines()
        .position(|l| l.starts_with("version:"))
        .map_or(1, |i| i + 1);
    (
        line,
        if line == 1 && !text.starts_with("version:") {
            1
        } else {
            10
        },
    )
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            // Calendars and table data (`data/`) are YAML but not definitions.
            if path
                .file_name()
                .is_some_and(|n| n != "calendars" && n != "data")
            {
                collect(&path, files)?;
            }
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml")
            && !is_tests_file(&path)
        {
            files.push(path);
        }
    }
    Ok(())
}

/// The loaded definitions, by (id, version).
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    processes: BTreeMap<(String, u32), Arc<Process>>,
}

impl Catalog {
    /// A catalog of these processes (a later one replaces an earlier one of the same
    /// id and version; [`load_paths`] already rejects such pairs). Bases
    /// ([`Process::is_abstract`]) are left out: they are not in force by themselves, so no
    /// case starts on one and no page lists one; the definitions extending them are.
    pub fn new(processes: Vec<Process>) -> Self {
        let processes = processes
            .into_iter()
            .filter(|p| !p.is_abstract)
            .map(|p| ((p.id.clone(), p.version), Arc::new(p)))
            .collect();
        Catalog { processes }
    }

    /// The process `id` at `version`.
    pub fn get(&self, id: &str, version: u32) -> Option<Arc<Process>> {
        self.processes.get(&(id.to_owned(), version)).cloned()
    }

    /// The highest version of process `id`.
    pub fn latest(&self, id: &str) -> Option<Arc<Process>> {
        self.processes
            .range((id.to_owned(), 0)..=(id.to_owned(), u32::MAX))
            .next_back()
            .map(|(_, p)| Arc::clone(p))
    }

    /// Every process, ordered by id then version.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Process>> {
        self.processes.values()
    }

    /// The department `key` of `county` (the first segment of the process ids,
    /// [`crate::accounts::county_of`]) as the county's definitions declare it, the newest
    /// version first. Department keys are unique only within a county (阳城 and 沁水 both
    /// have `shebao`), so a department is never looked up by its key alone.
    pub fn department(&self, county: &str, key: &str) -> Option<&Department> {
        self.processes
            .values()
            .rev()
            .filter(|p| crate::accounts::county_of(&p.id) == county)
            .find_map(|p| p.departments.get(key))
    }

    /// How many (id, version) pairs the catalog holds.
    pub fn len(&self) -> usize {
        self.processes.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.processes.is_empty()
    }
}
