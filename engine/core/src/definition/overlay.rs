//! Overlays: a definition that `extends:` another is its base with the overlay's entries
//! merged in, section by section. The merge works on parsed trees ([`Node`]), before
//! anything is decoded, so every value keeps the file and position it is written at and
//! the rest of the loader checks the merged definition like any other.
//!
//! The rules (also in `docs/definition-format.md`, "Overlays"):
//!
//! - A mapping (`metadata`, `departments`, `roles`, `parameters`, `documents`, `tables`,
//!   `time_limits`, a step's `outcomes` and `on`, …) merges key by key: a key the base has
//!   is merged into (mapping values) or replaced (anything else), a new key is added at the
//!   end, and `key: ~` removes the key.
//! - A list of entries with an identity — `form`, `materials` and `joint_items` by `key`, `steps` and
//!   `schedules` by `id`, a step's `branches` by `to`, `tests` by `name` — merges entry by
//!   entry: an entry whose identity the base has is merged into it in place (an example is
//!   replaced whole), a new entry goes at the end, or where `after: <identity>` /
//!   `before: <identity>` puts it, and `{<identity>: x, remove: true}` removes it.
//! - `rules:` lists are joined, the base's files first, so a county's rules file defines a
//!   function again to override the base's function of that name.
//! - Every other value (texts, numbers, other lists such as `options` or `escalate`, and
//!   data: a parameter's `value`, a table's `data`, a step's `set`, an example's `input`)
//!   is replaced whole.
//! - `id`, `version`, `abstract` and `extends` are the overlay's own and never inherited.

use super::diagnostic::{Code, Sink};
use super::source_map::{Pos, Style};
use super::yaml::{Kind, Node};

/// Keys of the base that an overlay never inherits.
const OWN_KEYS: &[&str] = &["id", "version", "abstract", "extends"];

/// How the entries of the list called `name` are identified, and whether an entry the
/// overlay names again is merged into the base's (`true`) or replaces it.
fn identity(name: &str) -> Option<(&'static str, bool)> {
    match name {
        "form" | "materials" | "joint_items" => Some(("key", true)),
        "steps" | "schedules" => Some(("id", true)),
        "branches" => Some(("to", true)),
        "tests" => Some(("name", false)),
        _ => None,
    }
}

/// Values below these keys are data: an overlay replaces them whole.
fn is_data(name: &str) -> bool {
    matches!(
        name,
        "value" | "data" | "input" | "expect" | "expect_run" | "run" | "set" | "system"
    )
}

/// The definition `overlay` laid over `base`; problems (removing or placing after an entry
/// the base lacks, an entry without its identity) are reported in `sink` at the overlay.
pub(super) fn merge_definition(base: Node, overlay: Node, sink: &mut Sink) -> Node {
    let base = match base.kind {
        Kind::Map(entries) => Node {
            pos: base.pos,
            kind: Kind::Map(
                entries
                    .into_iter()
                    .filter(|(k, _)| !scalar(k).is_some_and(|k| OWN_KEYS.contains(&k)))
                    .collect(),
            ),
        },
        _ => base,
    };
    merge(base, overlay, "", sink)
}

/// Example files (`*.tests.yaml`, each a list of examples): the base's examples, then the
/// overlay's, an example of the same name replacing the base's.
pub(super) fn merge_examples(base: Node, overlay: Node, sink: &mut Sink) -> Node {
    merge(base, overlay, "tests", sink)
}

fn merge(base: Node, overlay: Node, name: &str, sink: &mut Sink) -> Node {
    if is_data(name) {
        return overlay;
    }
    match (base.kind, overlay.kind) {
        (Kind::Map(base), Kind::Map(over)) => Node {
            pos: overlay.pos,
            kind: Kind::Map(merge_map(base, over, sink)),
        },
        (Kind::Seq(mut base), Kind::Seq(over)) if name == "rules" => {
            base.extend(over);
            Node {
                pos: overlay.pos,
                kind: Kind::Seq(base),
            }
        }
        (Kind::Seq(base), Kind::Seq(over)) if identity(name).is_some() => {
            let (key, deep) = identity(name).unwrap_or(("id", true));
            Node {
                pos: overlay.pos,
                kind: Kind::Seq(merge_list(base, over, name, key, deep, sink)),
            }
        }
        (_, kind) => Node {
            pos: overlay.pos,
            kind,
        },
    }
}

