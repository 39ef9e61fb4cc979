//! Personal access tokens for the admin API (what `mag login` takes):
//!
//! | route | who |
//! |---|---|
//! | `POST /v1/tokens` `{"name", "days"?}` | a signed-in MagUI user, in the browser session (not with a token) |
//! | `GET /v1/tokens` | your own tokens; an owner sees everyone's |
//! | `DELETE /v1/tokens/{id}` | your own token; an owner any |
//!
//! The rules live here once, as plain functions over [`ApiKeys`] that MagUI's
//! token pages call too ([`check_new`], [`issue`], [`visible`],
//! [`revocable`], [`revoke`], with the audit actions [`ISSUED`] and
//! [`REVOKED`] and their details), so the console and the REST routes can
//! never disagree about who may do what.
//!
//! Guarantees: a token acts as its user with the user's role at each
//! request, so a role change or a disabled account applies at once; any role
//! may make, list and revoke its own tokens, an owner sees and revokes
//! everyone's; a name is trimmed and 1 to [`MAX_NAME_CHARS`] characters, a
//! lifetime 1 to [`MAX_DAYS`] days ([`DEFAULT_DAYS`] when not given), and a
//! refusal names the field; the secret is in the creation answer only
//! (`Cache-Control: no-store`); a token cannot make more tokens (a stolen one
//! cannot extend itself); every issue and revoke is audited (flushed before
//! the answer); lists show prefixes, never hashes; a revoke through the
//! gateway's [`ApiKeys`] (or a clone of it) is refused from the very next
//! request.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use magflock_store::ApiKeyRow;
use magflock_types::Role;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::admin::AdminCaller;
use crate::keys::{ApiKeys, IssuedKey};
use crate::pipeline::Caller;
use crate::projects::{audited, body_as, shown_once};
use crate::{GateError, Gateway};

/// Default lifetime of a new token (days).
pub const DEFAULT_DAYS: u32 = 90;
/// Longest lifetime of a token (days).
pub const MAX_DAYS: u32 = 365;
/// Longest token name (characters, after trimming).
pub const MAX_NAME_CHARS: usize = 100;
/// The audit action of a token made.
pub const ISSUED: &str = "api_token.issued";
/// The audit action of a token revoked.
pub const REVOKED: &str = "api_token.revoked";

pub fn routes() -> Router<Gateway> {
    Router::new()
        .route("/v1/tokens", get(list).post(issue_route))
        .route("/v1/tokens/{id}", delete(revoke_route))
}

/// A new token's name (trimmed) and lifetime (`None`: [`DEFAULT_DAYS`]), or
/// the refusal naming the field (`name`, `days`).
pub fn check_new(name: &str, days: Option<u32>) -> Result<(String, u32), GateError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(GateError::Invalid {
            field: "name",
            message: "give the token a name, so you can tell it from your others".into(),
        });
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(GateError::Invalid {
            field: "name",
            message: format!(
                "the name is {chars} characters long; at most {MAX_NAME_CHARS} are allowed"
            ),
        });
    }
    let days = days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(GateError::Invalid {
            field: "days",
            message: format!("a token lasts 1 to {MAX_DAYS} days"),
        });
    }
    Ok((name.to_string(), days))
}

/// Makes a token for `user` (checked by [`check_new`]); the plaintext is in
/// the result only. The caller audits it ([`ISSUED`], [`issued_detail`]).
pub async fn issue(
    keys: &ApiKeys,
    user: &AdminCaller,
    name: &str,
    days: Option<u32>,
) -> Result<IssuedKey, GateError> {
    keys.issue_token(&user.user_id, name, days.unwrap_or(DEFAULT_DAYS))
        .await
}

/// The audit detail of an issued token (never its secret).
pub fn issued_detail(issued: &IssuedKey) -> Value {
    let record = &issued.record;
    let days = record
        .expires_at
        .map(|at| (at - record.created_at) / 86_400_000);
    json!({"token_id": record.id, "name": record.name, "prefix": record.prefix, "days": days})
}

/// Whose tokens `user` sees and may revoke: `None` for everyone's (an owner).
pub fn whose(user: &AdminCaller) -> Option<&str> {
    (user.role != Role::Owner).then_some(user.user_id.as_str())
}

