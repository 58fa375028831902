//! Expressions inside the YAML: compiled with the definition's rule library, with Rhai's
//! position inside the expression mapped back to the file (plain, quoted and block
//! scalars), `params.<key>` and `form.<key>` reads checked against the declared parameters
//! and application form fields, and calls checked against the functions that exist.

use crate::rules::{Expr, property_reads};

use super::diagnostic::{Code, did_you_mean};
use super::source_map::{Pos, Span, Style};
use super::validate::Cx;

impl Cx<'_> {
    /// Compiles the expression written at `path`; problems are reported, `None` returned.
    pub(super) fn expr(&mut self, source: &str, path: &str) -> Option<Expr> {
        let span = self.map.span(path);
        let compiled = self.rules.compile_expr(source);
        let mut ok = true;
        if let Err(e) = &compiled {
            let offset = offset_of(source, e.line.unwrap_or(1), e.column.unwrap_or(1));
            self.sink.push(
                locate(self.text_of(span), span, offset),
                Code::Rhai,
                path,
                format!(
                    "表达式 `{}` 写错了：{}",
                    source.split_whitespace().collect::<Vec<_>>().join(" "),
                    e.message
                ),
                Some(
                    "条件写法示例：`form.post != \"灵活就业\"`、`data.eligible && form.joint_fund`"
                        .into(),
                ),
            );
            ok = false;
        }
        if compiled.is_ok() {
            for (name, offset) in self.rules.unknown_calls(source) {
                let known = self.rules.function_names();
                self.sink.push(
                    locate(self.text_of(span), span, offset),
                    Code::Rhai,
                    path,
                    format!("表达式调用了不存在的函数 `{name}`"),
                    did_you_mean(&name, known.iter().map(String::as_str))
                        .or_else(|| Some("函数要在 `rules:` 列出的规则文件里用 `fn` 定义".into())),
                );
                ok = false;
            }
        }
        for (name, offset) in property_reads(source, "params") {
            if !self.params.contains(&name) {
                self.sink.push(
                    locate(self.text_of(span), span, offset),
                    Code::UnknownParameter,
                    path,
                    format!("表达式引用了不存在的参数 `params.{name}`"),
                    did_you_mean(&name, self.params.iter().map(String::as_str))
                        .or_else(|| Some("参数要先在 `parameters:` 里声明".into())),
                );
                ok = false;
            }
        }
        for (name, offset) in property_reads(source, "tables") {
            if !self.tables.contains(&name) {
                self.sink.push(
                    locate(self.text_of(span), span, offset),
                    Code::UnknownTable,
                    path,
                    format!("表达式引用了不存在的表 `tables.{name}`"),
                    did_you_mean(&name, self.tables.iter().map(String::as_str))
                        .or_else(|| Some("表要先在 `tables:` 里定义".into())),
                );
                ok = false;
            }
        }
        for (name, offset) in property_reads(source, "form") {
            if !self.form_keys.contains(&name) {
                self.sink.push(
                    locate(self.text_of(span), span, offset),
                    Code::Field,
                    path,
                    format!("表达式引用了申请表中不存在的字段 `form.{name}`"),
                    did_you_mean(&name, self.form_keys.iter().map(String::as_str))
                        .or_else(|| Some("字段要先在 `form:` 里定义".into())),
                );
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        // Where the expression stands, so a failure while a case runs names the place a
        // policy officer opens (an endless loop in a rule reports no position of its own).
        let at = locate(self.text_of(span), span, 0);
        let origin = format!("{}:{}:{}", self.sink.file_of(at), at.line, at.column);
        compiled.ok().map(|expr| expr.with_origin(origin))
    }
}

/// 1-based (line, column) inside `source` → character offset.
fn offset_of(source: &str, line: usize, column: usize) -> usize {
    let before: usize = source
        .split('\n')
        .take(line.saturating_sub(1))
        .map(|l| l.chars().count() + 1)
        .sum();
    before + column.saturating_sub(1)
}

/// The file position of character `offset` of the scalar whose value starts at `span`.
pub(super) fn locate(text: &str, span: Span, offset: usize) -> Pos {
    match span.style {
        Style::Literal | Style::Folded => locate_block(text, span.value, offset),
        Style::Plain | Style::SingleQuoted | Style::DoubleQuoted => locate_flow(text, span, offset),
        Style::Collection => span.value,
    }
}

/// Flow scalars: walk the raw text, counting the characters each piece decodes to.
fn locate_flow(text: &str, span: Span, offset: usize) -> Pos {
    let mut pos = span.value;
    let mut chars = text.chars().skip(pos.index).peekable();
    let quote = match span.style {
        Style::SingleQuoted => Some('\''),
        Style::DoubleQuoted => Some('"'),
        _ => None,
    };
    let advance = |pos: &mut Pos, c: char| {
        pos.index += 1;
        if c == '\n' {
            pos.line += 1;
            pos.column = 1;
        } else {
            pos.column += 1;
        }
    };
    if let Some(q) = quote
        && chars.peek() == Some(&q)
    {
        chars.next();
        advance(&mut pos, q);
    }
    let mut decoded = 0;
    while decoded < offset {
        let Some(c) = chars.next() else { break };
        advance(&mut pos, c);
        match (quote, c) {
            (Some('\''), '\'') => {
                // `''` is one quote; a lone `'` closes the scalar.
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    advance(&mut pos, '\'');
                } else {
                    break;
                }
            }
            (Some('"'), '\\') => {
                let extra = match chars.next() {
                    Some('x') => 2,
                    Some('u') => 4,
                    Some('U') => 8,
                    _ => 0,
                };
                advance(&mut pos, '\\');
                for _ in 0..extra {
                    if let Some(h) = chars.next() {
                        advance(&mut pos, h);
                    }
                }
            }
            (_, '\n') => {
                // A line break and the next line's indentation fold into one space.
                while let Some(&w) = chars.peek() {
                    if w != ' ' && w != '\t' {
                        break;
                    }
                    chars.next();
                    advance(&mut pos, w);
                }
            }
            _ => {}
        }
        decoded += 1;
    }
    pos
}

