//! Admin accounts as the UI and the store see them (never with a password hash).

use crate::{Millis, Role};
use serde::{Deserialize, Serialize};

/// An admin account. The password hash never leaves the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub created_at: Millis,
    pub last_login_at: Option<Millis>,
    /// Set while the account is disabled; a disabled account cannot sign in and its
    /// sessions stop working.
    pub disabled_at: Option<Millis>,
}

impl User {
    pub fn is_active(&self) -> bool {
        self.disabled_at.is_none()
    }
}

/// What the store needs to create an account.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
}

/// Normalises an email for storage and lookup, and checks its shape.
pub fn normalize_email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.split_once('@').ok_or("Email must contain '@'.")?;
    if local.is_empty()
        || domain.is_empty()
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err("Email must look like name@example.com.");
    }
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("Email contains characters that are not allowed.");
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email(" Ana@Example.COM "),
            Ok("ana@example.com".into())
        );
        assert!(normalize_email("ana").is_err());
        assert!(normalize_email("ana@localhost").is_err());
        assert!(normalize_email("a na@x.io").is_err());
    }
}
