//! A definition's rule library: the functions of its `rules:` files, compiled once and
//! merged into every expression of the definition so conditions can call them.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

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
                Ok(mut ast) => {
                    // Errors inside a rule function then name its file.
                    ast.set_source(path);
                    functions = functions.merge(&ast.clone_functions_only());
                }
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

    /// Functions `source` calls that neither this library nor the engine defines, with the
    /// character offset of each name. Rhai only finds these when the call runs, which for a
    /// rarely taken branch may be months after the definition went live.
    pub fn unknown_calls(&self, source: &str) -> Vec<(String, usize)> {
        let mine = self.function_names();
        super::function_calls(source)
            .into_iter()
            .filter(|(name, _)| {
                !mine.contains(name) && !builtin_functions().contains(name.as_str())
            })
            .collect()
    }

    /// Names of the library's functions.
    pub fn function_names(&self) -> Vec<String> {
        self.functions
            .iter_functions()
            .map(|f| f.name.to_owned())
            .collect()
    }
}

/// Names of every function the sandboxed engine provides.
fn builtin_functions() -> &'static HashSet<String> {
    static NAMES: OnceLock<HashSet<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        engine()
            .gen_fn_signatures(true)
            .iter()
            .filter_map(|signature| {
                signature
                    .split_once('(')
                    .map(|(name, _)| name.trim().to_owned())
            })
            .collect()
    })
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
            tables: &empty,
            materials: &[],
            today: chrono::NaiveDate::default(),
        };
        assert!(expr.eval_bool(&facts).expect("evaluates"));
        assert_eq!(lib.function_names(), ["double"]);
    }

    #[test]
    fn unknown_calls_are_found_and_known_ones_are_not() {
        let lib = RuleLibrary::compile([("r.rhai", "fn eligible(x) { x > 1 }")]).expect("compiles");
        let source = "eligible(1) && contains([1], 1) && to_string(1) != \"\" && elligible(2)";
        assert_eq!(lib.unknown_calls(source), [("elligible".to_owned(), 57)]);
        let host = "ym(a) + ym_text(1) + ym_add(a, 1) + cn_id(b) + luhn(c) + is_blank(d)";
        assert_eq!(lib.unknown_calls(host), []);
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
            tables: &empty,
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
}
