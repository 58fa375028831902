//! Personal data in lists and logs: ID numbers and phone numbers are masked everywhere but
//! the case page of a user allowed to see the case (`140522********1234`, `138****5678`).

use serde_json::{Map, Value};

use crate::definition::{FieldType, Process};

/// Masks a resident ID number: the first six (the region) and the last four characters
/// stay, everything between becomes `*`. Short values are masked whole.
pub fn mask_id_number(id: &str) -> String {
    mask(id, 6, 4)
}

/// Masks a phone number: the first three and the last four digits stay
/// (`13812345678` → `138****5678`). Short values are masked whole.
pub fn mask_phone(phone: &str) -> String {
    mask(phone, 3, 4)
}

fn mask(value: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = value.trim().chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..head].iter().collect();
    out.extend(std::iter::repeat_n('*', chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// A form with every ID-number and phone field of the process masked (for lists, logs and
/// people who may not see the case in full). Other fields are kept.
pub fn masked_form(process: &Process, form: &Map<String, Value>) -> Map<String, Value> {
    let mut out = form.clone();
    for field in &process.form {
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

/// Masks a bank card number, keeping the last four digits.
pub fn mask_bank_card(card: &str) -> String {
    mask(card, 0, 4)
}

/// Free text (a log line, an error chain, a name typed into the login form) with every
/// number that looks like personal data masked: 15 or 18 character ID numbers, 11 digit
/// mobile numbers starting with 1, and 16 to 19 digit card numbers. Only whole numbers
/// count (not digits inside a longer word such as a UUID), so ids in logs stay readable.
pub fn mask_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        if !(chars[i].is_ascii_digit() && starts_word) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let mut end = i;
        while end < chars.len() && chars[end].is_ascii_digit() {
            end += 1;
        }
        // The check character of an ID number may be X.
        if end - i == 17 && chars.get(end).is_some_and(|c| matches!(c, 'X' | 'x')) {
            end += 1;
        }
        let ends_word = chars.get(end).is_none_or(|c| !c.is_ascii_alphanumeric());
        let number: String = chars[i..end].iter().collect();
        let masked = match number.len() {
            _ if !ends_word => number,
            15 | 18 => mask_id_number(&number),
            11 if number.starts_with('1') => mask_phone(&number),
            16..=19 => mask_bank_card(&number),
            n if n > 19 => mask(&number, 0, 4),
            _ => number,
        };
        out.push_str(&masked);
        i = end;
    }
    out
}

/// The key an ID number is searched by: the SHA-256 (hex) of the number trimmed and with
/// a lower-case check character `x` made upper-case. Kept next to the case so that a search
/// by ID number is an index lookup; it reveals nothing the row's state does not hold.
pub fn id_search_key(id: &str) -> String {
    use sha2::{Digest as _, Sha256};
    hex::encode(Sha256::digest(id.trim().to_uppercase().as_bytes()))
}

/// What a case is searched by: the applicant's name (the first text field, trimmed, at
/// most 128 characters) and [`id_search_key`] of the first ID field.
pub fn search_keys(
    process: &Process,
    form: &Map<String, Value>,
) -> (Option<String>, Option<String>) {
    let first = |kind: FieldType| {
        process
            .form
            .iter()
            .filter(|f| f.field_type == kind)
            .find_map(|f| form.get(&f.key).and_then(Value::as_str))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let name = first(FieldType::Text).map(|n| n.chars().take(128).collect());
    (name, first(FieldType::CnId).map(id_search_key))
}

/// The one-line title of a case for lists: the applicant's name (the first text field)
/// and the masked ID number (the first ID field), e.g. `张三 110105********002X`.
pub fn case_title(process: &Process, form: &Map<String, Value>) -> Option<String> {
    let first = |kind: FieldType| {
        process
            .form
            .iter()
            .filter(|f| f.field_type == kind)
            .find_map(|f| form.get(&f.key).and_then(Value::as_str))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let parts: Vec<String> = [
        first(FieldType::Text).map(str::to_owned),
        first(FieldType::CnId).map(mask_id_number),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_loses_whole_numbers_only() {
        assert_eq!(
            super::mask_text("user=140522196412150317 phone 13935600000, id 11010519491231002X"),
            "user=140522********0317 phone 139****0000, id 110105********002X"
        );
        assert_eq!(
            super::mask_text("card 6222021234567890123 at 2026-11-29 tel 0356-4223292"),
            "card ***************0123 at 2026-11-29 tel 0356-4223292"
        );
        let uuid = "019ad3c1-2b7e-7c11-9e3f-139356000001";
        assert_eq!(super::mask_text(uuid), uuid);
        assert_eq!(super::mask_text("第12345678901号"), "第123****8901号");
    }

    #[test]
    fn masks_keep_the_ends() {
        assert_eq!(mask_id_number("140522196001011234"), "140522********1234");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_bank_card("6222020200112233445"), "***************3445");
        assert_eq!(mask_phone("123"), "***");
    }
}
