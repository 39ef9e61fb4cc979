//! The platform API for projects and their API keys, over MagDS:
//!
//! | route | who |
//! |---|---|
//! | `GET /v1/projects` | any MagUI role (all projects); a key (its own project) |
//! | `POST /v1/projects` `{"name", "extensions"?}` | admin or owner |
//! | `GET /v1/projects/{name}` | any role; a key of that project |
//! | `DELETE /v1/projects/{name}` | admin or owner |
//! | `GET /v1/projects/{name}/health` | any role; a key of that project |
//! | `GET /v1/projects/{name}/keys` | any role |
//! | `POST /v1/projects/{name}/keys` `{"name"}` | admin or owner |
//! | `DELETE /v1/projects/{name}/keys/{id}` | admin or owner |
//!
//! Guarantees: each route checks the caller's session role or key before
//! anything else; every change is written to the audit log (flushed before
//! the answer) with the acting user, and a refused or failed change is
//! audited too. Creating and deleting a project runs MagDS's own operation,
//! so its hooks (`before_db_create`, ...) fire and a filter's denial is a 403
//! with the extension's reason. Deleting a project revokes its API keys. A new
//! key's secret is in the creation answer only (`Cache-Control: no-store`);
//! lists show the prefix, never the hash.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use magflock_magds::MagDs;
use magflock_store::ApiKeyRow;
use magflock_types::{Outcome, Role};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

use crate::admin::AdminCaller;
use crate::pipeline::Caller;
use crate::{GateError, Gateway};

/// The project routes (mounted by [`Gateway::router`] when MagDS is attached).
pub fn routes() -> Router<Gateway> {
    Router::new()
        .route("/v1/projects", get(list).post(create))
        .route("/v1/projects/{name}", get(show).delete(remove))
        .route("/v1/projects/{name}/health", get(health))
        .route("/v1/projects/{name}/keys", get(keys).post(issue_key))
        .route("/v1/projects/{name}/keys/{id}", delete(revoke_key))
}

fn magds(gw: &Gateway) -> Result<&Arc<MagDs>, GateError> {
    gw.magds()
        .ok_or_else(|| GateError::NotFound("projects are not served by this gateway".into()))
}

/// The JSON body as `T`, or a 400 showing the expected `shape` and the problem.
pub(crate) fn body_as<T: serde::de::DeserializeOwned>(
    body: &[u8],
    shape: &str,
) -> Result<T, GateError> {
    serde_json::from_slice(body)
        .map_err(|e| GateError::BadRequest(format!("the body must be {shape}: {e}")))
}

/// A key as lists show it: never the hash.
fn key_json(row: &ApiKeyRow) -> Value {
    json!({
        "id": row.id, "project": row.project, "name": row.name, "prefix": row.prefix,
        "created_by": row.created_by, "created_at": row.created_at,
        "last_used_at": row.last_used_at, "revoked_at": row.revoked_at,
    })
}

/// Writes the audit entry of `admin`'s change and waits until it is stored.
async fn audit(
    gw: &Gateway,
    admin: &AdminCaller,
    action: &str,
    target: &str,
    outcome: Outcome,
    detail: Value,
) -> Result<(), GateError> {
    let audit = &gw.kernel().audit;
    audit.record(admin.actor().entry(action, Some(target), outcome, detail));
    audit.flush().await.map_err(GateError::from)
}

/// Audits a change's outcome (success or the error) and passes it on.
pub(crate) async fn audited<T>(
    gw: &Gateway,
    admin: &AdminCaller,
    action: &str,
    target: &str,
    result: Result<T, GateError>,
    detail: impl FnOnce(&T) -> Value,
) -> Result<T, GateError> {
    let (outcome, detail) = match &result {
        Ok(value) => (Outcome::Success, detail(value)),
        Err(GateError::Denied { extension, reason }) => (
            Outcome::Denied,
            json!({"extension": extension, "reason": reason}),
        ),
        Err(e) => (Outcome::Failure, json!({"error": e.to_string()})),
    };
    audit(gw, admin, action, target, outcome, detail).await?;
    result
}

