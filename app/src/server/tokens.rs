//! Personal access tokens from MagUI (see [`crate::api::tokens`]).
//!
//! Guarantees: every function checks the session and role first; who may
//! see and revoke which token, and what a valid name and lifetime are, is
//! decided by `magflock_maggate::tokens` (the functions MagGate's REST routes
//! call), never re-implemented here; tokens are made and revoked through the
//! running gateway's own [`ApiKeys`](magflock_maggate::ApiKeys)
//! ([`Console::keys`](super::Console)), so a revoke is refused by the gateway
//! from the very next request. Input refused before anything changes is not
//! audited; every issue and revoke attempt after that leaves one audit entry
//! (`api_token.issued`, `api_token.revoked`, the REST route's actions and
//! details) stored before the answer. The secret is in the create answer
//! only, sent with `Cache-Control: no-store`, and never logged.

use super::audit::record;
use super::console::{console, gate_error};
use super::guard::{Caller, ctx, require};
use crate::AppError;
use crate::api::tokens::{NewToken, RevokedToken, TokenInfo, TokenState};
use magflock_maggate::{AdminCaller, tokens};
use magflock_store::ApiKeyRow;
use magflock_types::{Outcome, Role};
use std::collections::HashMap;

fn admin(caller: &Caller) -> AdminCaller {
    AdminCaller {
        user_id: caller.user.id.clone(),
        email: caller.user.email.clone(),
        role: caller.user.role,
    }
}

fn info(row: ApiKeyRow, emails: &HashMap<String, String>, now: i64) -> TokenInfo {
    let user_id = row.user_id.unwrap_or_default();
    TokenInfo {
        state: TokenState::of(row.revoked_at, row.expires_at, now),
        user_email: emails.get(&user_id).cloned(),
        id: row.id,
        name: row.name,
        prefix: row.prefix,
        user_id,
        created_at: row.created_at,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
        revoked_at: row.revoked_at,
    }
}

/// Newest first, with each user's email.
async fn listed(rows: Vec<ApiKeyRow>) -> Result<Vec<TokenInfo>, AppError> {
    let emails: HashMap<String, String> = ctx()?
        .store
        .list_users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.email))
        .collect();
    let now = magflock_store::now_millis();
    let mut list: Vec<TokenInfo> = rows.into_iter().map(|r| info(r, &emails, now)).collect();
    list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    Ok(list)
}

pub async fn mine() -> Result<Vec<TokenInfo>, AppError> {
    let caller = require(Role::Auditor).await?;
    let rows = console()?.keys.tokens(Some(&caller.user.id)).await?;
    listed(rows).await
}

pub async fn everyone() -> Result<Vec<TokenInfo>, AppError> {
    let caller = require(Role::Owner).await?;
    listed(tokens::visible(&console()?.keys, &admin(&caller)).await?).await
}

/// The lifetime field: empty is the default, else a whole number of days.
fn parse_days(days: &str) -> Result<Option<u32>, AppError> {
    let days = days.trim();
    if days.is_empty() {
        return Ok(None);
    }
    let n: i64 = days.parse().map_err(|_| {
        AppError::invalid(
            "days",
            format!(
                "Enter the lifetime as a whole number of days, 1 to {}.",
                tokens::MAX_DAYS
            ),
        )
    })?;
    // Out of range for u32 is out of range for a token: the shared rule says so.
    Ok(Some(u32::try_from(n).unwrap_or(0)))
}

pub async fn create(name: String, days: String) -> Result<NewToken, AppError> {
    let caller = require(Role::Auditor).await?;
    let days = parse_days(&days)?;
    tokens::check_new(&name, days).map_err(gate_error)?;
    let console = console()?;
    let user = admin(&caller);
    let issued = tokens::issue(&console.keys, &user, &name, days).await;
    let (outcome, detail) = match &issued {
        Ok(made) => (Outcome::Success, tokens::issued_detail(made)),
        Err(e) => (
            Outcome::Failure,
            serde_json::json!({"error": e.to_string()}),
        ),
    };
    record(
        &caller.actor(),
        tokens::ISSUED,
        Some(&caller.user.email),
        outcome,
        detail,
    )
    .await?;
    let issued = issued.map_err(gate_error)?;
    no_store();
    let mut emails = HashMap::new();
    emails.insert(caller.user.id.clone(), caller.user.email.clone());
    Ok(NewToken {
        token: info(issued.record, &emails, magflock_store::now_millis()),
        secret: issued.plaintext,
    })
}

/// Keeps the answer out of every cache.
fn no_store() {
    if let Some(options) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        options.insert_header(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
    }
}

pub async fn revoke(id: String) -> Result<RevokedToken, AppError> {
    let caller = require(Role::Auditor).await?;
    let console = console()?;
    let token = tokens::revocable(&console.keys, &admin(&caller), &id).await?;
    let revoked = tokens::revoke(&console.keys, &token).await;
    let (outcome, detail) = match &revoked {
        Ok(was_live) => (Outcome::Success, tokens::revoked_detail(&token, *was_live)),
        Err(e) => (
            Outcome::Failure,
            serde_json::json!({"error": e.to_string()}),
        ),
    };
    record(
        &caller.actor(),
        tokens::REVOKED,
        Some(&tokens::revoked_target(&token)),
        outcome,
        detail,
    )
    .await?;
    Ok(RevokedToken {
        was_live: revoked.map_err(gate_error)?,
        id: token.id,
        name: token.name,
        prefix: token.prefix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tokens as api;

    #[test]
    fn the_browser_knows_the_gateway_rules() {
        assert_eq!(api::DEFAULT_DAYS, tokens::DEFAULT_DAYS);
        assert_eq!(api::MAX_DAYS, tokens::MAX_DAYS);
        assert_eq!(api::MAX_NAME_CHARS, tokens::MAX_NAME_CHARS);
    }

    #[test]
    fn the_lifetime_field_is_a_whole_number_or_empty() {
        assert_eq!(parse_days(" ").unwrap(), None);
        assert_eq!(parse_days("30").unwrap(), Some(30));
        assert_eq!(parse_days("-3").unwrap(), Some(0));
        for bad in ["abc", "1.5", "9e9"] {
            assert_eq!(parse_days(bad).unwrap_err().field(), Some("days"), "{bad}");
        }
    }

    #[test]
    fn gateway_refusals_keep_their_field() {
        let err = gate_error(tokens::check_new(" ", None).unwrap_err());
        assert_eq!(err.field(), Some("name"));
        assert!(
            err.to_string().starts_with("Give the token a name"),
            "{err}"
        );
        let err = gate_error(tokens::check_new("ci", Some(0)).unwrap_err());
        assert_eq!(err.field(), Some("days"));
    }
}
