//! The trust store: the publisher keys packages may be signed with, and the
//! development setting that admits unsigned packages. Parsing and checking a
//! pasted key happens on the server only (`crate::server::trust`).

use crate::AppError;
use leptos::prelude::*;
use magflock_types::Millis;
use serde::{Deserialize, Serialize};

/// The setting (in the settings table) that admits unsigned packages; the
/// lifecycle manager reads it as `"true"` / anything else.
pub const ALLOW_UNSIGNED: &str = "allow_unsigned_packages";

/// How far packages signed with a key are trusted. Stored (and sent by forms)
/// as `first_party` / `verified_publisher`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyLevel {
    /// MagFlock's own packages; only owners may trust a key at this level.
    FirstParty,
    /// A third-party publisher an admin vouched for.
    #[default]
    VerifiedPublisher,
}

impl KeyLevel {
    pub const ALL: [KeyLevel; 2] = [KeyLevel::VerifiedPublisher, KeyLevel::FirstParty];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyLevel::FirstParty => "first_party",
            KeyLevel::VerifiedPublisher => "verified_publisher",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            KeyLevel::FirstParty => "First-party",
            KeyLevel::VerifiedPublisher => "Verified publisher",
        }
    }

    /// The level of a stored row; anything but `first_party` is a publisher key
    /// (the lifecycle manager reads rows the same way).
    pub fn from_stored(text: &str) -> KeyLevel {
        if text == "first_party" {
            KeyLevel::FirstParty
        } else {
            KeyLevel::VerifiedPublisher
        }
    }
}

/// One trusted key as the page shows it (the public key itself stays on the server).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedKeyInfo {
    pub key_id: String,
    pub publisher: String,
    pub level: KeyLevel,
    /// The email of the admin who added it; `None` when MagFlock added it at first start.
    pub added_by: Option<String>,
    pub added_at: Millis,
}

/// Everything the Trusted keys page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustOverview {
    /// In publisher, key id order.
    pub keys: Vec<TrustedKeyInfo>,
    /// Development only: unsigned packages may be installed.
    pub allow_unsigned: bool,
}

#[server(endpoint = "list_trusted_keys", output = crate::api::codec::Json)]
pub async fn list_trusted_keys() -> Result<TrustOverview, AppError> {
    crate::server::respond(crate::server::trust::overview().await)
}

/// Trusts the key in `key` (the text of a publisher's `.public.json`) at `level`.
#[server(endpoint = "add_trusted_key", output = crate::api::codec::Json)]
pub async fn add_trusted_key(key: String, level: KeyLevel) -> Result<TrustedKeyInfo, AppError> {
    crate::server::respond(crate::server::trust::add(key, level).await)
}

#[server(endpoint = "remove_trusted_key", output = crate::api::codec::Json)]
pub async fn remove_trusted_key(key_id: String) -> Result<TrustedKeyInfo, AppError> {
    crate::server::respond(crate::server::trust::remove(key_id).await)
}

/// Returns the setting as saved.
#[server(endpoint = "set_allow_unsigned", output = crate::api::codec::Json)]
pub async fn set_allow_unsigned(allow: bool) -> Result<bool, AppError> {
    crate::server::respond(crate::server::trust::set_allow_unsigned(allow).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip_through_their_stored_names() {
        for level in KeyLevel::ALL {
            assert_eq!(KeyLevel::from_stored(level.as_str()), level);
        }
        assert_eq!(KeyLevel::default(), KeyLevel::VerifiedPublisher);
    }
}
