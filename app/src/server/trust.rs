//! The trust store from MagUI: listing, adding and removing publisher keys, and
//! the development setting that admits unsigned packages.
//!
//! Guarantees: a pasted key is parsed and checked here (its kind, its public
//! key, and that its key id is the key's fingerprint) before anything is
//! stored; trusting a key at the first-party level needs an owner, and so does
//! admitting unsigned packages; each change is audited (`trust.key_added`,
//! `trust.key_removed`, `settings.updated`) with the key id, publisher and level
//! and never with anything else the admin pasted. The lifecycle manager reads
//! the store fresh for every decision, so a change applies to the next install.

use super::audit::record;
use super::guard::{ctx, require};
use crate::AppError;
use crate::api::trust::{ALLOW_UNSIGNED, KeyLevel, TrustOverview, TrustedKeyInfo};
use magflock_package::{PublicKeyFile, SignatureLevel, TrustedKey};
use magflock_store::TrustedKeyRow;
use magflock_types::{Outcome, Role};

/// A `.public.json` is about 250 bytes; anything far larger is not one.
const MAX_KEY_TEXT: usize = 4096;
const MAX_PUBLISHER_CHARS: usize = 128;

fn info(row: TrustedKeyRow) -> TrustedKeyInfo {
    TrustedKeyInfo {
        level: KeyLevel::from_stored(&row.level),
        key_id: row.key_id,
        publisher: row.publisher,
        added_by: row.added_by,
        added_at: row.added_at,
    }
}

fn invalid_key(problem: impl std::fmt::Display) -> AppError {
    AppError::invalid("key", format!("key: {problem}"))
}

/// Parses and checks the text of a publisher's `.public.json`. Errors name the
/// `key` field and say what is wrong (never echoing a secret key back).
pub fn parse_public_key(text: &str, level: KeyLevel) -> Result<TrustedKey, AppError> {
    // Editors on some systems save JSON with a byte-order mark.
    let text = text.trim().trim_start_matches('\u{feff}').trim_start();
    if text.is_empty() {
        return Err(invalid_key(
            "paste the contents of the publisher's .public.json file",
        ));
    }
    if text.len() > MAX_KEY_TEXT {
        return Err(invalid_key(format!(
            "too long for a public key file (at most {MAX_KEY_TEXT} bytes)"
        )));
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Eof => invalid_key(format!(
                "the JSON ends early at line {} column {}; paste the whole file",
                e.line(),
                e.column()
            )),
            _ => invalid_key(format!(
                "not valid JSON at line {} column {}",
                e.line(),
                e.column()
            )),
        }
    })?;
    let Some(object) = value.as_object() else {
        return Err(invalid_key(
            "expected a JSON object with kind, publisher, key_id and public",
        ));
    };
    if object.contains_key("secret") {
        return Err(invalid_key(
            "this is a secret key file; paste the .public.json instead, and keep the secret key private",
        ));
    }
    let file: PublicKeyFile = serde_json::from_value(value).map_err(invalid_key)?;
    let publisher = file.publisher.trim();
    if publisher.is_empty() {
        return Err(invalid_key("publisher is empty"));
    }
    if publisher.chars().count() > MAX_PUBLISHER_CHARS || publisher.chars().any(char::is_control) {
        return Err(invalid_key(format!(
            "publisher must be at most {MAX_PUBLISHER_CHARS} characters, without control characters"
        )));
    }
    let level = match level {
        KeyLevel::FirstParty => SignatureLevel::FirstParty,
        KeyLevel::VerifiedPublisher => SignatureLevel::VerifiedPublisher,
    };
    TrustedKey::from_file(&file, level).map_err(invalid_key)
}

/// Whether the development setting admits unsigned packages (the one place
/// that reads it; the lifecycle's trust source asks here too).
pub async fn allow_unsigned_now(
    store: &dyn magflock_store::Store,
) -> Result<bool, magflock_store::StoreError> {
    Ok(store
        .settings_all()
        .await?
        .iter()
        .any(|(key, value)| key == ALLOW_UNSIGNED && value == "true"))
}

pub async fn overview() -> Result<TrustOverview, AppError> {
    require(Role::Auditor).await?;
    let ctx = ctx()?;
    let keys = ctx
        .store
        .trusted_keys()
        .await?
        .into_iter()
        .map(info)
        .collect();
    Ok(TrustOverview {
        keys,
        allow_unsigned: allow_unsigned_now(ctx.store.as_ref()).await?,
    })
}

