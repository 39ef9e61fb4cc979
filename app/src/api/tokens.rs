//! Personal access tokens from MagUI (the Account page, and the Users page
//! for owners): the twin of MagGate's `/v1/tokens` routes, under the very
//! same rules (`magflock_maggate::tokens`): any role makes, lists and
//! revokes its own tokens; an owner also lists and revokes everyone's. A
//! name is trimmed and 1 to 100 characters, a lifetime 1 to 365 days (90
//! when left empty); a refusal names the field.
//!
//! The secret is in [`create_token`]'s answer only (sent with
//! `Cache-Control: no-store`, never logged, never in a list); a revoke goes
//! through the running gateway's own key cache, so the very next request
//! with the token is refused. Every create and revoke is audited
//! (`api_token.issued`, `api_token.revoked`).

use super::Access;
use crate::AppError;
use leptos::prelude::*;
use magflock_types::{Millis, Role};
use serde::{Deserialize, Serialize};

/// This module's server functions: (path, access).
pub const ENDPOINTS: &[(&str, Access)] = &[
    ("/api/list_my_tokens", Access::AtLeast(Role::Auditor)),
    ("/api/list_all_tokens", Access::AtLeast(Role::Owner)),
    ("/api/create_token", Access::AtLeast(Role::Auditor)),
    ("/api/revoke_token", Access::AtLeast(Role::Auditor)),
];

/// The lifetime a new token gets when none is given (days).
pub const DEFAULT_DAYS: u32 = 90;
/// The longest lifetime (days).
pub const MAX_DAYS: u32 = 365;
/// The longest name (characters).
pub const MAX_NAME_CHARS: usize = 100;

/// Whether a token still works.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    Active,
    Expired,
    Revoked,
}

impl TokenState {
    /// A revoked token is revoked even once past its expiry.
    pub fn of(revoked_at: Option<Millis>, expires_at: Option<Millis>, now: Millis) -> TokenState {
        if revoked_at.is_some() {
            TokenState::Revoked
        } else if expires_at.is_some_and(|at| at <= now) {
            TokenState::Expired
        } else {
            TokenState::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Active => "active",
            TokenState::Expired => "expired",
            TokenState::Revoked => "revoked",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TokenState::Active => "Active",
            TokenState::Expired => "Expired",
            TokenState::Revoked => "Revoked",
        }
    }
}

/// A token as lists show it: its prefix, never the secret or its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    /// The token's first 8 characters.
    pub prefix: String,
    /// The user it acts for.
    pub user_id: String,
    /// That user's email (`None` if the account was deleted).
    pub user_email: Option<String>,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
    /// As of when the list was made.
    pub state: TokenState,
}

/// A token just made: the only answer that holds its secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub token: TokenInfo,
    /// The whole token (`mf_…`): shown once, stored nowhere.
    pub secret: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("token", &self.token)
            .field("secret", &format_args!("{}…", self.token.prefix))
            .finish()
    }
}

/// A token revoked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedToken {
    pub id: String,
    pub name: String,
    pub prefix: String,
    /// False when it had been revoked already.
    pub was_live: bool,
}

/// Your own tokens, newest first.
#[server(endpoint = "list_my_tokens", output = crate::api::codec::Json)]
pub async fn list_my_tokens() -> Result<Vec<TokenInfo>, AppError> {
    crate::server::respond(crate::server::tokens::mine().await)
}

/// Every user's tokens with their emails, newest first (owners only).
#[server(endpoint = "list_all_tokens", output = crate::api::codec::Json)]
pub async fn list_all_tokens() -> Result<Vec<TokenInfo>, AppError> {
    crate::server::respond(crate::server::tokens::everyone().await)
}

/// Makes a token named `name` lasting `days` days (empty: 90).
#[server(endpoint = "create_token", output = crate::api::codec::Json)]
pub async fn create_token(name: String, days: String) -> Result<NewToken, AppError> {
    crate::server::respond(crate::server::tokens::create(name, days).await)
}

/// Revokes token `id`: your own, or (owners) anyone's.
#[server(endpoint = "revoke_token", output = crate::api::codec::Json)]
pub async fn revoke_token(id: String) -> Result<RevokedToken, AppError> {
    crate::server::respond(crate::server::tokens::revoke(id).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_active_until_it_expires_or_is_revoked() {
        assert_eq!(TokenState::of(None, Some(10), 9), TokenState::Active);
        assert_eq!(TokenState::of(None, None, 9), TokenState::Active);
        assert_eq!(TokenState::of(None, Some(10), 10), TokenState::Expired);
        assert_eq!(TokenState::of(Some(5), Some(10), 20), TokenState::Revoked);
    }

    #[test]
    fn a_new_token_never_prints_its_secret() {
        let made = NewToken {
            token: TokenInfo {
                id: "t".into(),
                name: "laptop".into(),
                prefix: "mf_ABCDE".into(),
                user_id: "u".into(),
                user_email: None,
                created_at: 0,
                expires_at: None,
                last_used_at: None,
                revoked_at: None,
                state: TokenState::Active,
            },
            secret: "mf_ABCDESECRETSECRET".into(),
        };
        assert!(!format!("{made:?}").contains("SECRET"));
    }
}
