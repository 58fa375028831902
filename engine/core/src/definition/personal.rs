//! Which of a process's form fields hold personal data, and what lists and searches show of
//! them: the masking itself is [`crate::privacy`]'s.

use serde_json::{Map, Value};

use super::{FieldType, Process};
use crate::privacy::{id_search_key, mask_bank_card, mask_id_number, mask_phone};

impl Process {
    /// A form with every ID-number and phone field of the process masked (for lists, logs and
    /// people who may not see the case in full). Other fields are kept.
    pub fn masked_form(&self, form: &Map<String, Value>) -> Map<String, Value> {
        let mut out = form.clone();
        for field in &self.form {
            let masker: fn(&str) -> String = match field.field_type {
                FieldType::CnId => mask_id_number,
                FieldType::Phone => mask_phone,
                FieldType::BankCard => mask_bank_card,
                _ => continue,
            };
            if let Some(Value::String(text)) = out.get_mut(&field.key) {
                *text = masker(text);
            }
        }
        out
    }

    /// What a case is searched by: the applicant's name (the first text field, trimmed, at
    /// most 128 characters) and [`id_search_key`] of the first ID field.
    pub fn search_keys(&self, form: &Map<String, Value>) -> (Option<String>, Option<String>) {
        let first = |kind| self.first_value(form, kind);
        let name = first(FieldType::Text).map(|n| n.chars().take(128).collect());
        (name, first(FieldType::CnId).map(id_search_key))
    }

    /// The one-line title of a case for lists: the applicant's name (the first text field)
    /// and the masked ID number (the first ID field), e.g. `张三 110105********002X`.
    pub fn case_title(&self, form: &Map<String, Value>) -> Option<String> {
        let first = |kind| self.first_value(form, kind);
        let parts: Vec<String> = [
            first(FieldType::Text).map(str::to_owned),
            first(FieldType::CnId).map(mask_id_number),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    /// The value of the first non-empty field of a kind, trimmed.
    fn first_value<'a>(&self, form: &'a Map<String, Value>, kind: FieldType) -> Option<&'a str> {
        self.form
            .iter()
            .filter(|f| f.field_type == kind)
            .find_map(|f| form.get(&f.key).and_then(Value::as_str))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}
