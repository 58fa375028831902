//! Finding calendars: the `calendars/` directory that serves a definition, loading its
//! files, and resolving a definition's `calendar:` name against them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Calendar, parse_calendar};
use crate::definition::LoadError;
use crate::definition::diagnostic::{Code, Diagnostic, Sink, did_you_mean};
use crate::definition::model::SourceFile;
use crate::definition::source_map::SourceMap;

/// The calendars of one `calendars/` directory, by name.
#[derive(Debug, Clone, Default)]
pub struct Calendars {
    by_name: BTreeMap<String, Arc<Calendar>>,
    /// Names whose file did not load: their own diagnostics say why, so a definition naming
    /// one gets no second "unknown calendar" diagnostic.
    broken: BTreeSet<String>,
    /// Where they were loaded from, for hints.
    dir: Option<PathBuf>,
}

impl Calendars {
    /// The calendar called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Calendar>> {
        self.by_name.get(name).cloned()
    }

    /// Every calendar, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Calendar>> {
        self.by_name.values()
    }
}

/// Loads one calendar file; its name is the file name without `.yaml`.
///
/// # Errors
/// A [`LoadError`] when the file cannot be read or has problems.
pub fn load_calendar(path: &Path) -> Result<Calendar, LoadError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::one(&file, "E-YAML", format!("无法读取工作日历文件：{e}")))?;
    parse_calendar(&SourceFile { path: file, text })
}

/// Loads every `*.yaml` file of a `calendars/` directory.
///
/// # Errors
/// A [`LoadError`] with the problems of every file.
pub fn load_calendars(dir: &Path) -> Result<Calendars, LoadError> {
    let (calendars, diagnostics) = load_dir(dir);
    if diagnostics.is_empty() {
        Ok(calendars)
    } else {
        Err(LoadError { diagnostics })
    }
}

/// The calendars of `dir` that loaded, and the problems of those that did not.
pub(in crate::definition) fn load_dir(dir: &Path) -> (Calendars, Vec<Diagnostic>) {
    let mut calendars = Calendars {
        dir: Some(dir.to_path_buf()),
        ..Calendars::default()
    };
    let mut diagnostics = Vec::new();
    let entries = std::fs::read_dir(dir).and_then(|entries| {
        entries
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()
    });
    let mut paths = match entries {
        Ok(paths) => paths,
        Err(e) => {
            let file = dir.display().to_string();
            let message = format!("无法读取工作日历目录：{e}");
            return (
                calendars,
                LoadError::one(&file, "E-YAML", message).diagnostics,
            );
        }
    };
    paths.sort();
    for path in paths {
        if !path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            continue;
        }
        match load_calendar(&path) {
            Ok(c) => {
                calendars.by_name.insert(c.name.clone(), Arc::new(c));
            }
            Err(e) => {
                if let Some(stem) = path.file_stem() {
                    calendars.broken.insert(stem.to_string_lossy().into_owned());
                }
                diagnostics.extend(e.diagnostics);
            }
        }
    }
    (calendars, diagnostics)
}

/// The `calendars/` directory that serves a definition (or a directory of definitions) at
/// `path`: the one in the nearest directory, starting at `path` itself, that has one. For a
/// relative path the search stops at the current directory.
pub(in crate::definition) fn nearest_dir(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .map(|dir| {
            if dir.as_os_str().is_empty() {
                PathBuf::from("calendars")
            } else {
                dir.join("calendars")
            }
        })
        .find(|dir| dir.is_dir())
}

/// The calendars serving the definition at `path` (none when no `calendars/` directory is
/// above it), and the problems of calendar files that did not load.
pub(in crate::definition) fn calendars_near(path: &Path) -> (Calendars, Vec<Diagnostic>) {
    match nearest_dir(path) {
        Some(dir) => load_dir(&dir),
        None => (Calendars::default(), Vec::new()),
    }
}

/// Looks up the calendar a definition names in `calendar:`; an unknown name is an
/// `E-UNKNOWN-CALENDAR` diagnostic at that key.
pub(in crate::definition) fn resolve(
    name: Option<&str>,
    calendars: &Calendars,
    map: &SourceMap,
    sink: &mut Sink,
) -> Option<Arc<Calendar>> {
    let name = name?;
    if let Some(calendar) = calendars.get(name) {
        return Some(calendar);
    }
    if calendars.broken.contains(name) {
        return None;
    }
    let known: Vec<&str> = calendars.by_name.keys().map(String::as_str).collect();
    let place = match &calendars.dir {
        Some(dir) => format!("`{}`", dir.join(format!("{name}.yaml")).display()),
        None => format!("流程定义所在目录或其上级目录中的 `calendars/{name}.yaml`"),
    };
    let hint = did_you_mean(name, known.iter().copied()).unwrap_or_else(|| {
        if known.is_empty() {
            format!("工作日历放在 {place}")
        } else {
            format!("现有的工作日历：{}；新的日历放在 {place}", known.join("、"))
        }
    });
    sink.push(
        map.value_pos("calendar"),
        Code::UnknownCalendar,
        "calendar",
        format!("没有名为 `{name}` 的工作日历"),
        Some(hint),
    );
    None
}
