//! Gatekeeper: MagGate's test extension for the policy hooks.
//! * `transform_response`: adds `x-gatekeeper: shaped` to every response and
//!   `"shaped_by"` to JSON object bodies of `/v1/whoami`.
//! * `rbac_resolver`: denies `DELETE /v1/projects/keep_*`; for anything else it
//!   tries to widen the decision (roles `owner`, decision `allow`), which the
//!   platform must ignore.
//! * `rate_limit_strategy`: 2 requests per minute on its `limited` endpoint;
//!   elsewhere it asks for a looser limit, which the platform must ignore.
//! * `usage_analytics_emitter`, `register_endpoint`, `add_version`: keeps what
//!   it is told in its key-value store and shows it at `report` (v1: the
//!   usage; v2: usage, versions and mounts).

use magflock_sdk::prelude::*;
use serde_json::{Map, Value, json};

const ME: &str = "test/gatekeeper";

fn load(key: &str) -> Value {
    host::kv::get(key)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null)
}

fn store(key: &str, value: &Value) -> Result<(), String> {
    host::kv::set(key, value.to_string().as_bytes())
}

fn shape(mut payload: Value) -> Value {
    payload["headers"]["x-gatekeeper"] = json!("shaped");
    let whoami = payload["path"].as_str() == Some("/v1/whoami");
    let body = payload["body"]
        .as_str()
        .and_then(|b| serde_json::from_str::<Value>(b).ok());
    if let (true, Some(Value::Object(mut body))) = (whoami, body) {
        body.insert("shaped_by".into(), json!(ME));
        payload["body"] = json!(Value::Object(body).to_string());
    }
    payload
}

fn resolve(mut payload: Value) -> HookOutcome {
    let path = payload["path"].as_str().unwrap_or_default();
    if payload["method"] == "DELETE" && path.starts_with("/v1/projects/keep_") {
        return HookOutcome::Deny("projects named keep_* are protected by the gatekeeper".into());
    }
    payload["roles"] = json!(["owner"]);
    payload["decision"] = json!("allow");
    HookOutcome::Modify(payload)
}

fn limit(mut payload: Value) -> Value {
    let limited = payload["route"]
        .as_str()
        .is_some_and(|r| r.contains("/ext/test/gatekeeper/limited"));
    let (limit, window) = if limited { (2, 60) } else { (1_000_000, 1) };
    payload["limit"] = json!(limit);
    payload["window_s"] = json!(window);
    payload
}

fn remember_usage(payload: &Value) -> Result<(), String> {
    let mut usage = match load("usage") {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let route = payload["route"].as_str().unwrap_or("?").to_string();
    usage.insert(
        route,
        json!({"count": payload["count"], "status": payload["status"], "errors": payload["errors"]}),
    );
    let total: u64 = usage.values().filter_map(|r| r["count"].as_u64()).sum();
    host::system_metrics::gauge("gatekeeper.requests", total as f64)?;
    store("usage", &Value::Object(usage))
}

fn append(key: &str, item: Value) -> Result<(), String> {
    let mut list = match load(key) {
        Value::Array(list) => list,
        _ => Vec::new(),
    };
    list.push(item);
    store(key, &Value::Array(list))
}

fn api_version(request: &HttpRequest) -> &str {
    request
        .headers
        .iter()
        .find(|h| h.name == "x-magflock-api-version")
        .map(|h| h.value.as_str())
        .unwrap_or("?")
}

struct Gatekeeper;

impl Extension for Gatekeeper {
    fn handle_hook(hook: Hook) -> Result<HookOutcome, String> {
        let payload = hook.payload.clone();
        match hook.name.as_str() {
            "transform_response" => Ok(HookOutcome::Modify(shape(payload))),
            "rbac_resolver" => Ok(resolve(payload)),
            "rate_limit_strategy" => Ok(HookOutcome::Modify(limit(payload))),
            "usage_analytics_emitter" => remember_usage(&payload).map(|()| HookOutcome::Allow),
            "register_endpoint" => append("mounts", payload).map(|()| HookOutcome::Allow),
            "add_version" => append("versions", payload).map(|()| HookOutcome::Allow),
            _ => Ok(HookOutcome::Allow),
        }
    }

    fn handle_request(request: HttpRequest) -> Result<HttpResponse, String> {
        let endpoint = request.path.split(['/', '?']).next().unwrap_or_default();
        Ok(match (endpoint, api_version(&request)) {
            ("limited", _) => HttpResponse::json(200, json!({"ok": true})),
            ("report", "v1") => HttpResponse::json(200, json!({"usage": load("usage")})),
            ("report", version) => HttpResponse::json(
                200,
                json!({
                    "api_version": version, "usage": load("usage"),
                    "versions": load("versions"), "mounts": load("mounts"),
                }),
            ),
            (other, _) => {
                HttpResponse::json(404, json!({"error": format!("no endpoint '{other}'")}))
            }
        })
    }
}

magflock_sdk::extension!(Gatekeeper);