fn merge_map(
    mut out: Vec<(Node, Node)>,
    over: Vec<(Node, Node)>,
    sink: &mut Sink,
) -> Vec<(Node, Node)> {
    for (key, value) in over {
        let Some(name) = scalar(&key).map(str::to_owned) else {
            // Not a text key: left for the decoder to report.
            out.push((key, value));
            continue;
        };
        let at = out
            .iter()
            .position(|(k, _)| scalar(k) == Some(name.as_str()));
        if is_removal(&value) {
            match at {
                Some(i) => {
                    out.remove(i);
                }
                None => sink.push(
                    key.pos,
                    Code::Extends,
                    "",
                    format!("要删除的 `{name}` 在基础定义中不存在"),
                    Some("`键: ~` 只用来删除基础定义里已有的键；检查拼写".into()),
                ),
            }
            continue;
        }
        match at {
            Some(i) => {
                let (_, base) = out.remove(i);
                let merged = merge(base, value, &name, sink);
                out.insert(i, (key, merged));
            }
            None => out.push((key, value)),
        }
    }
    out
}

/// What an overlay entry of a keyed list asks for besides its own content.
struct Placement {
    remove: bool,
    after: Option<(String, Pos)>,
    before: Option<(String, Pos)>,
}

fn merge_list(
    mut out: Vec<Node>,
    over: Vec<Node>,
    list: &str,
    key: &str,
    deep: bool,
    sink: &mut Sink,
) -> Vec<Node> {
    for mut entry in over {
        let Some(id) = field(&entry, key).map(str::to_owned) else {
            sink.push(
                entry.pos,
                Code::Extends,
                "",
                format!(
                    "继承的定义里，`{list}` 的每一项都要写 `{key}`，用来找到基础定义里的同一项"
                ),
                Some(format!(
                    "新增的项也要写 `{key}`；删除写 `{{{key}: …, remove: true}}`"
                )),
            );
            continue;
        };
        let placement = take_placement(&mut entry, sink);
        let at = out.iter().position(|n| field(n, key) == Some(id.as_str()));
        if placement.remove {
            match at {
                Some(i) => {
                    out.remove(i);
                }
                None => sink.push(
                    entry.pos,
                    Code::Extends,
                    "",
                    format!("要删除的 `{list}` 项 `{id}` 在基础定义中不存在"),
                    Some(known(&out, key)),
                ),
            }
            continue;
        }
        let merged = match at {
            Some(i) => {
                let base = out.remove(i);
                let merged = if deep {
                    merge(base, entry, list, sink)
                } else {
                    entry
                };
                if placement.after.is_none() && placement.before.is_none() {
                    out.insert(i, merged);
                    continue;
                }
                merged
            }
            None => entry,
        };
        let target = placement
            .after
            .as_ref()
            .map(|t| (t, 1))
            .or(placement.before.as_ref().map(|t| (t, 0)));
        match target {
            None => out.push(merged),
            Some(((name, pos), shift)) => {
                match out
                    .iter()
                    .position(|n| field(n, key) == Some(name.as_str()))
                {
                    Some(i) => out.insert(i + shift, merged),
                    None => {
                        sink.push(
                            *pos,
                            Code::Extends,
                            "",
                            format!("`{list}` 里没有 `{name}` 这一项，无法把 `{id}` 放在它前后"),
                            Some(known(&out, key)),
                        );
                        out.push(merged);
                    }
                }
            }
        }
    }
    out
}

/// Takes `remove`, `after` and `before` out of an overlay entry (they are instructions to
/// the merge, not part of the definition).
fn take_placement(entry: &mut Node, sink: &mut Sink) -> Placement {
    let mut placement = Placement {
        remove: false,
        after: None,
        before: None,
    };
    let Kind::Map(entries) = &mut entry.kind else {
        return placement;
    };
    entries.retain(|(k, v)| match scalar(k) {
        Some("remove") => {
            match scalar(v) {
                Some("true") => placement.remove = true,
                Some("false") => {}
                _ => sink.push(
                    v.pos,
                    Code::Extends,
                    "",
                    "`remove` 只能写 `true`".into(),
                    None,
                ),
            }
            false
        }
        Some(which @ ("after" | "before")) => {
            match scalar(v) {
                Some(name) => {
                    let target = Some((name.to_owned(), v.pos));
                    if which == "after" {
                        placement.after = target;
                    } else {
                        placement.before = target;
                    }
                }
                None => sink.push(
                    v.pos,
                    Code::Extends,
                    "",
                    format!("`{which}` 应当写另一项的标识，例如 `{which}: medical`"),
                    None,
                ),
            }
            false
        }
        _ => true,
    });
    placement
}

