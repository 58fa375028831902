//! The sandboxed Rhai host: compiles conditions and computed values when a definition loads
//! and evaluates them over case data with every engine limit set. It must not touch files,
//! the network or the clock; `print`/`debug` go to tracing.

use std::sync::Arc;

use chrono::NaiveDate;
use serde_json::{Map, Value};

/// The case data a rule sees: `form`, `data`, `params`, `materials` and `today`.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// Application form values.
    pub form: &'a Map<String, Value>,
    /// Case data written by steps and decisions.
    pub data: &'a Map<String, Value>,
    /// The definition's parameters.
    pub params: &'a Map<String, Value>,
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
}

/// Why a rule failed to evaluate.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// The script raised an error or hit a limit.
    #[error("规则 `{expr}` 运行出错：{message}")]
    Eval {
        /// The expression text.
        expr: String,
        /// The Rhai error, in words.
        message: String,
    },
    /// A condition did not produce true/false.
    #[error("条件 `{expr}` 的结果应为 true/false，实际为 {got}")]
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
        Expr { source, ast }
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
