//! The sandboxed Rhai host: compiles conditions and computed values when a definition loads
//! and evaluates them over case data with every engine limit set. It must not touch files,
//! the network or the clock; `print`/`debug` go to tracing.

use std::sync::Arc;

mod checks;
mod errors;
mod host;
mod library;
mod scan;

pub(crate) use checks::PROVINCES;
pub use checks::{CnId, cn_id, luhn, month_index, month_text};
pub use library::{RuleFileError, RuleLibrary};
pub use scan::{function_calls, property_reads};

use rhai::packages::Package;

use chrono::NaiveDate;
use serde_json::{Map, Value};

/// The case data a rule sees: `form`, `data`, `params`, `tables`, `materials` and `today`.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// Application form values.
    pub form: &'a Map<String, Value>,
    /// Case data written by steps and decisions.
    pub data: &'a Map<String, Value>,
    /// The definition's parameters.
    pub params: &'a Map<String, Value>,
    /// The definition's tables (named data, e.g. bank BIN prefixes) by name.
    pub tables: &'a Map<String, Value>,
    /// Keys of the materials received.
    pub materials: &'a [String],
    /// The current date in the process time zone.
    pub today: NaiveDate,
}

/// A compiled Rhai expression (with the definition's rule functions available).
#[derive(Debug, Clone)]
pub struct Expr {
    source: String,
    ast: Arc<rhai::AST>,
    /// `file:line:col` of the expression in its definition, when compiled from one.
    origin: Option<String>,
}

/// Why a rule failed to evaluate.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// The script raised an error or hit a limit.
    #[error("规则 {expr} 运行出错：{message}")]
    Eval {
        /// The expression text in backticks, with where it is written when known.
        expr: String,
        /// The Rhai error, in words.
        message: String,
    },
    /// A condition did not produce true/false.
    #[error("条件 {expr} 的结果应为 true/false，实际为 {got}")]
    NotBool {
        /// The expression text.
        expr: String,
        /// Type name of what it produced.
        got: String,
    },
}

impl Expr {
    /// Wraps an already compiled AST; used by the compiler in this module.
    pub(crate) fn new(source: String, ast: Arc<rhai::AST>) -> Self {
        Expr {
            source,
            ast,
            origin: None,
        }
    }

    /// The same expression, remembering where the definition wrote it.
    pub(crate) fn with_origin(mut self, origin: String) -> Self {
        self.origin = Some(origin);
        self
    }

    /// `file:line:col` of the expression in its definition, if known.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// How error messages name the expression: its text, and where it is written.
    fn named(&self) -> String {
        match &self.origin {
            Some(at) => format!("`{}`（{at}）", self.source),
            None => format!("`{}`", self.source),
        }
    }

    /// The expression as written in the definition.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The compiled AST.
    pub(crate) fn ast(&self) -> &rhai::AST {
        &self.ast
    }
}

/// A compile error of a Rhai expression, with its position inside the expression text.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    /// What is wrong, in words a policy officer reads.
    pub message: String,
    /// 1-based line inside the expression text, if known.
    pub line: Option<usize>,
    /// 1-based column inside the expression text, if known.
    pub column: Option<usize>,
}

/// Operations one evaluation may perform (see [`engine`]).
const MAX_OPERATIONS: u64 = 1_000_000;
/// How deeply rule functions may call each other.
const MAX_CALL_LEVELS: usize = 32;

/// The sandboxed engine every rule runs on: every limit set, no modules, no file access.
fn engine() -> &'static rhai::Engine {
    static ENGINE: std::sync::OnceLock<rhai::Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut e = rhai::Engine::new_raw();
        e.register_global_module(rhai::packages::StandardPackage::new().as_shared_module());
        // A million operations run in well under a second and leave room for rules that
        // walk a table month by month; an endless loop still stops quickly.
        e.set_max_operations(MAX_OPERATIONS);
        e.set_max_call_levels(MAX_CALL_LEVELS);
        e.set_max_expr_depths(64, 32);
        e.set_max_string_size(64 * 1024);
        e.set_max_array_size(10_000);
        e.set_max_map_size(10_000);
        e.set_max_variables(256);
        e.set_max_functions(512);
        e.set_max_modules(0);
        e.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
        // `eval` would run text built at run time, past the check of which functions a
        // definition calls; rules never need it, so a rules file using it does not compile.
        e.disable_symbol("eval");
        host::register(&mut e);
        // A rule may print a form value; the log gets it masked.
        e.on_print(|s| {
            let s = crate::privacy::mask_text(s);
            tracing::info!(target: "lianban::rules", "{s}");
        });
        e.on_debug(|s, src, pos| {
            let s = crate::privacy::mask_text(s);
            tracing::debug!(target: "lianban::rules", ?src, %pos, "{s}");
        });
        e
    })
}

