//! The admin API: what MagUI's admins do with extensions, over HTTP, for the
//! `mag` command line and scripts (a personal access token or a session).
//!
//! | route | who |
//! |---|---|
//! | `GET /v1/extensions`, `GET /v1/extensions/{publisher}/{name}` | any role |
//! | `GET /v1/catalog?q=&category=&capability=&edition=` | any role |
//! | `POST /v1/extensions` `{"id", "version"?, "enable"?}` (from the catalogs: queues a capability request) | admin, owner |
//! | `POST /v1/extensions/{publisher}/{name}/{enable,disable,rollback,upgrade}` (upgrade: `{"version"?}`) | admin, owner |
//! | `DELETE /v1/extensions/{publisher}/{name}` (uninstall) | admin, owner |
//! | `DELETE /v1/extensions/{publisher}/{name}/grants/{capability}` (revoke live) | admin, owner |
//! | `GET /v1/approvals?status=pending` | any role |
//! | `POST /v1/approvals/{id}` `{"decision": "approve" \| "deny", "only"?: [capability], "comment"?}` | admin, owner |
//! | `GET /v1/audit?actor=&action=&extension=&capability=&outcome=&q=&since=&until=&before=&limit=`, `GET /v1/audit/verify` | any role |
//! | `GET /v1/events?from=&limit=&type=` (a page from a sequence number), `GET /v1/events?last=&type=` (the newest) | any role |
//! | `GET /v1/health` | any role |
//! | `GET /v1/commands?cli_version=` (the `mag <extension>:<command>` commands of running extensions; fires `register_command` and `extend_help`) | any role |
//! | `POST /v1/extensions/{publisher}/{name}/commands/{command}` `{"args": [...]}` (runs it in the sandbox) | admin, owner |
//! | `GET /v1/formats?command=` (output formats extensions add to `mag`; fires `add_output_format`) | any role |
//! | `POST /v1/formats/{format}` `{"command", "data"}` (the data written in an extension's format) | any role |
//!
//! Guarantees: each route checks the caller's role first (and offers what
//! the role allows to `permission_resolver`, see [`crate::admin`]); every change goes
//! through the lifecycle manager, which journals, audits and publishes it
//! exactly as MagUI's own actions (the acting user is the caller); a refusal
//! names the problem in one sentence with the HTTP status of its kind
//! (`LifecycleError` is mapped in one place, [`lifecycle_error`]).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use magflock_kernel::Capability;
use magflock_kernel::Edition;
use magflock_kernel::Pattern;
use magflock_kernel::bus::{LoggedEvent, ReplayFrom};
use magflock_kernel::lifecycle_store::{CapabilityRequest, RequestStatus};
use magflock_lifecycle::{Decision, Lifecycle, LifecycleError, Plan, UpgradeSubmitted};
use magflock_types::{AuditFilter, Role};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

use crate::admin::AdminCaller;
use crate::pipeline::Caller;
use crate::projects::body_as;
use crate::{GateError, Gateway};

pub fn routes() -> Router<Gateway> {
    Router::new()
        .route("/v1/extensions", get(list).post(install))
        .route(
            "/v1/extensions/{publisher}/{name}",
            get(info).delete(uninstall),
        )
        .route("/v1/extensions/{publisher}/{name}/{action}", post(act))
        .route(
            "/v1/extensions/{publisher}/{name}/grants/{capability}",
            delete(revoke),
        )
        .route("/v1/catalog", get(catalog))
        .route("/v1/approvals", get(approvals))
        .route("/v1/approvals/{id}", post(decide))
        .route("/v1/audit", get(audit))
        .route("/v1/audit/verify", get(audit_verify))
        .route("/v1/events", get(events))
        .route("/v1/health", get(health))
        .route("/v1/commands", get(commands))
        .route("/v1/formats", get(formats))
        .route("/v1/formats/{format}", post(format_with))
        .route(
            "/v1/extensions/{publisher}/{name}/commands/{command}",
            post(run_command),
        )
}

