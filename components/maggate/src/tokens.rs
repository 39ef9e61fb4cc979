//! Personal access tokens for the admin API (what `mag login` takes):
//!
//! | route | who |
//! |---|---|
//! | `POST /v1/tokens` `{"name", "days"?}` | a signed-in MagUI user, in the browser session (not with a token) |
//! | `GET /v1/tokens` | your own tokens; an owner sees everyone's |
//! | `DELETE /v1/tokens/{id}` | your own token; an owner any |
//!
//! Guarantees: a token acts as its user with the user's role at each
//! request, so a role change or a disabled account applies at once; the
//! secret is in the creation answer only (`Cache-Control: no-store`); a token
//! cannot make more tokens (a stolen one cannot extend itself); every issue
//! and revoke is audited (flushed before the answer); lists show prefixes,
//! never hashes.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use magflock_store::ApiKeyRow;
use magflock_types::Role;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::pipeline::Caller;
use crate::projects::{audited, body_as, shown_once};
use crate::{GateError, Gateway};

/// Default lifetime of a new token (days).
pub const DEFAULT_DAYS: u32 = 90;

pub fn routes() -> Router<Gateway> {
    Router::new()
        .route("/v1/tokens", get(list).post(issue))
        .route("/v1/tokens/{id}", delete(revoke))
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

async fn issue(
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
    let days = new.days.unwrap_or(DEFAULT_DAYS);
    let issued = gw.keys().issue_token(&user.user_id, &new.name, days).await;
    let issued = audited(&gw, &user, "api_token.issued", &user.email, issued, |t| {
        json!({"token_id": t.record.id, "name": t.record.name, "prefix": t.record.prefix, "days": days})
    })
    .await?;
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
    let whose = (user.role != Role::Owner).then_some(user.user_id.as_str());
    let tokens: Vec<Value> = gw
        .keys()
        .tokens(whose)
        .await?
        .iter()
        .map(token_json)
        .collect();
    Ok(Json(json!({"tokens": tokens})))
}

async fn revoke(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, GateError> {
    let user = gw.require_role(&caller, Role::Auditor).await?;
    let whose = (user.role != Role::Owner).then_some(user.user_id.as_str());
    let token = gw
        .keys()
        .tokens(whose)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| GateError::NotFound(format!("you have no token '{id}'")))?;
    let target = token.user_id.clone().unwrap_or_default();
    let revoked = gw.keys().revoke(&id).await;
    let was_live = audited(
        &gw,
        &user,
        "api_token.revoked",
        &target,
        revoked,
        |now| json!({"token_id": token.id, "prefix": token.prefix, "was_live": now}),
    )
    .await?;
    Ok(Json(
        json!({"id": id, "prefix": token.prefix, "revoked": true, "was_live": was_live}),
    ))
}