/// A parse error in words a policy officer reads; the common cases are translated, the
/// rest keep Rhai's own wording.
fn in_words(error: &rhai::ParseErrorType) -> String {
    use rhai::ParseErrorType as E;
    match error {
        E::UnexpectedEOF => "表达式没有写完（是不是少了运算对象或右括号？）".to_owned(),
        E::MissingToken(token, _) => format!("这里缺少 `{token}`"),
        E::UnknownOperator(op) => format!("不认识的运算符 `{op}`"),
        other => other.to_string(),
    }
}

/// Compiles an expression that uses no rule library (conditions in tests, simple values).
///
/// # Errors
/// A [`CompileError`] with the position inside `source` when it does not parse.
pub fn compile_expr(source: &str) -> Result<Expr, CompileError> {
    let ast = engine().compile_expression(source).map_err(|e| {
        let pos = e.position();
        CompileError {
            message: in_words(e.err_type()),
            line: pos.line(),
            column: pos.position(),
        }
    })?;
    Ok(Expr::new(source.to_owned(), Arc::new(ast)))
}

impl Expr {
    /// Evaluates the expression over the facts and converts the result to JSON.
    ///
    /// # Errors
    /// [`RuleError::Eval`] when the script fails or exceeds a limit.
    pub fn eval(&self, facts: &Facts<'_>) -> Result<Value, RuleError> {
        let value = self.eval_dynamic(facts)?;
        rhai::serde::from_dynamic::<Value>(&value).map_err(|e| RuleError::Eval {
            expr: self.named(),
            message: e.to_string(),
        })
    }

    /// Evaluates a condition; `()` (an absent value) counts as false.
    ///
    /// # Errors
    /// [`RuleError::NotBool`] when the result is not a boolean, [`RuleError::Eval`] on failure.
    pub fn eval_bool(&self, facts: &Facts<'_>) -> Result<bool, RuleError> {
        let value = self.eval_dynamic(facts)?;
        // An unanswered question (a missing map property reads as `()`) counts as "no", so
        // `when: form.joint_fund` works before the applicant has ticked anything.
        if value.is_unit() {
            return Ok(false);
        }
        value.as_bool().map_err(|got| RuleError::NotBool {
            expr: self.named(),
            got: got.to_owned(),
        })
    }

    fn eval_dynamic(&self, facts: &Facts<'_>) -> Result<rhai::Dynamic, RuleError> {
        let to_dyn = |v: &Map<String, Value>| {
            rhai::serde::to_dynamic(v).map_err(|e| RuleError::Eval {
                expr: self.named(),
                message: e.to_string(),
            })
        };
        let mut scope = rhai::Scope::new();
        scope.push_constant_dynamic("form", to_dyn(facts.form)?);
        scope.push_constant_dynamic("data", to_dyn(facts.data)?);
        scope.push_constant_dynamic("params", to_dyn(facts.params)?);
        scope.push_constant_dynamic("tables", to_dyn(facts.tables)?);
        let materials: rhai::Array = facts.materials.iter().map(|m| m.clone().into()).collect();
        scope.push_constant("materials", materials);
        scope.push_constant("today", facts.today.format("%Y-%m-%d").to_string());
        engine()
            .eval_ast_with_scope::<rhai::Dynamic>(&mut scope, self.ast())
            .map_err(|e| RuleError::Eval {
                expr: self.named(),
                message: errors::in_words(&e),
            })
    }
}

#[cfg(test)]
mod condition_tests {
    use super::*;

    #[test]
    fn an_absent_answer_is_false_and_a_number_is_an_error() {
        let empty = Map::new();
        let facts = Facts {
            form: &empty,
            data: &empty,
            params: &empty,
            tables: &empty,
            materials: &[],
            today: NaiveDate::from_ymd_opt(2026, 1, 5).expect("date"),
        };
        let absent = compile_expr("form.joint_fund").expect("compiles");
        assert!(!absent.eval_bool(&facts).expect("evaluates"));
        let number = compile_expr("1 + 1").expect("compiles");
        assert!(matches!(
            number.eval_bool(&facts),
            Err(RuleError::NotBool { .. })
        ));
    }
}
