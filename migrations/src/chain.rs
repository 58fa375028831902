//! The hash chain of `history`: what is hashed, and how.
//!
//! This lives with the schema because it is part of it: the migration that added the chain
//! backfilled existing rows with exactly this function, and the engine appends and verifies
//! with it. Changing the encoding would break every stored chain, so it is frozen like a
//! migration.
//!
//! The hash of an entry is the hex SHA-256 of a JSON array holding the entry's fields and
//! the previous entry's hash (`""` for the first entry). Objects are written with sorted
//! keys, because PostgreSQL's `jsonb` does not keep key order; the time is counted in whole
//! microseconds, the precision both backends store.

use serde_json::Value as JsonValue;
use sha2::{Digest, Sha256};

/// The fields of one history entry that the chain protects (everything but the row id).
#[derive(Debug, Clone, Copy)]
pub struct EntryFields<'a> {
    /// The case.
    pub case_id: &'a str,
    /// Number within the case, from 1.
    pub seq: i64,
    /// When, in microseconds since the Unix epoch.
    pub at_micros: i64,
    /// Who.
    pub actor: &'a str,
    /// Their department.
    pub actor_department: Option<&'a str>,
    /// The command.
    pub action: &'a str,
    /// Status before.
    pub from_status: Option<&'a str>,
    /// Steps before.
    pub from_steps: Option<&'a str>,
    /// Status after.
    pub to_status: &'a str,
    /// Steps after.
    pub to_steps: &'a str,
    /// Events raised.
    pub events: &'a JsonValue,
    /// Data that changed.
    pub data_changed: &'a JsonValue,
    /// The absent person a substitute acted for (代办), if any.
    pub on_behalf_of: Option<&'a str>,
}

/// The hash of an entry that follows the entry hashed `prev_hash` (`None` for the first).
pub fn entry_hash(fields: &EntryFields<'_>, prev_hash: Option<&str>) -> String {
    let head = (
        fields.case_id,
        fields.seq,
        fields.at_micros,
        fields.actor,
        fields.actor_department,
        fields.action,
        fields.from_status,
        fields.from_steps,
        fields.to_status,
        fields.to_steps,
    );
    // A tuple is written as a JSON array: its text without the closing bracket opens ours.
    let head = serde_json::to_vec(&head).unwrap_or_default();
    let mut w = Hashing(Sha256::new());
    w.0.update(head.strip_suffix(b"]").unwrap_or(&head));
    for value in [fields.events, fields.data_changed] {
        w.0.update(b",");
        write_sorted(&mut w, value);
    }
    w.0.update(b",");
    write_scalar(&mut w, &prev_hash.unwrap_or(""));
    // Added after the chain was first written (absences): only entries that carry it
    // encode it, last, so every entry without it hashes as it always did.
    if let Some(absent) = fields.on_behalf_of {
        w.0.update(b",");
        write_scalar(&mut w, &absent);
    }
    w.0.update(b"]");
    hex::encode(w.0.finalize())
}

/// The hasher, fed as the JSON text is written: the text is never held whole, and the
/// events and data are not copied to sort their keys (a copy cost the writer more than the
/// hash itself).
struct Hashing(Sha256);

impl std::io::Write for Hashing {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A string, number, boolean or null in compact JSON, as `serde_json` writes it.
fn write_scalar(w: &mut Hashing, value: &impl serde::Serialize) {
    // Writing to a hasher cannot fail, nor can serializing a scalar or a `Value`.
    let _ = serde_json::to_writer(w, value);
}

/// `value` in compact JSON with every object's keys in sorted order.
fn write_sorted(w: &mut Hashing, value: &JsonValue) {
    match value {
        JsonValue::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            write_list(w, b"{", keys, b"}", |w, key| {
                write_scalar(w, key);
                w.0.update(b":");
                write_sorted(w, &map[key]);
            });
        }
        JsonValue::Array(items) => write_list(w, b"[", items, b"]", write_sorted),
        scalar => write_scalar(w, scalar),
    }
}

