//! Passwords: argon2id with a random salt, stored as a PHC string; and the minimum a new
//! password must meet.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Why a password was refused or could not be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than eight characters.
    #[error("密码至少需要 8 个字符")]
    TooShort,
    /// Too easy to guess (one repeated character, a well-known password, or the user name).
    #[error("密码过于简单，请换一个不易猜到的密码")]
    Weak,
    /// The hasher failed (should not happen with the default parameters).
    #[error("密码无法加密保存")]
    Hash,
}

const COMMON: &[&str] = &[
    "12345678",
    "123456789",
    "1234567890",
    "87654321",
    "password",
    "password1",
    "qwertyui",
    "qwerty123",
    "abcd1234",
    "1qaz2wsx",
    "a1234567",
    "admin123",
    "11111111",
    "88888888",
    "iloveyou",
];

/// Checks a new password: at least 8 characters, not a single repeated character, not a
/// well-known password and not the user name.
///
/// # Errors
/// [`PasswordError::TooShort`] or [`PasswordError::Weak`].
pub fn validate_password(password: &str, username: &str) -> Result<(), PasswordError> {
    if password.chars().count() < 8 {
        return Err(PasswordError::TooShort);
    }
    let lower = password.to_lowercase();
    let mut chars = password.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first)
        || COMMON.contains(&lower.as_str())
        || lower == username.to_lowercase()
    {
        return Err(PasswordError::Weak);
    }
    Ok(())
}

/// Hashes a password with argon2id (default parameters) and a fresh 128-bit salt.
///
/// # Errors
/// [`PasswordError::Hash`].
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| PasswordError::Hash)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::Hash)
}

/// Whether `password` matches the stored PHC string; a malformed string never matches.
/// Slow on purpose (tens of milliseconds): call it off the async threads.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash_password("窗口经办2026").expect("hash");
        let b = hash_password("窗口经办2026").expect("hash");
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salts differ");
        assert!(verify_password("窗口经办2026", &a));
        assert!(!verify_password("窗口经办2025", &a));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert_eq!(validate_password("", "u"), Err(PasswordError::TooShort));
        assert_eq!(
            validate_password("1234567", "u"),
            Err(PasswordError::TooShort)
        );
        assert_eq!(validate_password("12345678", "u"), Err(PasswordError::Weak));
        assert_eq!(
            validate_password("aaaaaaaaaa", "u"),
            Err(PasswordError::Weak)
        );
        assert_eq!(
            validate_password("shebao_clerk", "shebao_clerk"),
            Err(PasswordError::Weak)
        );
        assert_eq!(validate_password("sb-window-7f3k", "u"), Ok(()));
    }
}