async fn list(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, GateError> {
    let magds = magds(&gw)?;
    let projects = match &caller.principal {
        Some(key) => vec![magds.project(&key.project).await?],
        None => {
            gw.require_role(&caller, Role::Auditor).await?;
            magds.list_projects().await?
        }
    };
    Ok(Json(
        json!({"projects": projects, "engine": magds.engine().name()}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewProject {
    name: String,
    #[serde(default)]
    extensions: Vec<String>,
}

async fn create(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Result<Response, GateError> {
    let admin = gw.require_role(&caller, Role::Admin).await?;
    let magds = magds(&gw)?;
    let new: NewProject = body_as(&body, r#"{"name": "...", "extensions": [...]}"#)?;
    let created = magds
        .create_project(&new.name, &admin.email, new.extensions)
        .await
        .map_err(GateError::from);
    let project = audited(&gw, &admin, "project.created", &new.name, created, |p| {
        json!({"project_id": p.id, "extensions": p.extensions, "engine": magds.engine().name()})
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!(project))).into_response())
}

async fn show(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Value>, GateError> {
    gw.require_project(&caller, &name).await?;
    let magds = magds(&gw)?;
    let project = magds.project(&name).await?;
    let migrations = magds.migrations(&name).await?;
    Ok(Json(json!({"project": project, "migrations": migrations})))
}

async fn remove(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Value>, GateError> {
    let admin = gw.require_role(&caller, Role::Admin).await?;
    let magds = magds(&gw)?;
    let dropped = match magds.drop_project(&name).await {
        Ok(()) => revoke_all(&gw, &name).await,
        Err(e) => Err(e.into()),
    };
    let revoked = audited(
        &gw,
        &admin,
        "project.deleted",
        &name,
        dropped,
        |revoked| json!({"keys_revoked": revoked}),
    )
    .await?;
    Ok(Json(json!({"deleted": name, "keys_revoked": revoked})))
}

/// Revokes every live key of `project`; how many.
async fn revoke_all(gw: &Gateway, project: &str) -> Result<usize, GateError> {
    let mut revoked = 0;
    for key in gw.keys().list(Some(project)).await? {
        if !key.is_revoked() && gw.keys().revoke(&key.id).await? {
            revoked += 1;
        }
    }
    Ok(revoked)
}

async fn health(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Value>, GateError> {
    gw.require_project(&caller, &name).await?;
    let magds = magds(&gw)?;
    let health = magds.health(&name).await?;
    Ok(Json(
        json!({"project": name, "engine": magds.engine().name(), "health": health}),
    ))
}

async fn keys(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Value>, GateError> {
    gw.require_role(&caller, Role::Auditor).await?;
    magds(&gw)?.project(&name).await?;
    let keys: Vec<Value> = gw
        .keys()
        .list(Some(&name))
        .await?
        .iter()
        .map(key_json)
        .collect();
    Ok(Json(json!({"keys": keys})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
}

async fn issue_key(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path(project): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, GateError> {
    let admin = gw.require_role(&caller, Role::Admin).await?;
    let new: NewKey = body_as(&body, r#"{"name": "..."}"#)?;
    magds(&gw)?.project(&project).await?;
    let issued = gw
        .keys()
        .issue_key(&project, &new.name, Some(&admin.user_id))
        .await;
    let issued = audited(
        &gw,
        &admin,
        "api_key.issued",
        &project,
        issued,
        |k| json!({"key_id": k.record.id, "name": k.record.name, "prefix": k.record.prefix}),
    )
    .await?;
    Ok(shown_once(
        key_json(&issued.record),
        "key",
        &issued.plaintext,
    ))
}

/// The 201 answer carrying a new secret under `field`: the only time it is
/// shown, so the answer must not be cached anywhere.
pub(crate) fn shown_once(mut body: Value, field: &str, secret: &str) -> Response {
    body[field] = json!(secret);
    body["note"] = json!(format!("store this {field} now: it is shown only once"));
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn revoke_key(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path((project, id)): Path<(String, String)>,
) -> Result<Json<Value>, GateError> {
    let admin = gw.require_role(&caller, Role::Admin).await?;
    let key = gw
        .keys()
        .list(Some(&project))
        .await?
        .into_iter()
        .find(|k| k.id == id)
        .ok_or_else(|| GateError::NotFound(format!("project '{project}' has no API key '{id}'")))?;
    let revoked = gw.keys().revoke(&id).await;
    let revoked = audited(
        &gw,
        &admin,
        "api_key.revoked",
        &project,
        revoked,
        |now| json!({"key_id": key.id, "prefix": key.prefix, "was_live": now}),
    )
    .await?;
    Ok(Json(
        json!({"id": id, "prefix": key.prefix, "revoked": true, "was_live": revoked}),
    ))
}
