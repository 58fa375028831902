//! API keys of departments' own systems: how a key looks and what is kept of it. A key is
//! 256 random bits behind a recognisable prefix; only its SHA-256 is ever stored.

use sha2::{Digest as _, Sha256};

/// The prefix that makes an API key recognisable (in logs, secret scanners, support
/// requests) and tells it apart from the operator's admin token.
pub const API_KEY_PREFIX: &str = "lbk_";

/// A fresh API key: the prefix and 256 random bits, hex encoded.
pub fn new_api_key() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{API_KEY_PREFIX}{}", hex::encode(bytes))
}

/// What the database keeps of an API key: its SHA-256, hex encoded. Looking a key up by
/// this hash compares no secret byte by byte, so the lookup leaks no timing about keys.
pub fn api_key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Whether `name` can name a key: 1 to 64 letters (Chinese characters included), digits,
/// `-`, `_` or `.`, so that it reads plainly as the history's actor `apikey:<name>`
/// (`apikey:一网通办`) with no space, colon or control character to confuse it.
pub fn valid_key_name(name: &str) -> bool {
    (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_random_and_hashed() {
        let key = new_api_key();
        assert!(key.starts_with(API_KEY_PREFIX));
        assert_eq!(key.len(), API_KEY_PREFIX.len() + 64);
        assert_ne!(key, new_api_key());
        assert_eq!(api_key_hash(&key).len(), 64);
        assert_ne!(api_key_hash(&key), key);
    }

    #[test]
    fn names_are_plain() {
        assert!(valid_key_name("yibao-system_1.0"));
        assert!(!valid_key_name(""));
        assert!(valid_key_name("一网通办"));
        assert!(!valid_key_name("一网 通办"));
        assert!(!valid_key_name("apikey:x"));
        assert!(!valid_key_name("a b"));
    }
}
