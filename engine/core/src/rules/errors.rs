//! Rhai evaluation errors in words a policy officer reads: which rule function failed,
//! where (file, line, column), and — for the sandbox limits — what probably went wrong.

use rhai::{EvalAltResult, Position};

use super::{MAX_CALL_LEVELS, MAX_OPERATIONS};

/// The error in Chinese, with the chain of rule functions it passed through.
pub(super) fn in_words(error: &EvalAltResult) -> String {
    use EvalAltResult as E;
    match error {
        E::ErrorInFunctionCall(name, source, inner, pos) => {
            let file = if source.is_empty() {
                String::new()
            } else {
                format!("（规则文件 {source}）")
            };
            format!(
                "规则函数 `{name}`{file}{}出错：{}",
                at(*pos)
                    .map(|p| format!("在{p}被调用时"))
                    .unwrap_or_default(),
                in_words(inner)
            )
        }
        // Rhai stops at a limit without unwinding through the rule functions, so the
        // position is the top-level expression's; the expression itself names the rule.
        E::ErrorTooManyOperations(_) => {
            format!("运算次数超过上限（{MAX_OPERATIONS} 次），是不是写了死循环？")
        }
        E::ErrorStackOverflow(_) => {
            format!("函数调用层数超过上限（{MAX_CALL_LEVELS} 层），是不是写了无限递归？")
        }
        // Imports are switched off (no module may be loaded), so any `import` ends here.
        E::ErrorTooManyModules(pos) => with_pos(
            "规则不能导入模块（import），请把需要的函数写在规则文件里".into(),
            *pos,
        ),
        E::ErrorDataTooLarge(what, pos) => with_pos(format!("数据超过大小上限（{what}）"), *pos),
        E::ErrorRuntime(message, pos) => with_pos(message.to_string(), *pos),
        E::ErrorFunctionNotFound(signature, pos) => with_pos(
            format!("没有函数 `{signature}`（函数不存在，或参数的个数、类型不对）"),
            *pos,
        ),
        E::ErrorVariableNotFound(name, pos) => with_pos(
            format!("没有变量 `{name}`（规则函数看不到调用者的变量，请作为参数传入）"),
            *pos,
        ),
        E::ErrorArithmetic(message, pos) => with_pos(format!("算术错误：{message}"), *pos),
        other => {
            let mut message = other.to_string();
            // Rhai appends " (line l, position c)"; ours is added in Chinese instead.
            if let Some(cut) = message.rfind(" (line ") {
                message.truncate(cut);
            }
            with_pos(message, other.position())
        }
    }
}

/// "第 l 行第 c 列", or `None` when Rhai knows no position.
fn at(pos: Position) -> Option<String> {
    let line = pos.line()?;
    Some(match pos.position() {
        Some(column) => format!("第 {line} 行第 {column} 列"),
        None => format!("第 {line} 行"),
    })
}

fn with_pos(message: String, pos: Position) -> String {
    match at(pos) {
        Some(p) => format!("{message}（{p}）"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::rules::{Facts, RuleError, RuleLibrary};
    use serde_json::Map;

    /// Calls `main()` of a rules file and returns the error message, timing the run.
    fn fails(rules: &str) -> (String, Duration) {
        let lib = RuleLibrary::compile([("rules/r.rhai", rules)]).expect("compiles");
        let expr = lib.compile_expr("main()").expect("compiles");
        let empty = Map::new();
        let facts = Facts {
            form: &empty,
            data: &empty,
            params: &empty,
            tables: &empty,
            materials: &[],
            today: chrono::NaiveDate::default(),
        };
        let started = Instant::now();
        let e = expr.eval(&facts).expect_err("must fail");
        assert!(matches!(e, RuleError::Eval { .. }));
        (e.to_string(), started.elapsed())
    }

    #[test]
    fn an_endless_loop_stops_with_a_clear_message() {
        let (e, took) = fails("fn main() { let n = 0; loop { n += 1; } }");
        assert!(
            e.contains("规则 `main()` 运行出错：运算次数超过上限"),
            "{e}"
        );
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    #[test]
    fn endless_recursion_stops_with_a_clear_message() {
        let (e, took) = fails("fn main() { deeper(1) }\nfn deeper(n) { deeper(n + 1) }");
        assert!(
            e.contains("规则 `main()` 运行出错：函数调用层数超过上限"),
            "{e}"
        );
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    #[test]
    fn a_huge_string_stops_with_a_clear_message() {
        let (e, took) = fails("fn main() { let s = \"x\"; loop { s += s; } }");
        assert!(e.contains("数据超过大小上限"), "{e}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        let (e, _) = fails("fn main() { let a = []; a.pad(100000000, 1); a }");
        assert!(e.contains("数据超过大小上限"), "{e}");
    }

    #[test]
    fn errors_name_the_function_and_the_line() {
        let (e, _) = fails("fn main() {\n  let x = 1;\n  x / 0\n}");
        assert!(
            e.contains("规则函数 `main`（规则文件 rules/r.rhai）"),
            "{e}"
        );
        assert!(e.contains("第 3 行"), "{e}");
        let (e, _) = fails("fn main() { form.name }");
        assert!(e.contains("请作为参数传入"), "{e}");
    }
}