/// `items` between `open` and `close`, separated by commas, each written by `each`.
fn write_list<I: IntoIterator>(
    w: &mut Hashing,
    open: &[u8],
    items: I,
    close: &[u8],
    mut each: impl FnMut(&mut Hashing, I::Item),
) {
    w.0.update(open);
    for (n, item) in items.into_iter().enumerate() {
        if n > 0 {
            w.0.update(b",");
        }
        each(w, item);
    }
    w.0.update(close);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a: JsonValue = serde_json_from(r#"{"b": 1, "a": {"y": 2, "x": [ {"q": 1, "p": 2} ]}}"#);
        let b: JsonValue = serde_json_from(r#"{"a": {"x": [ {"p": 2, "q": 1} ], "y": 2}, "b": 1}"#);
        let empty = JsonValue::Array(Vec::new());
        let fields = |data| EntryFields {
            case_id: "c",
            seq: 1,
            at_micros: 5,
            actor: "u",
            actor_department: None,
            action: "start",
            from_status: None,
            from_steps: None,
            to_status: "running",
            to_steps: "s",
            events: &empty,
            data_changed: data,
            on_behalf_of: None,
        };
        assert_eq!(entry_hash(&fields(&a), None), entry_hash(&fields(&b), None));
        assert_ne!(
            entry_hash(&fields(&a), None),
            entry_hash(&fields(&a), Some("x"))
        );
    }

    /// The encoding as first written (a sorted copy of the whole array, then its text):
    /// the streamed hash must give the same bytes for every stored chain to verify.
    fn reference_hash(fields: &EntryFields<'_>, prev_hash: Option<&str>) -> String {
        fn sorted(value: &JsonValue) -> JsonValue {
            match value {
                JsonValue::Object(map) => {
                    let mut keys: Vec<&String> = map.keys().collect();
                    keys.sort();
                    JsonValue::Object(
                        keys.into_iter()
                            .map(|k| (k.clone(), sorted(&map[k])))
                            .collect(),
                    )
                }
                JsonValue::Array(items) => JsonValue::Array(items.iter().map(sorted).collect()),
                other => other.clone(),
            }
        }
        let mut encoded = vec![
            JsonValue::from(fields.case_id),
            JsonValue::from(fields.seq),
            JsonValue::from(fields.at_micros),
            JsonValue::from(fields.actor),
            JsonValue::from(fields.actor_department),
            JsonValue::from(fields.action),
            JsonValue::from(fields.from_status),
            JsonValue::from(fields.from_steps),
            JsonValue::from(fields.to_status),
            JsonValue::from(fields.to_steps),
            sorted(fields.events),
            sorted(fields.data_changed),
            JsonValue::from(prev_hash.unwrap_or("")),
        ];
        if let Some(absent) = fields.on_behalf_of {
            encoded.push(JsonValue::from(absent));
        }
        hex::encode(Sha256::digest(
            JsonValue::Array(encoded).to_string().as_bytes(),
        ))
    }

    #[test]
    fn the_streamed_hash_is_the_frozen_encoding() {
        let events = serde_json_from(
            r#"[{"kind": "任务完成", "task": "t\"1\n", "at": 1.5e3, "z": null, "a": [true, -7]}, {}]"#,
        );
        let data = serde_json_from(
            r#"{"身份证号": "110101196501011234", "b": {"y": 0.1, "x": []}, "a": "\u0001 / é"}"#,
        );
        let empty = JsonValue::Array(Vec::new());
        for (events, data, department, from, absent, prev) in [
            (&events, &data, Some("社保"), Some("running"), None, None),
            (&empty, &empty, None, None, Some("李四"), Some("ab12")),
            (&data, &events, Some(""), Some("a,b"), Some(""), Some("")),
        ] {
            let fields = EntryFields {
                case_id: "0193a0c0-0000-7000-8000-000000000001",
                seq: 42,
                at_micros: -1_234_567,
                actor: "张三 \"审核\"",
                actor_department: department,
                action: "complete",
                from_status: from,
                from_steps: from,
                to_status: "ended",
                to_steps: "医保,公积金",
                events,
                data_changed: data,
                on_behalf_of: absent,
            };
            assert_eq!(entry_hash(&fields, prev), reference_hash(&fields, prev));
        }
    }

    fn serde_json_from(text: &str) -> JsonValue {
        text.parse().expect("valid JSON")
    }
}
