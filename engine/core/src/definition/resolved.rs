//! The resolved definition as people read it: the merged YAML (base and overlays together),
//! one line per key or list item, each with the `file:line` it is written at. `lianban show
//! --resolved` prints these lines and the definitions page shows them, so a policy officer
//! sees which value a county overrides and which it inherits.

use serde::Serialize;
use serde_yaml::Value;

use super::model::Process;
use super::source_map::{child, item};

/// One line of the resolved definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedLine {
    /// The YAML path of the value, as diagnostics name it (`steps[3].due`).
    pub path: String,
    /// The line as YAML, indented (`    due: 5 workdays`).
    pub text: String,
    /// Where the value is written, `file:line`; `None` for a value without a place.
    pub origin: Option<String>,
    /// Whether it is written in the definition's own file (an overlay's own value) rather
    /// than inherited from a base.
    pub own: bool,
}

impl Process {
    /// The merged definition, line by line, each with where it is written.
    pub fn resolved_lines(&self) -> Vec<ResolvedLine> {
        let mut out = Vec::new();
        if let Value::Mapping(map) = &self.resolved {
            mapping(self, map, "", 0, false, &mut out);
        }
        out
    }

    /// The resolved definition as text: each line padded, then `# file:line`.
    pub fn resolved_text(&self) -> String {
        let lines = self.resolved_lines();
        let width = lines
            .iter()
            .map(|l| display_width(&l.text))
            .max()
            .unwrap_or(0)
            .min(72);
        let mut text = format!(
            "# {} 第 {} 版（合并后的定义）：{}\n",
            self.id,
            self.version,
            self.chain_text()
        );
        for line in &lines {
            match &line.origin {
                Some(origin) => {
                    let pad = width.saturating_sub(display_width(&line.text));
                    text.push_str(&format!("{}{}  # {origin}\n", line.text, " ".repeat(pad)));
                }
                None => text.push_str(&format!("{}\n", line.text)),
            }
        }
        text
    }

    /// `own.yaml ← base.yaml`: the files merged, the definition's own first.
    fn chain_text(&self) -> String {
        let mut files = vec![self.file.clone()];
        files.extend(
            self.sources
                .iter()
                .filter(|s| s.path.ends_with(".yaml") && s.path != self.file)
                .filter(|s| !s.path.ends_with(".tests.yaml"))
                .filter(|s| {
                    self.extends
                        .iter()
                        .any(|id| s.path.ends_with(&format!("{}.yaml", id.replace('.', "/"))))
                })
                .map(|s| s.path.clone()),
        );
        files.join(" ← ")
    }

    fn line(&self, path: String, text: String) -> ResolvedLine {
        let origin = self.origins.get(&path).cloned();
        let own = origin.as_deref().is_some_and(|o| {
            o.rsplit_once(':')
                .is_some_and(|(file, _)| file == self.file || self.file.ends_with(file))
        });
        ResolvedLine {
            path,
            text,
            origin,
            own,
        }
    }
}

fn mapping(
    process: &Process,
    map: &serde_yaml::Mapping,
    path: &str,
    indent: usize,
    dash: bool,
    out: &mut Vec<ResolvedLine>,
) {
    for (i, (key, value)) in map.iter().enumerate() {
        let key = scalar(key);
        let at = child(path, &key);
        let lead = if dash && i == 0 {
            format!("{}- ", " ".repeat(indent.saturating_sub(2)))
        } else {
            " ".repeat(indent)
        };
        match value {
            Value::Mapping(inner) if !inner.is_empty() => {
                out.push(process.line(at.clone(), format!("{lead}{key}:")));
                mapping(process, inner, &at, indent + 2, false, out);
            }
            Value::Sequence(items) if !items.is_empty() => {
                out.push(process.line(at.clone(), format!("{lead}{key}:")));
                sequence(process, items, &at, indent + 2, out);
            }
            other => out.push(process.line(at, format!("{lead}{key}: {}", scalar(other)))),
        }
    }
}

fn sequence(
    process: &Process,
    items: &[Value],
    path: &str,
    indent: usize,
    out: &mut Vec<ResolvedLine>,
) {
    for (i, value) in items.iter().enumerate() {
        let at = item(path, i);
        let pad = " ".repeat(indent);
        match value {
            Value::Mapping(inner) if !inner.is_empty() => {
                mapping(process, inner, &at, indent + 2, true, out);
            }
            Value::Sequence(inner) if !inner.is_empty() => {
                out.push(process.line(at.clone(), format!("{pad}-")));
                sequence(process, inner, &at, indent + 2, out);
            }
            other => out.push(process.line(at, format!("{pad}- {}", scalar(other)))),
        }
    }
}

/// A scalar as it reads in YAML flow style; text that would not read back as itself (a
/// line break, a leading space, a `#`) is quoted.
fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "~".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let plain = !s.is_empty()
                && !s.contains(['\n', '#', '"', '\''])
                && !s.starts_with([' ', '-', '{', '[', '*', '&', '!', '|', '>', '%', '@'])
                && !s.ends_with(' ')
                && !s.contains(": ");
            if plain {
                s.clone()
            } else {
                serde_json::to_string(s).unwrap_or_else(|_| s.clone())
            }
        }
        Value::Sequence(items) if items.is_empty() => "[]".into(),
        Value::Mapping(map) if map.is_empty() => "{}".into(),
        Value::Tagged(tagged) => format!("{} {}", tagged.tag, scalar(&tagged.value)),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Columns a text takes in a terminal: CJK characters take two.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}
