//! `tables:`: named data for rules, written inline (`data:`) or in a YAML file next to the
//! definition (`file:`). A table file is part of the version: it joins the sources and the
//! content hash like a rules file.

use indexmap::IndexMap;

use super::diagnostic::{Code, Sink};
use super::model::{SourceFile, Table};
use super::raw::RawTable;
use super::source_map::{SourceMap, child};

/// Builds the tables; `fetch` returns a file by its path relative to the directory of the
/// file (by [`super::source_map::Pos::file`]) where the name is written. Returns the tables
/// and the table files read.
pub(super) fn tables(
    raw: IndexMap<String, RawTable>,
    map: &SourceMap,
    sink: &mut Sink,
    fetch: &dyn Fn(usize, &str) -> Option<SourceFile>,
) -> (IndexMap<String, Table>, Vec<SourceFile>) {
    let mut files: Vec<SourceFile> = Vec::new();
    let mut out = IndexMap::new();
    for (key, t) in raw {
        let path = child("tables", &key);
        let source = t.source.unwrap_or_else(|| {
            let message = format!("表 `{key}` 缺少必填的键 `source`");
            let hint = "写明数据的来源，例如 `source: 各银行公开的借记卡 BIN 号段（本地整理）`";
            sink.push(
                map.value_pos(&path),
                Code::MissingKey,
                &path,
                message,
                Some(hint.into()),
            );
            String::new()
        });
        let data = match (t.data, &t.file) {
            (Some(data), None) => data,
            (None, Some(rel)) if super::load::leaves_definition_dir(rel) => {
                let at = child(&path, "file");
                sink.push(
                    map.value_pos(&at),
                    Code::Table,
                    &at,
                    format!("表 `{key}` 的数据文件 `{rel}` 不在本定义文件所在的目录内"),
                    Some("只能引用本定义目录下的文件，不能写绝对路径或 `..`".into()),
                );
                serde_json::Value::Null
            }
            (None, Some(rel)) => {
                let at = child(&path, "file");
                match fetch(map.value_pos(&at).file, rel) {
                    Some(file) => {
                        let data = parse_file(&file, &at, sink);
                        if !files.iter().any(|f| f.path == file.path) {
                            files.push(file);
                        }
                        data
                    }
                    None => {
                        sink.push(
                            map.value_pos(&at),
                            Code::Table,
                            &at,
                            format!("表 `{key}` 的数据文件 `{rel}` 不存在"),
                            Some(
                                "路径相对于本定义文件所在的目录，例如 `data/bank_bins.yaml`".into(),
                            ),
                        );
                        serde_json::Value::Null
                    }
                }
            }
            (data, _) => {
                let message = if data.is_some() {
                    format!("表 `{key}` 的 `data` 和 `file` 只能写一个")
                } else {
                    format!("表 `{key}` 需要 `data`（直接写数据）或 `file`（数据文件）")
                };
                let hint = "例如 `data: {\"622202\": 工商银行}` 或 `file: data/bank_bins.yaml`";
                sink.push(
                    map.value_pos(&path),
                    Code::Table,
                    &path,
                    message,
                    Some(hint.into()),
                );
                serde_json::Value::Null
            }
        };
        out.insert(
            key.clone(),
            Table {
                key,
                source,
                file: t.file,
                data,
            },
        );
    }
    (out, files)
}

/// Reads a table file's YAML; a problem is reported at its position in that file.
fn parse_file(file: &SourceFile, path: &str, sink: &mut Sink) -> serde_json::Value {
    serde_yaml::from_str(&file.text).unwrap_or_else(|e: serde_yaml::Error| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        let message = format!("表数据文件不是有效的 YAML：{e}");
        sink.push_in(
            file.path.clone(),
            line,
            column,
            Code::Table,
            path,
            message,
            None,
        );
        serde_json::Value::Null
    })
}
