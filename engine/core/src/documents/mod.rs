//! Documents: notices, letters and tables rendered with MiniJinja. The only place templates
//! are parsed or rendered. Templates are read once from a directory into one shared
//! environment with strict undefined values, so a misspelt variable fails loudly instead of
//! printing nothing on an official notice.
//!
//! `context` builds what a template sees from a case (the contract in `docs/documents.md`)
//! and computes the missing materials of a supplement notice; `issue` turns that into a
//! [`Draft`] that the store numbers and renders inside the transaction that stores it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment, UndefinedBehavior};

mod context;
mod issue;
mod pages;
mod tables;

pub use context::{
    CaseView, MissingMaterial, TaskView, duration_text, format_number, is_supplement_request,
    missing_materials, numbering_year, preview_number,
};
pub use issue::{Draft, Rendered, preview, preview_table, table_draft};
pub use pages::Pages;
pub use tables::{SheetError, XLSX_CELL_MAX, csv_cell, table_cells, to_csv, to_xlsx, xlsx_cell};

/// Why a template could not be loaded, found or rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The templates directory (or a file in it) could not be read.
    #[error("无法读取模板 {path}：{source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// No template has this name.
    #[error("模板 `{name}` 不存在")]
    NotFound {
        /// The template name asked for.
        name: String,
    },
    /// The template text does not parse.
    #[error("{file}:{line}:{column}: 模板语法错误：{message}")]
    Syntax {
        /// Path of the template file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// MiniJinja's description.
        message: String,
    },
    /// The definition has no document with this key.
    #[error("流程 {process} 没有文书 `{key}`")]
    UnknownDocument {
        /// Process id.
        process: String,
        /// The key asked for.
        key: String,
    },
    /// The definition has no department with this key.
    #[error("流程 {process} 没有部门 `{department}`")]
    UnknownDepartment {
        /// Process id.
        process: String,
        /// The key asked for.
        department: String,
    },
    /// A material condition failed while listing the missing materials.
    #[error("计算缺少的材料时出错：{0}")]
    Rule(#[from] crate::rules::RuleError),
    /// Rendering failed (for example an undefined variable).
    #[error("渲染模板 `{name}` 出错：{message}")]
    Render {
        /// The template name.
        name: String,
        /// MiniJinja's description.
        message: String,
    },
}

/// All templates of a templates directory, parsed once.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    /// Templates that did not parse, by name, reported by [`Templates::check`].
    broken: BTreeMap<String, Broken>,
}

/// Where and why a template did not parse.
#[derive(Debug, Clone)]
struct Broken {
    file: String,
    line: usize,
    column: usize,
    message: String,
}

impl Broken {
    fn error(&self) -> RenderError {
        let Broken {
            file,
            line,
            column,
            message,
        } = self.clone();
        RenderError::Syntax {
            file,
            line,
            column,
            message,
        }
    }
}

impl Templates {
    /// No templates at all (every name is unknown).
    pub fn empty() -> Self {
        Templates {
            env: environment(),
            broken: BTreeMap::new(),
        }
    }

    /// Reads every `*.j2` file under `dir` (recursively), named by its path relative to
    /// `dir` with `/` separators. A template that does not parse is kept aside and reported
    /// by [`Templates::check`], so one bad template does not stop the others from loading.
    ///
    /// # Errors
    /// [`RenderError::Io`] when the directory or a file cannot be read.
    pub fn load(dir: &Path) -> Result<Templates, RenderError> {
        let mut templates = Templates::empty();
        let mut files = Vec::new();
        collect(dir, &mut files)?;
        files.sort();
        for file in files {
            let name = file
                .strip_prefix(dir)
                .unwrap_or(&file)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let text = std::fs::read_to_string(&file).map_err(|source| RenderError::Io {
                path: file.display().to_string(),
                source,
            })?;
            if let Err(e) = templates.env.add_template_owned(name.clone(), text.clone()) {
                let (line, column) = position(&e, &text);
                let message = e
                    .detail()
                    .map_or_else(|| e.kind().to_string(), str::to_owned);
                let file = file.display().to_string();
                templates.broken.insert(
                    name,
                    Broken {
                        file,
                        line,
                        column,
                        message,
                    },
                );
            }
        }
        Ok(templates)
    }

    /// Whether a template of this name exists (parsed or not).
    pub fn has(&self, name: &str) -> bool {
        self.broken.contains_key(name) || self.env.get_template(name).is_ok()
    }

