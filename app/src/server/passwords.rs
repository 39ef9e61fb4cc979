//! Password hashing with argon2id (the `argon2` crate's defaults: 19 MiB, 2
//! passes). Guarantees: hashes are salted PHC strings; verification of a
//! malformed hash fails closed; [`verify_nothing`] costs what a real
//! verification costs, so a sign-in for an unknown email takes as long as one
//! for a known email.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use std::sync::OnceLock;

pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

pub fn verify(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Spends the time of one verification against a throwaway hash.
pub fn verify_nothing(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("not-a-real-password-0").unwrap_or_default());
    let _ = verify(password, dummy);
}

/// Runs the (CPU-heavy) hash off the async workers.
pub async fn hash_blocking(password: String) -> Result<String, crate::AppError> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(crate::AppError::internal)?
        .map_err(crate::AppError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("Correct-Horse-9").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("Correct-Horse-9", &h));
        assert!(!verify("correct-horse-9", &h));
        assert!(!verify("x", "not a hash"));
    }
}
