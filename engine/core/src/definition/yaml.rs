//! YAML text → a tree of positioned nodes, the positions map (`steps[3].outcomes.accept.to`
//! → line/column of key and value) and a `serde_yaml::Value` to decode from. One parser
//! (yaml-rust2's marked events) produces both, so positions and values cannot disagree.
//! Duplicate keys are reported here and the first one is kept, so they do not hide other
//! problems.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::diagnostic::{Code, Sink};
use super::source_map::{Pos, SourceMap, Span, Style, child, item};

fn pos(m: Marker, file: usize) -> Pos {
    // yaml-rust2 counts columns from 0 and lines from 1.
    Pos {
        line: m.line(),
        column: m.col() + 1,
        index: m.index(),
        file,
    }
}

/// One parsed YAML node with where it is written; overlays (`extends:`) merge these trees
/// before they become values, so every merged value keeps its own file and position.
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) pos: Pos,
    pub(super) kind: Kind,
}

/// What a [`Node`] holds.
#[derive(Debug, Clone)]
pub(super) enum Kind {
    Scalar(String, Style),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// Aliases copy their anchor's nodes; this bounds what a "billion laughs" file can cost.
const MAX_NODES: usize = 200_000;

/// Nesting deeper than any definition needs; the tree is walked recursively afterwards.
const MAX_DEPTH: usize = 64;

/// Parses `text` into its value and positions. `None` when the text is not YAML (the
/// diagnostic is in `sink`) or holds no document.
pub(super) fn parse(text: &str, sink: &mut Sink) -> Option<(serde_yaml::Value, SourceMap)> {
    let root = parse_tree(text, 0, sink)?;
    Some(to_value(&root, sink))
}

/// Parses `text`, the YAML file number `file` of the load, into its tree. `None` when the
/// text is not YAML (the diagnostic is in `sink`) or holds no document.
pub(super) fn parse_tree(text: &str, file: usize, sink: &mut Sink) -> Option<Node> {
    match build(text, file) {
        Ok(None) => {
            sink.push(
                Pos {
                    line: 1,
                    column: 1,
                    index: 0,
                    file,
                },
                Code::Yaml,
                "",
                "文件是空的".to_owned(),
                Some("流程定义应当以 `id:`、`version:`、`name:` 等键开头".to_owned()),
            );
            None
        }
        Err((pos, message)) => {
            sink.push(pos, Code::Yaml, "", message, None);
            None
        }
        Ok(Some(root)) => Some(root),
    }
}

/// A (possibly merged) tree → its value and the positions of every path in it.
pub(super) fn to_value(root: &Node, sink: &mut Sink) -> (serde_yaml::Value, SourceMap) {
    let mut map = SourceMap::default();
    let value = convert(root, "", None, &mut map, sink);
    (value, map)
}

fn build(text: &str, file: usize) -> Result<Option<Node>, (Pos, String)> {
    let mut parser = Parser::new_from_str(text);
    let chars: Vec<char> = text.chars().collect();
    // Open collections: the node under construction and, for mappings, a pending key.
    let mut stack: Vec<(Node, Option<Node>)> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut open_anchors: Vec<usize> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    let mut budget = MAX_NODES;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            (
                pos(*e.marker(), file),
                format!("YAML 格式错误：{}", e.info()),
            )
        })?;
        let pos = pos(mark, file);
        let done = match event {
            Event::StreamEnd => return Ok(root),
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err((
                        pos,
                        "一个文件只能写一个流程定义（发现了第二个 `---` 文档）".into(),
                    ));
                }
                None
            }
            Event::Scalar(text, style, anchor, _) => {
                let node = Node {
                    pos,
                    kind: Kind::Scalar(text, style_of(style)),
                };
                if anchor > 0 {
                    anchors.insert(anchor, node.clone());
                }
                Some(node)
            }
            Event::Alias(id) => {
                let node = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| (pos, "别名指向未定义的锚点".to_owned()))?;
                budget = budget
                    .checked_sub(count(&node))
                    .ok_or_else(|| (pos, "别名（`*`）展开后内容过多".to_owned()))?;
                Some(Node { pos, ..node })
            }
            Event::SequenceStart(..) | Event::MappingStart(..) if stack.len() >= MAX_DEPTH => {
                return Err((pos, format!("嵌套超过 {MAX_DEPTH} 层，请检查缩进和括号")));
            }
            Event::SequenceStart(anchor, _) => {
                open_anchors.push(anchor);
                stack.push((
                    Node {
                        pos,
                        kind: Kind::Seq(Vec::new()),
                    },
                    None,
                ));
                None
            }
            Event::MappingStart(anchor, _) => {
                open_anchors.push(anchor);
                stack.push((
                    Node {
                        pos,
                        kind: Kind::Map(Vec::new()),
                    },
                    None,
                ));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let anchor = open_anchors.pop().unwrap_or(0);
                let mut node = stack.pop().map(|(n, _)| n);
                // yaml-rust2 marks a block mapping at its first `:`; people look for the first key.
                if let Some(Node {
                    pos,
                    kind: Kind::Map(entries),
                }) = &mut node
                    && let Some((first, _)) = entries.first()
                    && chars.get(pos.index) != Some(&'{')
                {
                    *pos = first.pos;
                }
                if let (Some(n), true) = (&node, anchor > 0) {
                    anchors.insert(anchor, n.clone());
                }
                node
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => None,
        };
        let Some(node) = done else { continue };
        budget = budget.saturating_sub(1);
        match stack.last_mut() {
            None => root = Some(node),
            Some((
                Node {
                    kind: Kind::Seq(items),
                    ..
                },
                _,
            )) => items.push(node),
            Some((
                Node {
                    kind: Kind::Map(entries),
                    ..
                },
                pending,
            )) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => entries.push((key, node)),
            },
            Some((
                Node {
                    kind: Kind::Scalar(..),
                    ..
                },
                _,
            )) => {}
        }
    }
}