pub async fn add(text: String, level: KeyLevel) -> Result<TrustedKeyInfo, AppError> {
    let caller = require(Role::Admin).await?;
    if level == KeyLevel::FirstParty {
        // Refused (and audited as a denied permission) for anyone below owner.
        require(Role::Owner).await?;
    }
    let key = parse_public_key(&text, level)?;
    let key_id = key.key_id();
    let ctx = ctx()?;
    if let Some(existing) = ctx
        .store
        .trusted_keys()
        .await?
        .into_iter()
        .find(|row| row.key_id == key_id)
    {
        return Err(AppError::Conflict(format!(
            "This key is already trusted: {} (key {key_id}) as {}. To change its level, remove it and add it again.",
            existing.publisher,
            KeyLevel::from_stored(&existing.level).label()
        )));
    }
    let row = ctx
        .store
        .trusted_key_add(&TrustedKeyRow {
            key_id: key_id.clone(),
            publisher: key.publisher.trim().to_string(),
            public_key: key.public_hex(),
            level: level.as_str().to_string(),
            added_by: Some(caller.user.email.clone()),
            added_at: magflock_store::now_millis(),
        })
        .await
        .map_err(|e| match e {
            magflock_store::StoreError::Conflict(_) => {
                AppError::Conflict(format!("This key is already trusted (key {key_id})."))
            }
            other => other.into(),
        })?;
    record(
        &caller.actor(),
        "trust.key_added",
        Some(&key_id),
        Outcome::Success,
        serde_json::json!({
            "publisher": row.publisher,
            "level": level.as_str(),
            "public_key": row.public_key,
        }),
    )
    .await?;
    Ok(info(row))
}

pub async fn remove(key_id: String) -> Result<TrustedKeyInfo, AppError> {
    let caller = require(Role::Admin).await?;
    let key_id = key_id.trim().to_string();
    let ctx = ctx()?;
    let not_trusted = || {
        AppError::NotFound(format!(
            "Key {key_id} is not trusted (it may have been removed already)."
        ))
    };
    let row = ctx
        .store
        .trusted_keys()
        .await?
        .into_iter()
        .find(|row| row.key_id == key_id)
        .ok_or_else(not_trusted)?;
    if !ctx.store.trusted_key_remove(&key_id).await? {
        return Err(not_trusted());
    }
    record(
        &caller.actor(),
        "trust.key_removed",
        Some(&key_id),
        Outcome::Success,
        serde_json::json!({"publisher": row.publisher, "level": row.level}),
    )
    .await?;
    Ok(info(row))
}

pub async fn set_allow_unsigned(allow: bool) -> Result<bool, AppError> {
    let caller = require(Role::Owner).await?;
    let ctx = ctx()?;
    let before = allow_unsigned_now(ctx.store.as_ref()).await?;
    if before != allow {
        ctx.store
            .setting_set(
                ALLOW_UNSIGNED,
                if allow { "true" } else { "false" },
                Some(&caller.user.email),
            )
            .await?;
        record(
            &caller.actor(),
            "settings.updated",
            None,
            Outcome::Success,
            serde_json::json!({ALLOW_UNSIGNED: {"from": before, "to": allow}}),
        )
        .await?;
    }
    Ok(allow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use magflock_package::KeyPair;

    fn problem(text: &str) -> String {
        let err = parse_public_key(text, KeyLevel::VerifiedPublisher).unwrap_err();
        assert_eq!(err.field(), Some("key"), "{err}");
        err.to_string()
    }

    #[test]
    fn a_generated_public_key_file_is_accepted() {
        let pair = KeyPair::generate("acme");
        let text = serde_json::to_string_pretty(&pair.public_file()).unwrap();
        let key = parse_public_key(&text, KeyLevel::FirstParty).unwrap();
        assert_eq!(key.key_id(), pair.key_id());
        assert_eq!(key.publisher, "acme");
        assert_eq!(key.level, SignatureLevel::FirstParty);
    }

    #[test]
    fn each_problem_names_the_field_and_says_what_is_wrong() {
        let pair = KeyPair::generate("acme");
        let mut file = pair.public_file();
        file.key_id = KeyPair::generate("acme").key_id();
        assert_eq!(
            problem(&serde_json::to_string(&file).unwrap()),
            "key: key_id does not match the key"
        );
        assert_eq!(
            problem("{\n    \"kind\": x}"),
            "key: not valid JSON at line 2 column 13"
        );
        assert!(problem("{\"kind\": ").contains("ends early"));
        let with_bom = format!(
            "\u{feff}{}",
            serde_json::to_string(&pair.public_file()).unwrap()
        );
        assert!(parse_public_key(&with_bom, KeyLevel::VerifiedPublisher).is_ok());
        assert!(problem("").contains(".public.json"));
        assert!(problem("[1]").contains("JSON object"));
        assert!(problem(r#"{"kind":"k","publisher":"p","key_id":"i"}"#).contains("`public`"));
        let secret = r#"{"kind":"magflock-ed25519-secret-key","publisher":"p","key_id":"i","secret":"00aa"}"#;
        let said = problem(secret);
        assert!(
            said.contains("secret key file") && !said.contains("00aa"),
            "{said}"
        );
        let mut file = pair.public_file();
        file.publisher = " ".into();
        assert_eq!(
            problem(&serde_json::to_string(&file).unwrap()),
            "key: publisher is empty"
        );
    }
}
