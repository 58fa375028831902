//! Personal data in lists and logs: ID numbers and phone numbers are masked everywhere but
//! the case page of a user allowed to see the case (`140522********1234`, `138****5678`).
//!
//! This module knows numbers and text only, so the rules host can mask what a rule prints
//! without depending on definitions; which form fields hold personal data is the
//! definition's to say (`Process::masked_form`, `Process::case_title`).

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