fn count(node: &Node) -> usize {
    match &node.kind {
        Kind::Scalar(..) => 1,
        Kind::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        Kind::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count(k) + count(v))
                .sum::<usize>()
        }
    }
}

fn style_of(style: TScalarStyle) -> Style {
    match style {
        TScalarStyle::Plain => Style::Plain,
        TScalarStyle::SingleQuoted => Style::SingleQuoted,
        TScalarStyle::DoubleQuoted => Style::DoubleQuoted,
        TScalarStyle::Literal => Style::Literal,
        TScalarStyle::Folded => Style::Folded,
    }
}

fn convert(
    node: &Node,
    path: &str,
    key: Option<Pos>,
    map: &mut SourceMap,
    sink: &mut Sink,
) -> serde_yaml::Value {
    use serde_yaml::Value;
    let style = match &node.kind {
        Kind::Scalar(_, style) => *style,
        _ => Style::Collection,
    };
    map.spans.insert(
        path.to_owned(),
        Span {
            key,
            value: node.pos,
            style,
        },
    );
    match &node.kind {
        Kind::Scalar(text, Style::Plain) => resolve_plain(text),
        Kind::Scalar(text, _) => Value::String(text.clone()),
        Kind::Seq(items) => Value::Sequence(
            items
                .iter()
                .enumerate()
                .map(|(i, n)| convert(n, &item(path, i), None, map, sink))
                .collect(),
        ),
        Kind::Map(entries) => {
            let mut out = serde_yaml::Mapping::new();
            for (k, v) in entries {
                let Kind::Scalar(name, _) = &k.kind else {
                    sink.push(k.pos, Code::Type, path, "键必须是一段文字".into(), None);
                    continue;
                };
                let key_value = Value::String(name.clone());
                if out.contains_key(&key_value) {
                    let first = map.key_pos(&child(path, name)).line;
                    sink.push(
                        k.pos,
                        Code::DuplicateId,
                        path,
                        format!("键 `{name}` 重复出现（第 {first} 行已经写过）"),
                        Some("删除或改名其中一个".into()),
                    );
                    continue;
                }
                let value = convert(v, &child(path, name), Some(k.pos), map, sink);
                out.insert(key_value, value);
            }
            Value::Mapping(out)
        }
    }
}

