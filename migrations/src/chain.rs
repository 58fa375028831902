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
    // Added after the chain was first written (absences): only entries that carry it
    // encode it, last, so every entry without it hashes as it always did.
    if let Some(absent) = fields.on_behalf_of {
        encoded.push(JsonValue::from(absent));
    }
    let encoded = JsonValue::Array(encoded);
    // Serializing a Value cannot fail (its keys are strings).
    let text = encoded.to_string();
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The value with every object's keys in sorted order.
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

    fn serde_json_from(text: &str) -> JsonValue {
        text.parse().expect("valid JSON")
    }
}