/// The one mapping of lifecycle errors to gateway errors.
pub fn lifecycle_error(e: LifecycleError) -> GateError {
    match e {
        LifecycleError::NotInstalled(_) | LifecycleError::UnknownRequest(_) => {
            GateError::NotFound(e.to_string())
        }
        LifecycleError::State(_) | LifecycleError::Approval(_) | LifecycleError::Failed { .. } => {
            GateError::Conflict(e.to_string())
        }
        LifecycleError::Package(_) | LifecycleError::Catalog(_) => {
            GateError::BadRequest(e.to_string())
        }
        LifecycleError::Kernel(e) => GateError::from(e),
        LifecycleError::Sandbox(e) => GateError::from(e),
        LifecycleError::Io { .. } => GateError::Internal(e.to_string()),
    }
}

fn lifecycle(gw: &Gateway) -> Result<&Arc<Lifecycle>, GateError> {
    gw.lifecycle()
        .ok_or_else(|| GateError::NotFound("the admin API is not served by this gateway".into()))
}

/// Any signed-in role may read.
async fn reader(gw: &Gateway, caller: &Caller) -> Result<AdminCaller, GateError> {
    gw.require_role(caller, Role::Auditor).await
}

/// Changes need the admin role.
async fn changer(gw: &Gateway, caller: &Caller) -> Result<AdminCaller, GateError> {
    gw.require_role(caller, Role::Admin).await
}

fn request_json(request: &CapabilityRequest) -> Value {
    let plan: Value = serde_json::from_str(&request.plan).unwrap_or(Value::Null);
    let decision: Value = request
        .decision
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or(Value::Null);
    json!({
        "id": request.id, "kind": request.kind, "extension": request.extension,
        "status": request.status.as_str(), "requested_by": request.requested_by,
        "requested_at": request.requested_at, "decided_by": request.decided_by,
        "decided_at": request.decided_at, "comment": request.comment,
        "plan": plan, "decision": decision,
    })
}