/// Resolves a plain scalar the YAML 1.2 core-schema way: null, booleans, numbers, else text.
fn resolve_plain(text: &str) -> serde_yaml::Value {
    use serde_yaml::Value;
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | "+.inf" | ".Inf" | ".INF" => return Value::Number(f64::INFINITY.into()),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Number(f64::NEG_INFINITY.into()),
        ".nan" | ".NaN" | ".NAN" => return Value::Number(f64::NAN.into()),
        _ => {}
    }
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = text.parse::<i64>() {
            return Value::Number(n.into());
        }
        if let Ok(n) = text.parse::<u64>() {
            return Value::Number(n.into());
        }
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(n) = i64::from_str_radix(hex, 16)
    {
        return Value::Number(n.into());
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(n) = i64::from_str_radix(oct, 8)
    {
        return Value::Number(n.into());
    }
    let looks_float = digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && digits.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if looks_float && let Ok(f) = text.parse::<f64>() {
        return Value::Number(f.into());
    }
    Value::String(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> (serde_yaml::Value, SourceMap, Sink) {
        let mut sink = Sink::new("t.yaml");
        let (v, m) = parse(text, &mut sink).expect("parses");
        (v, m, sink)
    }

    #[test]
    fn positions_are_one_based_for_keys_and_values() {
        let (_, map, _) = parse_ok("id: a\nsteps:\n  - id: x\n    to: 'y'\n");
        let s = map.span("steps[0].to");
        assert_eq!(s.key.map(|p| (p.line, p.column)), Some((4, 5)));
        assert_eq!((s.value.line, s.value.column), (4, 9));
        assert_eq!(s.style, Style::SingleQuoted);
        assert_eq!(map.key_pos("steps[0].missing").line, 3);
    }

    #[test]
    fn plain_scalars_resolve_like_yaml() {
        let (v, _, _) = parse_ok("a: 1\nb: 0356-4228486\nc: true\nd: 1.5\ne: ~\nf: '1'\n");
        assert_eq!(v["a"], serde_yaml::Value::Number(1.into()));
        assert_eq!(v["b"], serde_yaml::Value::String("0356-4228486".into()));
        assert_eq!(v["c"], serde_yaml::Value::Bool(true));
        assert_eq!(v["d"], serde_yaml::Value::Number(1.5.into()));
        assert_eq!(v["e"], serde_yaml::Value::Null);
        assert_eq!(v["f"], serde_yaml::Value::String("1".into()));
    }

    #[test]
    fn duplicate_keys_are_reported_and_the_first_kept() {
        let (v, _, sink) = parse_ok("a: 1\nb: 2\na: 3\n");
        assert_eq!(v["a"], serde_yaml::Value::Number(1.into()));
        let d = sink.into_vec();
        assert_eq!(
            (d[0].line, d[0].column, d[0].code),
            (3, 1, "E-DUPLICATE-ID")
        );
    }

    #[test]
    fn syntax_errors_and_empty_files_are_diagnostics() {
        for text in ["a: [1, 2\n", "", "a: 1\n---\nb: 2\n", "a: *nothing\n"] {
            let mut sink = Sink::new("t.yaml");
            assert!(parse(text, &mut sink).is_none(), "{text}");
            assert_eq!(sink.into_vec()[0].code, "E-YAML");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let text = format!("a: {}{}", "[".repeat(10_000), "]".repeat(10_000));
        let mut sink = Sink::new("t.yaml");
        assert!(parse(&text, &mut sink).is_none());
        assert_eq!(sink.into_vec()[0].code, "E-YAML");
    }

    #[test]
    fn aliases_are_bounded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let mut sink = Sink::new("t.yaml");
        assert!(parse(&text, &mut sink).is_none());
    }
}
