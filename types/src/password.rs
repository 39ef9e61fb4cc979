//! The password strength rule.
//!
//! Guarantees: one rule, applied by the browser for instant feedback and by the
//! server before any hash is stored. A password passes when it is 12 to 256
//! characters long, uses at least three kinds of characters (lower case, upper
//! case, digits, symbols) or is at least 20 characters long (a passphrase), is
//! not one of a list of widely leaked passwords, and does not contain the
//! account's email name or display name.

use std::fmt;

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 256;
pub const PASSPHRASE_LEN: usize = 20;

/// Passwords that lead every leaked-password list; a long password built from one
/// of them is still refused.
const COMMON: &[&str] = &[
    "password",
    "123456789",
    "qwertyuiop",
    "letmein",
    "iloveyou",
    "administrator",
    "welcome",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "monkey",
    "dragon",
    "trustno1",
    "magflock",
    "changeme",
    "abc123",
    "passw0rd",
    "qwerty123",
    "1q2w3e4r",
];

/// Why a password was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordProblem {
    TooShort,
    TooLong,
    TooFewKinds,
    Common,
    ContainsIdentity,
}

impl fmt::Display for PasswordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordProblem::TooShort => {
                write!(f, "Password must be at least {MIN_LEN} characters long.")
            }
            PasswordProblem::TooLong => {
                write!(f, "Password must be at most {MAX_LEN} characters long.")
            }
            PasswordProblem::TooFewKinds => write!(
                f,
                "Password must mix at least three of: lower case, upper case, digits, symbols \
                 (or be a passphrase of {PASSPHRASE_LEN}+ characters)."
            ),
            PasswordProblem::Common => {
                write!(
                    f,
                    "Password is too common; choose one that is not on leaked-password lists."
                )
            }
            PasswordProblem::ContainsIdentity => {
                write!(
                    f,
                    "Password must not contain your email name or display name."
                )
            }
        }
    }
}

/// Checks `password` for the account identified by `email` and `display_name`.
pub fn check_password(
    password: &str,
    email: &str,
    display_name: &str,
) -> Result<(), PasswordProblem> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(PasswordProblem::TooShort);
    }
    if len > MAX_LEN {
        return Err(PasswordProblem::TooLong);
    }
    let lower = password.to_lowercase();
    let squashed: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
    if COMMON
        .iter()
        .any(|c| squashed.contains(c) && squashed.len() < c.len() + 6)
    {
        return Err(PasswordProblem::Common);
    }
    let identities = [
        email.split('@').next().unwrap_or("").to_lowercase(),
        display_name.to_lowercase(),
    ];
    if identities
        .iter()
        .any(|id| id.chars().count() >= 4 && lower.contains(id.as_str()))
    {
        return Err(PasswordProblem::ContainsIdentity);
    }
    let kinds = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|k| **k)
    .count();
    if kinds < 3 && len < PASSPHRASE_LEN {
        return Err(PasswordProblem::TooFewKinds);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_strong_and_passphrases() {
        assert_eq!(
            check_password("Tr0ub4dor&3-x", "ana@example.com", "Ana"),
            Ok(())
        );
        assert_eq!(
            check_password("correct horse battery staple", "ana@example.com", "Ana"),
            Ok(())
        );
    }

    #[test]
    fn refuses_each_problem() {
        assert_eq!(
            check_password("Sh0rt!", "a@b.c", "A"),
            Err(PasswordProblem::TooShort)
        );
        assert_eq!(
            check_password(&"Aa1!".repeat(70), "a@b.c", "A"),
            Err(PasswordProblem::TooLong)
        );
        assert_eq!(
            check_password("alllowercase", "a@b.c", "A"),
            Err(PasswordProblem::TooFewKinds)
        );
        assert_eq!(
            check_password("Password123!", "a@b.c", "A"),
            Err(PasswordProblem::Common)
        );
        assert_eq!(
            check_password("Xx-jsmith-2026", "jsmith@corp.io", "J"),
            Err(PasswordProblem::ContainsIdentity)
        );
    }
}