    /// Checks that a template exists and parses.
    ///
    /// # Errors
    /// [`RenderError::NotFound`] or [`RenderError::Syntax`] (with the template file's position).
    pub fn check(&self, name: &str) -> Result<(), RenderError> {
        if let Some(broken) = self.broken.get(name) {
            return Err(broken.error());
        }
        match self.env.get_template(name) {
            Ok(_) => Ok(()),
            Err(_) => Err(RenderError::NotFound {
                name: name.to_owned(),
            }),
        }
    }

    /// The source text of a template, for hashing what an issued document was rendered from.
    pub fn source(&self, name: &str) -> Option<String> {
        self.env
            .get_template(name)
            .ok()
            .map(|t| t.source().to_owned())
    }

    /// Renders a template with a JSON context.
    ///
    /// # Errors
    /// [`RenderError::NotFound`], [`RenderError::Syntax`] for a template that did not parse,
    /// [`RenderError::Render`] when rendering fails (an undefined variable, for example).
    pub fn render(&self, name: &str, ctx: &serde_json::Value) -> Result<String, RenderError> {
        if let Some(broken) = self.broken.get(name) {
            return Err(broken.error());
        }
        let template = self
            .env
            .get_template(name)
            .map_err(|_| RenderError::NotFound {
                name: name.to_owned(),
            })?;
        template
            .render(minijinja::value::Serde(ctx))
            .map_err(|e| RenderError::Render {
                name: name.to_owned(),
                message: render_message(&e),
            })
    }
}

impl crate::definition::TemplateCheck for Templates {
    fn check_template(&self, name: &str) -> Result<(), crate::definition::TemplateProblem> {
        use crate::definition::TemplateProblem;
        match self.check(name) {
            Ok(()) => Ok(()),
            Err(RenderError::Syntax {
                file,
                line,
                column,
                message,
            }) => Err(TemplateProblem::Syntax {
                file,
                line,
                column,
                message,
            }),
            Err(_) => Err(TemplateProblem::Missing),
        }
    }
}

/// A render error in words: an include or macro wraps the error that stopped it, so the
/// innermost cause (running out of fuel, recursing too deep, an undefined value) is what
/// the author needs, next to where the outermost one happened.
fn render_message(error: &minijinja::Error) -> String {
    let mut root: &dyn std::error::Error = error;
    while let Some(inner) = root.source() {
        root = inner;
    }
    let root_kind = root
        .downcast_ref::<minijinja::Error>()
        .map(minijinja::Error::kind);
    if root_kind == Some(minijinja::ErrorKind::OutOfFuel) {
        format!("模板运算步数超过上限（{DOCUMENT_FUEL} 步），是不是写了死循环或过大的循环？")
    } else if std::ptr::addr_eq(root, error) {
        error.to_string()
    } else {
        format!("{error}（原因：{root}）")
    }
}

/// Instructions one document render may execute. Templates come with definitions, so a
/// loop nested too deeply (`range` alone caps at 100 000 items) must stop rather than hold a
/// request and a database transaction for hours; real notices need a few thousand.
pub const DOCUMENT_FUEL: u64 = 5_000_000;

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(DOCUMENT_FUEL));
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html.j2") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), RenderError> {
    let io = |source| RenderError::Io {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "j2") {
            files.push(path);
        }
    }
    Ok(())
}

/// 1-based line and column of a MiniJinja error inside `text`.
fn position(error: &minijinja::Error, text: &str) -> (usize, usize) {
    let Some(range) = error.range() else {
        return (error.line().unwrap_or(1), 1);
    };
    let before = text.get(..range.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    #[test]
    fn loads_renders_escapes_and_reports_broken_templates() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "a/notice.html.j2", "<p>{{ name }}</p>");
        write(dir.path(), "a/plain.txt.j2", "{{ name }}");
        write(dir.path(), "bad.html.j2", "ok\n  {% if %}");
        let t = Templates::load(dir.path()).expect("loads");
        let ctx = serde_json::json!({"name": "<张三>"});
        assert_eq!(
            t.render("a/notice.html.j2", &ctx).expect("renders"),
            "<p>&lt;张三&gt;</p>"
        );
        assert_eq!(t.render("a/plain.txt.j2", &ctx).expect("renders"), "<张三>");
        assert!(matches!(
            t.render("a/plain.txt.j2", &serde_json::json!({})),
            Err(RenderError::Render { .. })
        ));
        assert!(t.has("bad.html.j2") && !t.has("nope.html.j2"));
        let Err(RenderError::Syntax { line, column, .. }) = t.check("bad.html.j2") else {
            panic!("syntax")
        };
        assert_eq!((line, column), (2, 9));
        assert!(matches!(
            t.check("nope.html.j2"),
            Err(RenderError::NotFound { .. })
        ));
    }
}