/// The tokens `user` may see: their own; an owner everyone's.
pub async fn visible(keys: &ApiKeys, user: &AdminCaller) -> Result<Vec<ApiKeyRow>, GateError> {
    keys.tokens(whose(user)).await
}

/// Token `id`, if `user` may revoke it (their own; an owner any); someone
/// else's is as unknown as a token that does not exist (404).
pub async fn revocable(
    keys: &ApiKeys,
    user: &AdminCaller,
    id: &str,
) -> Result<ApiKeyRow, GateError> {
    visible(keys, user)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| GateError::NotFound(format!("you have no token '{id}'")))
}

/// Revokes `token` (found by [`revocable`]) through `keys`, which forget it
/// at once; `false` if it was revoked already. The caller audits it
/// ([`REVOKED`], [`revoked_detail`], target [`revoked_target`]).
pub async fn revoke(keys: &ApiKeys, token: &ApiKeyRow) -> Result<bool, GateError> {
    keys.revoke(&token.id).await
}

/// The audit target of a revoke: the token's user.
pub fn revoked_target(token: &ApiKeyRow) -> String {
    token.user_id.clone().unwrap_or_default()
}

/// The audit detail of a revoke.
pub fn revoked_detail(token: &ApiKeyRow, was_live: bool) -> Value {
    json!({"token_id": token.id, "prefix": token.prefix, "was_live": was_live})
}

fn token_json(row: &ApiKeyRow) -> Value {
    json!({
        "id": row.id, "name": row.name, "prefix": row.prefix, "user_id": row.user_id,
        "created_at": row.created_at, "expires_at": row.expires_at,
        "last_used_at": row.last_used_at, "revoked_at": row.revoked_at,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    #[serde(default)]
    days: Option<u32>,
}

async fn issue_route(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Result<Response, GateError> {
    let user = gw.require_role(&caller, Role::Auditor).await?;
    if caller.token_id.is_some() {
        return Err(GateError::Forbidden(
            "tokens are made from a signed-in MagUI session, not with another token".into(),
        ));
    }
    let new: NewToken = body_as(&body, r#"{"name": "...", "days": 90}"#)?;
    check_new(&new.name, new.days)?;
    let issued = issue(gw.keys(), &user, &new.name, new.days).await;
    let issued = audited(&gw, &user, ISSUED, &user.email, issued, issued_detail).await?;
    Ok(shown_once(
        token_json(&issued.record),
        "token",
        &issued.plaintext,
    ))
}

async fn list(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, GateError> {
    let user = gw.require_role(&caller, Role::Auditor).await?;
    let tokens: Vec<Value> = visible(gw.keys(), &user)
        .await?
        .iter()
        .map(token_json)
        .collect();
    Ok(Json(json!({"tokens": tokens})))
}

async fn revoke_route(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, GateError> {
    let user = gw.require_role(&caller, Role::Auditor).await?;
    let token = revocable(gw.keys(), &user, &id).await?;
    let revoked = revoke(gw.keys(), &token).await;
    let was_live = audited(
        &gw,
        &user,
        REVOKED,
        &revoked_target(&token),
        revoked,
        |now| revoked_detail(&token, *now),
    )
    .await?;
    Ok(Json(
        json!({"id": id, "prefix": token.prefix, "revoked": true, "was_live": was_live}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(result: Result<(String, u32), GateError>) -> &'static str {
        match result {
            Err(GateError::Invalid { field, .. }) => field,
            other => panic!("expected a field refusal, got {other:?}"),
        }
    }

    #[test]
    fn names_are_trimmed_and_lifetimes_bounded() {
        assert_eq!(
            check_new("  laptop ", None).unwrap(),
            ("laptop".into(), DEFAULT_DAYS)
        );
        assert_eq!(check_new("ci", Some(1)).unwrap().1, 1);
        assert_eq!(check_new("ci", Some(MAX_DAYS)).unwrap().1, MAX_DAYS);
        assert_eq!(
            check_new(&"é".repeat(100), None).unwrap().0.chars().count(),
            100
        );
        assert_eq!(field(check_new("   ", None)), "name");
        assert_eq!(field(check_new(&"a".repeat(101), None)), "name");
        assert_eq!(field(check_new("ci", Some(0))), "days");
        assert_eq!(field(check_new("ci", Some(MAX_DAYS + 1))), "days");
    }
}
