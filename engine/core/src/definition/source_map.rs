//! Where things are in a definition file: positions, scalar styles and the map from YAML
//! paths (`steps[3].outcomes.accept.to`) to them. Paths are spelt the way
//! `serde_path_to_error` prints them, so decoding errors find their place.

use std::collections::HashMap;

/// A place in a source file: 1-based line and column (in characters) plus the 0-based
/// character index, which the expression mapping needs to read the raw text, and which
/// file of the load it is in (0: the definition itself; a base it extends, or an example
/// file, has its own number, see [`super::diagnostic::Sink`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Pos {
    pub(super) line: usize,
    pub(super) column: usize,
    pub(super) index: usize,
    pub(super) file: usize,
}

/// How a scalar was written; decides how an offset inside it maps back to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
    /// A mapping or a sequence.
    Collection,
}

/// Where one path of the document sits.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    /// The key, when the value belongs to a mapping.
    pub(super) key: Option<Pos>,
    /// The start of the value (for block scalars: the first content character).
    pub(super) value: Pos,
    pub(super) style: Style,
}

/// Positions of every path in one YAML document.
#[derive(Debug, Default)]
pub(super) struct SourceMap {
    pub(super) spans: HashMap<String, Span>,
}

impl SourceMap {
    /// The span of `path`, or of its nearest ancestor that exists (a missing key is reported
    /// at the mapping that lacks it).
    pub(super) fn span(&self, path: &str) -> Span {
        let mut p = path;
        loop {
            if let Some(s) = self.spans.get(p) {
                return *s;
            }
            match parent(p) {
                Some(up) => p = up,
                None => {
                    let start = Pos {
                        line: 1,
                        column: 1,
                        ..Pos::default()
                    };
                    return Span {
                        key: None,
                        value: start,
                        style: Style::Collection,
                    };
                }
            }
        }
    }

    /// Position of the key of `path` (the value's position when it has no key).
    pub(super) fn key_pos(&self, path: &str) -> Pos {
        let s = self.span(path);
        s.key.unwrap_or(s.value)
    }

    /// Position of the value of `path`.
    pub(super) fn value_pos(&self, path: &str) -> Pos {
        self.span(path).value
    }

    /// Whether the document has this exact path.
    pub(super) fn contains(&self, path: &str) -> bool {
        self.spans.contains_key(path)
    }
}

/// `steps[3].to` → `steps[3]` → `steps` → ``.
fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '[']).unwrap_or(0);
    Some(&path[..cut])
}

/// Joins a map key onto a path the way `serde_path_to_error` prints paths.
pub(super) fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Joins a list index onto a path.
pub(super) fn item(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}
