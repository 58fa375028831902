//! A definition's rule library: the functions of its `rules:` files, compiled once and
//! merged into every expression of the definition so conditions can call them.

use std::sync::Arc;

use super::{CompileError, Expr, engine};

/// The functions of a definition's rule files, callable from each of its expressions.
#[derive(Debug, Clone, Default)]
pub struct RuleLibrary {
    functions: Arc<rhai::AST>,
}

/// A compile error in a rules file, with its position in that file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct RuleFileError {
    /// Path of the rules file as given.
    pub path: String,
    /// 1-based line (1 when Rhai gives no position).
    pub line: usize,
    /// 1-based column (1 when Rhai gives no position).
    pub column: usize,
    /// What is wrong, in words a policy officer reads.
    pub message: String,
}

impl RuleLibrary {
    /// Compiles rule files given as `(path, text)`; only their function definitions are kept.
    ///
    /// # Errors
    /// One [`RuleFileError`] per file that does not compile (every file is tried).
    pub fn compile<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Vec<RuleFileError>> {
        let mut functions = rhai::AST::empty();
        let mut errors = Vec::new();
        for (path, text) in files {
            match engine().compile(text) {
                Ok(ast) => functions = functions.merge(&ast.clone_functions_only()),
                Err(e) => {
                    let pos = e.position();
                    errors.push(RuleFileError {
                        path: path.to_owned(),
                        line: pos.line().unwrap_or(1),
                        column: pos.position().unwrap_or(1),
                        message: super::in_words(e.err_type()),
                    });
                }
            }
        }
        if errors.is_empty() {
            Ok(RuleLibrary {
                functions: Arc::new(functions),
            })
        } else {
            Err(errors)
        }
    }

    /// Compiles an expression with this library's functions available to it.
    ///
    /// # Errors
    /// A [`CompileError`] with the position inside `source` when it does not parse.
    pub fn compile_expr(&self, source: &str) -> Result<Expr, CompileError> {
        let expr = super::compile_expr(source)?;
        let merged = self.functions.merge(expr.ast());
        Ok(Expr::new(source.to_owned(), Arc::new(merged)))
    }

    /// Names of the library's functions.
    pub fn function_names(&self) -> Vec<String> {
        self.functions
            .iter_functions()
            .map(|f| f.name.to_owned())
            .collect()
    }
}

/// Properties an expression reads from one variable: `params.min_years` or
/// `params["min_years"]` in `source` yields `("min_years", offset)`, where `offset` is the
/// character offset of the property name. Strings and comments are skipped, so a quoted
/// `"params.x"` is not a read.
pub fn property_reads(source: &str, variable: &str) -> Vec<(String, usize)> {
    let chars: Vec<char> = source.chars().collect();
    let mut reads = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '`' || c == '\'' {
            i = skip_quoted(&chars, i);
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
            continue;
        }
        if is_ident_start(c) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let preceded_by_dot =
                start > 0 && chars[..start].iter().rev().find(|c| !c.is_whitespace()) == Some(&'.');
            if word == variable
                && !preceded_by_dot
                && let Some(read) = read_after(&chars, i)
            {
                reads.push(read);
            }
            continue;
        }
        i += 1;
    }
    reads
}

/// After `params`: `.name`, `?.name` or `["name"]`.
fn read_after(chars: &[char], mut i: usize) -> Option<(String, usize)> {
    let skip_ws = |mut i: usize| {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        i
    };
    i = skip_ws(i);
    if chars.get(i) == Some(&'?') {
        i += 1;
    }
    match chars.get(i) {
        Some('.') => {
            let start = skip_ws(i + 1);
            let mut end = start;
            while end < chars.len() && is_ident_char(chars[end]) {
                end += 1;
            }
            (end > start).then(|| (chars[start..end].iter().collect(), start))
        }
        Some('[') => {
            let quote = skip_ws(i + 1);
            if chars.get(quote) != Some(&'"') {
                return None;
            }
            let end = chars[quote + 1..].iter().position(|c| *c == '"')? + quote + 1;
            Some((chars[quote + 1..end].iter().collect(), quote + 1))
        }
        _ => None,
    }
}

fn skip_quoted(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_can_call_rule_functions() {
        let lib = RuleLibrary::compile([("r.rhai", "fn double(x) { x * 2 }")]).expect("compiles");
        let expr = lib.compile_expr("double(params.n) == 4").expect("compiles");
        let params = serde_json::json!({"n": 2});
        let empty = serde_json::Map::new();
        let facts = crate::rules::Facts {
            form: &empty,
            data: &empty,
            params: params.as_object().expect("object"),
            materials: &[],
            today: chrono::NaiveDate::default(),
        };
        assert!(expr.eval_bool(&facts).expect("evaluates"));
        assert_eq!(lib.function_names(), ["double"]);
    }

    #[test]
    fn documented_operators_work() {
        // docs/definitions.zh.md promises these forms to policy officers.
        let lib = RuleLibrary::default();
        let empty = serde_json::Map::new();
        let materials = ["roster".to_owned()];
        let facts = crate::rules::Facts {
            form: &empty,
            data: &empty,
            params: &empty,
            materials: &materials,
            today: chrono::NaiveDate::default(),
        };
        for source in [
            r#""roster" in materials"#,
            "form.missing == ()",
            r#"today == "1970-01-01""#,
        ] {
            let expr = lib.compile_expr(source).expect("compiles");
            assert!(expr.eval_bool(&facts).expect("evaluates"), "{source}");
        }
    }

    #[test]
    fn rule_file_errors_carry_their_position() {
        let errors = RuleLibrary::compile([
            ("ok.rhai", "fn a() { 1 }"),
            ("bad.rhai", "fn b() {\n  1 +\n}"),
        ])
        .expect_err("bad");
        assert_eq!(
            (errors.len(), errors[0].path.as_str(), errors[0].line),
            (1, "bad.rhai", 3)
        );
    }

    #[test]
    fn property_reads_skip_strings_and_comments() {
        let reads = property_reads(
            r#"params.a + params [ "b" ] + "params.c" + x.params.d // params.e"#,
            "params",
        );
        assert_eq!(reads, [("a".to_owned(), 7), ("b".to_owned(), 21)]);
    }
}
