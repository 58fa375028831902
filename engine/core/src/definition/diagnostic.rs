//! Diagnostics: one problem in a definition, located at `file:line:col`, worded for a policy
//! officer. The loader collects all of them before giving up, so one edit round fixes all.

use std::fmt;

use super::source_map::Pos;

/// One problem found while loading a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in (the definition, a rules file or a template).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Stable code such as `E-UNKNOWN-KEY`; tests and documentation refer to it.
    pub code: &'static str,
    /// YAML path of the problem, e.g. `steps[3].outcomes.accept.to` (empty for the root or
    /// for other files).
    pub path: String,
    /// What is wrong, in plain Chinese.
    pub message: String,
    /// How to fix it, when we can tell.
    pub hint: Option<String>,
    /// For a definition that extends another: the files of the chain, the definition first
    /// then each base it extends (empty otherwise), so a value found in a base is traced
    /// to the definition that inherits it.
    pub chain: Vec<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error[{}]: {}",
            self.file, self.line, self.column, self.code, self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  = 提示: {hint}")?;
        }
        if self.chain.len() > 1 {
            write!(f, "\n  = 继承链: {}", self.chain.join(" → "))?;
        }
        Ok(())
    }
}

/// The kinds of problem; each maps to one stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Code {
    Yaml,
    UnknownKey,
    MissingKey,
    Type,
    DuplicateId,
    UnknownStep,
    UnknownRole,
    UnknownDepartment,
    UnknownDocument,
    UnknownTemplate,
    UnknownParameter,
    Unreachable,
    NoEnd,
    JoinWithoutSplit,
    SplitJoin,
    Rhai,
    Rules,
    Duration,
    Cron,
    Template,
    Field,
    Version,
    Table,
    UnknownTable,
    Example,
    Calendar,
    UnknownCalendar,
    UnknownAction,
    System,
    Escalation,
    NotSameAs,
    Extends,
}

impl Code {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Code::Yaml => "E-YAML",
            Code::UnknownKey => "E-UNKNOWN-KEY",
            Code::MissingKey => "E-MISSING-KEY",
            Code::Type => "E-TYPE",
            Code::DuplicateId => "E-DUPLICATE-ID",
            Code::UnknownStep => "E-UNKNOWN-STEP",
            Code::UnknownRole => "E-UNKNOWN-ROLE",
            Code::UnknownDepartment => "E-UNKNOWN-DEPARTMENT",
            Code::UnknownDocument => "E-UNKNOWN-DOCUMENT",
            Code::UnknownTemplate => "E-UNKNOWN-TEMPLATE",
            Code::UnknownParameter => "E-UNKNOWN-PARAMETER",
            Code::Unreachable => "E-UNREACHABLE",
            Code::NoEnd => "E-NO-END",
            Code::JoinWithoutSplit => "E-JOIN-WITHOUT-SPLIT",
            Code::SplitJoin => "E-SPLIT-JOIN",
            Code::Rhai => "E-RHAI",
            Code::Rules => "E-RULES",
            Code::Duration => "E-DURATION",
            Code::Cron => "E-CRON",
            Code::Template => "E-TEMPLATE",
            Code::Field => "E-FIELD",
            Code::Version => "E-VERSION",
            Code::Table => "E-TABLE",
            Code::UnknownTable => "E-UNKNOWN-TABLE",
            Code::Example => "E-EXAMPLE",
            Code::Calendar => "E-CALENDAR",
            Code::UnknownCalendar => "E-UNKNOWN-CALENDAR",
            Code::UnknownAction => "E-UNKNOWN-ACTION",
            Code::System => "E-SYSTEM",
            Code::Escalation => "E-ESCALATION",
            Code::NotSameAs => "E-NOT-SAME-AS",
            Code::Extends => "E-EXTENDS",
        }
    }
}

/// Collects the diagnostics of one definition file (and the files it uses).
///
/// A definition that extends another is read from several YAML files (itself, its base,
/// their example files); a [`Pos`] names its file by number, and the sink turns that
/// number back into the path, so a value is reported where it is written.
#[derive(Debug)]
pub(super) struct Sink {
    /// The YAML files positions may point into; the first is the definition.
    files: Vec<String>,
    /// The definition and the bases it extends, for [`Diagnostic::chain`].
    chain: Vec<String>,
    diagnostics: Vec<Diagnostic>,
}

impl Sink {
    /// The file `pos` is in.
    pub(super) fn file_of(&self, pos: Pos) -> &str {
        self.files
            .get(pos.file)
            .or(self.files.first())
            .map_or("", String::as_str)
    }

    pub(super) fn new(file: &str) -> Self {
        Sink {
            files: vec![file.to_owned()],
            chain: Vec::new(),
            diagnostics: Vec::new(),
        }
    }

    /// Adds a YAML file positions may point into; returns its number for [`Pos::file`].
    pub(super) fn add_file(&mut self, file: &str) -> usize {
        self.files.push(file.to_owned());
        self.files.len() - 1
    }

    /// Sets the chain of definition files every diagnostic names.
    pub(super) fn set_chain(&mut self, chain: Vec<String>) {
        self.chain = chain;
    }

    /// Records a problem in the definition file (or a base or example file, by `pos`).
    pub(super) fn push(
        &mut self,
        pos: Pos,
        code: Code,
        path: &str,
        message: String,
        hint: Option<String>,
    ) {
        let file = self.file_of(pos).to_owned();
        self.push_in(file, pos.line, pos.column, code, path, message, hint);
    }

    /// Records a problem in another file (a rules file or a template).
    #[allow(clippy::too_many_arguments)] // a plain record constructor; a builder would add noise
    pub(super) fn push_in(
        &mut self,
        file: String,
        line: usize,
        column: usize,
        code: Code,
        path: &str,
        message: String,
        hint: Option<String>,
    ) {
        self.diagnostics.push(Diagnostic {
            file,
            line,
            column,
            code: code.as_str(),
            path: path.to_owned(),
            message,
            hint,
            chain: self.chain.clone(),
        });
    }

    /// Whether a problem was already reported at exactly this YAML path.
    pub(super) fn reported(&self, path: &str) -> bool {
        self.diagnostics.iter().any(|d| d.path == path)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// The diagnostics in file order: the definition first, then other files by name.
    pub(super) fn into_vec(mut self) -> Vec<Diagnostic> {
        let mut all = self.diagnostics;
        let own = self.files.swap_remove(0);
        all.sort_by(|a, b| {
            (a.file != own, &a.file, a.line, a.column).cmp(&(
                b.file != own,
                &b.file,
                b.line,
                b.column,
            ))
        });
        all.dedup();
        all
    }
}

/// The closest of `candidates` to `word`, for "是不是想写 …？" hints.
pub(super) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("是不是想写 `{c}`？"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_puts_the_hint_on_its_own_line() {
        let d = Diagnostic {
            file: "p.yaml".into(),
            line: 12,
            column: 7,
            code: "E-UNKNOWN-KEY",
            path: "steps[0].nmae".into(),
            message: "未知的键 `nmae`".into(),
            hint: did_you_mean("nmae", ["id", "name", "type"]),
            chain: Vec::new(),
        };
        assert_eq!(
            d.to_string(),
            "p.yaml:12:7: error[E-UNKNOWN-KEY]: 未知的键 `nmae`\n  = 提示: 是不是想写 `name`？"
        );
    }

    #[test]
    fn no_hint_for_words_far_from_every_candidate() {
        assert_eq!(did_you_mean("zzz", ["id", "name"]), None);
    }
}