async fn list(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, GateError> {
    reader(&gw, &caller).await?;
    let views = lifecycle(&gw)?
        .extensions()
        .await
        .map_err(lifecycle_error)?;
    Ok(Json(json!({"extensions": views})))
}

async fn info(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path((publisher, name)): Path<(String, String)>,
) -> Result<Json<Value>, GateError> {
    reader(&gw, &caller).await?;
    let id = format!("{publisher}/{name}");
    let view = lifecycle(&gw)?
        .extension(&id)
        .await
        .map_err(lifecycle_error)?;
    let stats = gw
        .kernel()
        .sandbox
        .get(&id)
        .ok()
        .map(|l| stats_json(&l.stats()));
    Ok(Json(json!({"extension": view, "stats": stats})))
}

#[derive(Deserialize, Default)]
struct CatalogQuery {
    /// Words that must each appear in the id, name or description.
    q: Option<String>,
    category: Option<String>,
    capability: Option<String>,
    edition: Option<String>,
}

async fn catalog(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<CatalogQuery>,
) -> Result<Json<Value>, GateError> {
    reader(&gw, &caller).await?;
    let edition = match query.edition.as_deref() {
        None => None,
        Some(text) => Some(
            [Edition::Community, Edition::Pro]
                .into_iter()
                .find(|e| e.as_str().eq_ignore_ascii_case(text))
                .ok_or_else(|| {
                    GateError::BadRequest(format!("edition '{text}' is not ce or pro"))
                })?,
        ),
    };
    let search = magflock_package::Query {
        text: query.q,
        category: query.category,
        capability: query.capability,
        edition,
        kernel_api: None,
    };
    let view = lifecycle(&gw)?.catalog().await.map_err(lifecycle_error)?;
    let found = view.search(&search);
    Ok(Json(json!({"listings": found, "problems": view.problems})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InstallBody {
    id: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    enable: Option<bool>,
}

fn requirement(version: Option<&str>) -> Result<Option<semver::VersionReq>, GateError> {
    version
        .map(|v| {
            semver::VersionReq::parse(v).map_err(|e| {
                GateError::BadRequest(format!("version '{v}' is not a version requirement: {e}"))
            })
        })
        .transpose()
}

async fn install(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Result<Response, GateError> {
    let admin = changer(&gw, &caller).await?;
    let body: InstallBody = body_as(
        &body,
        r#"{"id": "publisher/name", "version": "^1", "enable": true}"#,
    )?;
    let wanted = requirement(body.version.as_deref())?;
    let request = lifecycle(&gw)?
        .request_install_from_catalog(
            &body.id,
            wanted.as_ref(),
            body.enable.unwrap_or(true),
            &admin.actor(),
        )
        .await
        .map_err(lifecycle_error)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"request": request_json(&request)})),
    )
        .into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct UpgradeBody {
    #[serde(default)]
    version: Option<String>,
}

async fn act(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path((publisher, name, action)): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, GateError> {
    let admin = changer(&gw, &caller).await?;
    let id = format!("{publisher}/{name}");
    let lifecycle = lifecycle(&gw)?;
    let by = admin.actor();
    match action.as_str() {
        "enable" => lifecycle.enable(&id, &by).await,
        "disable" => lifecycle.disable(&id, &by).await,
        "rollback" => lifecycle.rollback(&id, &by).await,
        "upgrade" => {
            let body: UpgradeBody = if body.is_empty() {
                UpgradeBody::default()
            } else {
                body_as(&body, r#"{"version": "^2"}"#)?
            };
            return upgrade(lifecycle, &id, body.version.as_deref(), &by).await;
        }
        other => {
            return Err(GateError::NotFound(format!(
                "no action '{other}': use enable, disable, upgrade or rollback"
            )));
        }
    }
    .map_err(lifecycle_error)?;
    let view = lifecycle.extension(&id).await.map_err(lifecycle_error)?;
    Ok(Json(json!({"extension": view})))
}

/// Upgrades `id` to the highest catalog version fitting `version` (any
/// newer one without it): at once, or as a capability request when the new
/// version asks for more.
async fn upgrade(
    lifecycle: &Lifecycle,
    id: &str,
    version: Option<&str>,
    by: &magflock_kernel::audit::Actor,
) -> Result<Json<Value>, GateError> {
    let wanted = requirement(version)?;
    let installed = lifecycle.extension(id).await.map_err(lifecycle_error)?;
    let current = semver::Version::parse(&installed.version)
        .map_err(|e| GateError::Internal(format!("{id}: installed version: {e}")))?;
    let catalog = lifecycle.catalog().await.map_err(lifecycle_error)?;
    let newest = catalog
        .versions(id)
        .into_iter()
        .find(|l| {
            l.entry.version > current && wanted.as_ref().is_none_or(|w| w.matches(&l.entry.version))
        })
        .ok_or_else(|| {
            GateError::NotFound(format!(
                "no newer version of {id} than {current} in the catalogs{}",
                version
                    .map(|v| format!(" matching {v}"))
                    .unwrap_or_default()
            ))
        })?;
    let bytes = lifecycle.download(newest).await.map_err(lifecycle_error)?;
    let submitted = lifecycle
        .request_upgrade(&bytes, by)
        .await
        .map_err(lifecycle_error)?;
    Ok(Json(match submitted {
        UpgradeSubmitted::Done => {
            let view = lifecycle.extension(id).await.map_err(lifecycle_error)?;
            json!({"upgraded": true, "extension": view})
        }
        UpgradeSubmitted::Waiting(request) => {
            json!({"upgraded": false, "request": request_json(&request)})
        }
    }))
}

async fn uninstall(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path((publisher, name)): Path<(String, String)>,
) -> Result<Json<Value>, GateError> {
    let admin = changer(&gw, &caller).await?;
    let id = format!("{publisher}/{name}");
    let kept = lifecycle(&gw)?
        .uninstall(&id, &admin.actor())
        .await
        .map_err(lifecycle_error)?;
    Ok(Json(json!({"uninstalled": id, "data_kept_in": kept})))
}

async fn revoke(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path((publisher, name, capability)): Path<(String, String, String)>,
) -> Result<Json<Value>, GateError> {
    let admin = changer(&gw, &caller).await?;
    let id = format!("{publisher}/{name}");
    let capability: Capability = capability
        .parse()
        .map_err(|_| GateError::BadRequest(format!("unknown capability '{capability}'")))?;
    let lifecycle = lifecycle(&gw)?;
    lifecycle
        .revoke(&id, capability, &admin.actor())
        .await
        .map_err(lifecycle_error)?;
    let view = lifecycle.extension(&id).await.map_err(lifecycle_error)?;
    Ok(Json(
        json!({"extension": view, "revoked": capability.as_str()}),
    ))
}

#[derive(Deserialize, Default)]
struct ApprovalsQuery {
    status: Option<String>,
}

async fn approvals(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<ApprovalsQuery>,
) -> Result<Json<Value>, GateError> {
    reader(&gw, &caller).await?;
    let status = match query.status.as_deref() {
        None | Some("all") => None,
        Some(s) => Some(RequestStatus::parse(s).ok_or_else(|| {
            GateError::BadRequest(format!(
                "status '{s}' is not pending, approved, denied, failed or all"
            ))
        })?),
    };
    let requests = lifecycle(&gw)?
        .requests(status)
        .await
        .map_err(lifecycle_error)?;
    let listed: Vec<Value> = requests.iter().map(request_json).collect();
    Ok(Json(json!({"requests": listed})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideBody {
    decision: String,
    #[serde(default)]
    only: Option<Vec<String>>,
    #[serde(default)]
    comment: Option<String>,
}

async fn decide(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, GateError> {
    let admin = changer(&gw, &caller).await?;
    let body: DecideBody = body_as(
        &body,
        r#"{"decision": "approve", "only": ["capability"], "comment": "..."}"#,
    )?;
    let lifecycle = lifecycle(&gw)?;
    let decision = match (body.decision.as_str(), body.only) {
        ("deny", None) => Decision::Deny {
            comment: body.comment,
        },
        ("deny", Some(_)) => {
            return Err(GateError::BadRequest(
                "`only` goes with approve, not deny".into(),
            ));
        }
        ("approve", None) => Decision::Approve {
            grants: None,
            comment: body.comment,
        },
        ("approve", Some(only)) => {
            let pending = lifecycle
                .requests(Some(RequestStatus::Pending))
                .await
                .map_err(lifecycle_error)?;
            let request = pending
                .iter()
                .find(|r| r.id == id)
                .ok_or_else(|| GateError::Conflict(format!("request {id} is not pending")))?;
            let plan: Plan = serde_json::from_str(&request.plan)
                .map_err(|e| GateError::Internal(format!("request {id}: plan: {e}")))?;
            let grants = plan.grants_only(&only).map_err(lifecycle_error)?;
            Decision::Approve {
                grants: Some(grants),
                comment: body.comment,
            }
        }
        (other, _) => {
            return Err(GateError::BadRequest(format!(
                "decision '{other}' is not approve or deny"
            )));
        }
    };
    let decided = lifecycle
        .decide(&id, decision, &admin.actor())
        .await
        .map_err(lifecycle_error)?;
    Ok(Json(json!({"request": request_json(&decided)})))
}

#[derive(Deserialize, Default)]
struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    extension: Option<String>,
    capability: Option<String>,
    outcome: Option<magflock_types::Outcome>,
    q: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    before: Option<i64>,
    limit: Option<u32>,
}

async fn audit(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Value>, GateError> {
    reader(&gw, &caller).await?;
    let filter = AuditFilter {
        actor: query.actor,
        action: query.action,
        extension: query.extension,
        capability: query.capability,
        outcome: query.outcome,
        search: query.q,
        since: query.since,
        until: query.until,
        before_seq: query.before,
        limit: query.limit.unwrap_or(100).clamp(1, 1000),
    };
    let page = gw.store().audit_list(&filter).await?;
    Ok(Json(json!(page)))
}

async fn audit_verify(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, GateError> {
    reader(&gw, &caller).await?;
    let report = gw.store().audit_verify().await?;
    Ok(Json(
        json!({"intact": report.first_broken.is_none(), "report": report}),
    ))
}

#[derive(Deserialize, Default)]
struct EventsQuery {
    from: Option<u64>,
    /// The newest this many matching events instead of a page from `from`.
    last: Option<usize>,
    limit: Option<usize>,
    #[serde(rename = "type")]
    event_type: Option<String>,
}

/// How many events one read of the log takes when looking back from the head.
const LOOK_BACK: u64 = 1000;

/// Events from `from` on (`limit` read, those matching kept), or with
/// `last=N` the newest N matching, oldest first. `next_from` is where to
/// continue: after the last event read, or after the log's head for `last`.
async fn events(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<EventsQuery>,
) -> Result<Json<Value>, GateError> {
    reader(&gw, &caller).await?;
    let pattern = query
        .event_type
        .as_deref()
        .map(Pattern::parse)
        .transpose()
        .map_err(|e| GateError::BadRequest(format!("type: {e}")))?;
    let wanted = |l: &LoggedEvent| {
        pattern
            .as_ref()
            .is_none_or(|p| p.matches(&l.event.event_type))
    };
    let bus = &gw.kernel().bus;
    let unavailable = |e: magflock_kernel::BusError| GateError::Unavailable(e.to_string());
    let (logged, next) = match (query.from, query.last) {
        (Some(_), Some(_)) => {
            return Err(GateError::BadRequest(
                "use from (a page from a sequence number) or last (the newest), not both".into(),
            ));
        }
        (_, Some(last)) => {
            let (logged, head) = newest(bus, last.clamp(1, 1000), wanted)
                .await
                .map_err(unavailable)?;
            (logged, Some(head + 1))
        }
        (from, None) => {
            let limit = query.limit.unwrap_or(100).clamp(1, 1000);
            let logged = bus
                .replay(ReplayFrom::Seq(from.unwrap_or(0)), limit)
                .await
                .map_err(unavailable)?;
            let next = logged.last().map(|l| l.seq + 1);
            (logged.into_iter().filter(wanted).collect(), next)
        }
    };
    let events: Vec<Value> = logged
        .into_iter()
        .map(|l| json!({"seq": l.seq, "event": l.event}))
        .collect();
    Ok(Json(json!({"events": events, "next_from": next})))
}

/// The newest `n` retained events that are `wanted`, oldest first, and the
/// log's head when looking began: read backwards from the head, a window at
/// a time, down to the oldest retained event.
async fn newest(
    bus: &magflock_kernel::Bus,
    n: usize,
    wanted: impl Fn(&LoggedEvent) -> bool,
) -> Result<(Vec<LoggedEvent>, u64), magflock_kernel::BusError> {
    let head = bus.head().await?;
    let oldest = bus.log().first_seq_since(0).await?.unwrap_or(head + 1);
    let mut found: Vec<LoggedEvent> = Vec::new();
    let mut end = head;
    while end >= oldest && found.len() < n {
        let start = end.saturating_sub(LOOK_BACK - 1).max(oldest);
        let window = bus
            .replay(ReplayFrom::Seq(start), (end - start + 1) as usize)
            .await?;
        let mut matching: Vec<LoggedEvent> = window
            .into_iter()
            .filter(|l| l.seq <= end && wanted(l))
            .collect();
        matching.append(&mut found);
        found = matching;
        let Some(before) = start.checked_sub(1) else {
            break;
        };
        end = before;
    }
    found.drain(..found.len().saturating_sub(n));
    Ok((found, head))
}

fn stats_json(stats: &magflock_sandbox::StatsSnapshot) -> Value {
    json!({
        "calls": stats.calls, "errors": stats.errors, "stopped": stats.stopped,
        "error_rate": stats.error_rate(), "fuel_per_call": stats.fuel_per_call(),
        "p50_us": stats.latency_quantile_us(0.5), "p95_us": stats.latency_quantile_us(0.95),
        "p99_us": stats.latency_quantile_us(0.99), "peak_memory_bytes": stats.peak_memory_bytes,
    })
}

async fn health(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, GateError> {
    reader(&gw, &caller).await?;
    let views = lifecycle(&gw)?
        .extensions()
        .await
        .map_err(lifecycle_error)?;
    let extensions: Vec<Value> = views
        .iter()
        .map(|view| {
            let stats = gw
                .kernel()
                .sandbox
                .get(&view.id)
                .ok()
                .map(|l| stats_json(&l.stats()));
            json!({"id": view.id, "version": view.version, "state": view.state, "stats": stats})
        })
        .collect();
    let store_ok = gw.store().ping().await.is_ok();
    let projects = match gw.magds() {
        Some(magds) => {
            json!({"engine": magds.engine().name(), "reachable": magds.list_projects().await.is_ok()})
        }
        None => Value::Null,
    };
    Ok(Json(json!({
        "healthy": store_ok,
        "control_plane": {"reachable": store_ok, "engine": format!("{:?}", gw.store().engine()).to_lowercase()},
        "magds": projects,
        "extensions": extensions,
    })))
}

#[derive(Deserialize, Default)]
struct CommandsQuery {
    cli_version: Option<String>,
}

/// The commands running extensions contribute, for `mag help` and
/// `mag <extension>:<command>`. Offers `register_command` (the CLI's
/// version) and `extend_help` to the extensions handling them first.
async fn commands(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<CommandsQuery>,
) -> Result<Json<Value>, GateError> {
    reader(&gw, &caller).await?;
    let cli_version = query.cli_version.unwrap_or_else(|| "unknown".into());
    gw.kernel()
        .dispatch("register_command", &json!({"cli_version": cli_version}))
        .await?;
    gw.kernel()
        .dispatch(
            "extend_help",
            &json!({"command": "help", "cli_version": cli_version}),
        )
        .await?;
    let listed: Vec<Value> = running_commands(&gw)
        .into_iter()
        .filter(|(_, command, _)| !command.starts_with("format-"))
        .map(|(loaded, command, title)| {
            let id = loaded.id();
            let short = id.split('/').nth(1).unwrap_or(id);
            json!({
                "extension": id, "command": command,
                "invoke": format!("{short}:{command}"), "title": title,
            })
        })
        .collect();
    Ok(Json(json!({"commands": listed})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RunBody {
    #[serde(default)]
    args: Vec<String>,
}

/// Runs an extension's contributed command in the sandbox (policy-checked
/// like every call of the extension), audited with the caller.
async fn run_command(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path((publisher, name, command)): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, GateError> {
    let admin = changer(&gw, &caller).await?;
    let id = format!("{publisher}/{name}");
    let body: RunBody = if body.is_empty() {
        RunBody::default()
    } else {
        body_as(&body, r#"{"args": ["..."]}"#)?
    };
    let loaded = running_commands(&gw)
        .into_iter()
        .find(|(loaded, c, _)| loaded.id() == id && *c == command)
        .map(|(loaded, _, _)| loaded)
        .ok_or_else(|| {
            GateError::NotFound(format!(
                "extension '{id}' has no running command '{command}'"
            ))
        })?;
    let output = run_in_sandbox(loaded, command.clone(), body.args.clone()).await;
    let (outcome, detail) = match &output {
        Ok(_) => (
            magflock_types::Outcome::Success,
            json!({"command": command, "args": body.args.len()}),
        ),
        Err(e) => (
            magflock_types::Outcome::Failure,
            json!({"command": command, "error": e.to_string()}),
        ),
    };
    let audit = &gw.kernel().audit;
    audit.record(
        admin
            .actor()
            .entry("extension.command_run", Some(&id), outcome, detail),
    );
    audit.flush().await.map_err(GateError::from)?;
    let output = output?;
    Ok(Json(
        json!({"extension": id, "command": command, "output": output}),
    ))
}

/// The command an extension contributes to write `mag` output in `format`.
fn format_command(format: &str) -> String {
    format!("format-{format}")
}

/// Running extensions contributing a `format-<name>` command, by format name.
fn format_owners(gw: &Gateway) -> Vec<(String, Arc<magflock_sandbox::LoadedExtension>)> {
    running_commands(gw)
        .into_iter()
        .filter_map(|(loaded, command, _)| {
            command
                .strip_prefix("format-")
                .map(|name| (name.to_string(), loaded.clone()))
        })
        .collect()
}

#[derive(Deserialize, Default)]
struct FormatsQuery {
    command: Option<String>,
}

/// The output formats for a `mag` command: the built-in ones and those
/// running extensions add (offered to `add_output_format` first).
async fn formats(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<FormatsQuery>,
) -> Result<Json<Value>, GateError> {
    reader(&gw, &caller).await?;
    let command = query.command.unwrap_or_default();
    let builtin = ["table", "json", "yaml"];
    gw.kernel()
        .dispatch(
            "add_output_format",
            &json!({"command": command, "formats": builtin}),
        )
        .await?;
    let added: Vec<Value> = format_owners(&gw)
        .into_iter()
        .map(|(name, loaded)| json!({"format": name, "extension": loaded.id()}))
        .collect();
    Ok(Json(json!({"builtin": builtin, "extensions": added})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FormatBody {
    command: String,
    data: Value,
}

/// Writes `data` (a `mag` command's result) in an extension's format, by
/// running its `format-<name>` command in the sandbox.
async fn format_with(
    State(gw): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path(format): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, GateError> {
    reader(&gw, &caller).await?;
    let body: FormatBody = body_as(&body, r#"{"command": "extension:list", "data": {...}}"#)?;
    let (_, loaded) = format_owners(&gw)
        .into_iter()
        .find(|(name, _)| *name == format)
        .ok_or_else(|| {
            GateError::NotFound(format!(
                "no running extension adds the output format '{format}' (built in: table, json, yaml)"
            ))
        })?;
    let args = vec![body.command, body.data.to_string()];
    let output = run_in_sandbox(loaded, format_command(&format), args).await?;
    Ok(Json(json!({"format": format, "output": output})))
}

/// Every command a running extension contributes: `(extension, command id, title)`.
fn running_commands(
    gw: &Gateway,
) -> Vec<(
    Arc<magflock_sandbox::LoadedExtension>,
    String,
    Option<String>,
)> {
    let mut found = Vec::new();
    for loaded in gw.kernel().sandbox.loaded() {
        if gw.kernel().gate.may_run(loaded.id()).is_err() {
            continue;
        }
        let commands: Vec<(String, Option<String>)> = loaded
            .manifest()
            .contributions
            .iter()
            .filter(|c| c.kind == magflock_kernel::manifest::ContributionKind::Command)
            .map(|c| (c.id.clone(), c.title.clone()))
            .collect();
        for (id, title) in commands {
            found.push((loaded.clone(), id, title));
        }
    }
    found
}

/// Runs `command` of `loaded` in the sandbox on a blocking thread; the
/// guest's own error is a 400 with its message.
async fn run_in_sandbox(
    loaded: Arc<magflock_sandbox::LoadedExtension>,
    command: String,
    args: Vec<String>,
) -> Result<String, GateError> {
    tokio::task::spawn_blocking(move || {
        loaded.run_command(&command, &args, magflock_sandbox::CallMode::Warm)
    })
    .await
    .map_err(|e| GateError::Internal(e.to_string()))?
    .map_err(|e| match e {
        magflock_sandbox::SandboxError::Guest { message, .. } => GateError::BadRequest(message),
        other => GateError::from(other),
    })
}