/// Block scalars: yaml-rust2 marks the first content character, and every content line is
/// indented alike; each line break decodes to one character (newline or space).
fn locate_block(text: &str, content: Pos, offset: usize) -> Pos {
    let mut lines = text.lines().skip(content.line - 1);
    let indent = content.column - 1;
    let mut line_no = content.line;
    let mut remaining = offset;
    while let Some(line) = lines.next() {
        let width = line.chars().count().saturating_sub(indent);
        if remaining <= width || lines.clone().next().is_none() {
            return Pos {
                line: line_no,
                column: indent + remaining + 1,
                index: 0,
                file: content.file,
            };
        }
        remaining -= width + 1;
        line_no += 1;
    }
    content
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span_of(text: &str, path: &str) -> (Span, crate::definition::source_map::SourceMap) {
        let mut sink = crate::definition::diagnostic::Sink::new("t.yaml");
        let (_, map) = crate::definition::yaml::parse(text, &mut sink).expect("yaml");
        (map.span(path), map)
    }

    fn at(text: &str, path: &str, line: usize, column: usize, source: &str) -> (usize, usize) {
        let (span, _) = span_of(text, path);
        let pos = locate(text, span, offset_of(source, line, column));
        (pos.line, pos.column)
    }

    #[test]
    fn plain_and_quoted_scalars_map_by_column() {
        assert_eq!(
            at("when: form.a >= 3\n", "when", 1, 8, "form.a >= 3"),
            (1, 14)
        );
        assert_eq!(
            at(
                "when: 'form.a == ''x'' + 1'\n",
                "when",
                1,
                17,
                "form.a == 'x' + 1"
            ),
            (1, 26)
        );
        assert_eq!(
            at(
                "when: \"a == \\\"x\\\" + 1\"\n",
                "when",
                1,
                10,
                "a == \"x\" + 1"
            ),
            (1, 19)
        );
    }

    #[test]
    fn block_scalars_map_by_line() {
        let text = "steps:\n  - when: |\n      form.a >= 3 &&\n        form.b ==\n";
        assert_eq!(
            at(text, "steps[0].when", 2, 3, "form.a >= 3 &&\n  form.b =="),
            (4, 9)
        );
        let folded = "when: >\n  a &&\n  b +\n";
        assert_eq!(at(folded, "when", 1, 8, "a && b +"), (3, 5));
    }

    #[test]
    fn multi_line_plain_scalars_fold() {
        let text = "when: form.a &&\n  form.b\n";
        assert_eq!(at(text, "when", 1, 11, "form.a && form.b"), (2, 3));
    }
}