fn known(list: &[Node], key: &str) -> String {
    let names: Vec<&str> = list.iter().filter_map(|n| field(n, key)).collect();
    format!("基础定义里有：{}", names.join("、"))
}

/// The text of a scalar node.
fn scalar(node: &Node) -> Option<&str> {
    match &node.kind {
        Kind::Scalar(text, _) => Some(text),
        _ => None,
    }
}

/// The text of `key` in a mapping node.
fn field<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    let Kind::Map(entries) = &node.kind else {
        return None;
    };
    entries
        .iter()
        .find(|(k, _)| scalar(k) == Some(key))
        .and_then(|(_, v)| scalar(v))
}

/// `~` or `null`, written out: the overlay removes the key. An empty value (`key:`) is not
/// a removal, so a forgotten value is reported as such instead of deleting silently.
fn is_removal(node: &Node) -> bool {
    matches!(&node.kind, Kind::Scalar(t, Style::Plain) if matches!(t.as_str(), "~" | "null" | "Null" | "NULL"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::yaml::{parse_tree, to_value};

    fn merged(base: &str, overlay: &str) -> (serde_yaml::Value, Vec<String>) {
        let mut sink = Sink::new("overlay.yaml");
        let b_file = sink.add_file("base.yaml");
        let o = parse_tree(overlay, 0, &mut sink).expect("overlay parses");
        let b = parse_tree(base, b_file, &mut sink).expect("base parses");
        let node = merge_definition(b, o, &mut sink);
        let (value, _) = to_value(&node, &mut sink);
        let errors = sink.into_vec().iter().map(ToString::to_string).collect();
        (value, errors)
    }

    #[test]
    fn maps_merge_by_key_and_tilde_removes() {
        let (v, e) = merged(
            "id: b\nversion: 1\nabstract: true\nparameters:\n  a: {value: 1, source: x}\n  b: {value: 2, source: y}\n",
            "id: o\nversion: 3\nparameters:\n  a: {value: 5}\n  b: ~\n  c: {value: 7, source: z}\n",
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(v["id"], "o");
        assert_eq!(v["version"], 3);
        assert!(v.get("abstract").is_none());
        assert_eq!(v["parameters"]["a"]["value"], 5);
        assert_eq!(v["parameters"]["a"]["source"], "x");
        assert!(v["parameters"].get("b").is_none());
        assert_eq!(v["parameters"]["c"]["value"], 7);
    }

    #[test]
    fn keyed_lists_merge_insert_and_remove() {
        let (v, e) = merged(
            "steps:\n  - {id: a, name: A}\n  - {id: b, name: B}\n  - {id: c, name: C}\nmaterials:\n  - {key: m1}\n  - {key: m2}\n",
            "steps:\n  - {id: b, name: B2}\n  - {id: x, name: X, after: a}\n  - {id: y, name: Y}\nmaterials:\n  - {key: m1, remove: true}\n",
        );
        assert!(e.is_empty(), "{e:?}");
        let ids: Vec<&str> = v["steps"]
            .as_sequence()
            .expect("steps")
            .iter()
            .map(|s| s["id"].as_str().expect("id"))
            .collect();
        assert_eq!(ids, ["a", "x", "b", "c", "y"]);
        assert_eq!(v["steps"][2]["name"], "B2");
        assert!(v["steps"][1].get("after").is_none());
        assert_eq!(v["materials"].as_sequence().expect("materials").len(), 1);
        assert_eq!(v["materials"][0]["key"], "m2");
    }

    #[test]
    fn rules_are_joined_and_data_replaced() {
        let (v, _) = merged(
            "rules: [rules/a.rhai]\nparameters:\n  t: {value: {x: 1, y: 2}}\n",
            "rules: [rules/b.rhai]\nparameters:\n  t: {value: {x: 3}}\n",
        );
        assert_eq!(v["rules"][0], "rules/a.rhai");
        assert_eq!(v["rules"][1], "rules/b.rhai");
        assert!(v["parameters"]["t"]["value"].get("y").is_none());
    }

    #[test]
    fn unknown_targets_are_reported_in_the_overlay() {
        let (_, e) = merged(
            "steps:\n  - {id: a}\nmaterials:\n  - {key: m1}\nparameters: {p: 1}\n",
            "steps:\n  - {id: x, after: nope}\nmaterials:\n  - {key: m9, remove: true}\n  - {name: no key}\nparameters: {q: ~}\n",
        );
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(e.iter().all(|d| d.starts_with("overlay.yaml:")), "{e:?}");
        assert!(
            e[0].contains("overlay.yaml:2:") && e[0].contains("nope"),
            "{e:?}"
        );
    }
}
