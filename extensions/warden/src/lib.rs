//! Warden: MagAuth's test extension.
//! * `permission_resolver`: denies auditors the audit chain check
//!   (`/api/verify_audit_chain` in MagUI, `/v1/audit/verify` at MagGate); for
//!   anything else it tries to widen the decision (roles `owner`), which the
//!   platform must ignore. Keeps every resource it is offered (`resolver_seen`).
//! * `audit_emitter`: keeps `{seq, action, target}` of every entry offered
//!   (`audit_seen`, the last 200) and how many it was offered
//!   (`audit_offers`), and reads the log's newest entry through
//!   `auth-audit.read` each time: an audited host call, whose entry must
//!   never be offered back to it.
//! * `role_template`: keeps every payload it is told (`templates_heard`).
//! * `register_oidc_provider`, `register_saml_provider`,
//!   `register_sso_provider`: keeps `{hook, realm, extension, protocol}` of
//!   each (`providers_heard`).
//! * command `define-role <name> <permission>...`: defines a role template
//!   through `auth-roles.define-role`.
//! * command `providers-heard`: what the `register_*_provider` hooks told it
//!   (a JSON list).
//! * commands `provider-<id>`: the configuration of each sign-in provider it
//!   contributes (`corp-oidc`, `corp-saml`, `corp-sso`, and `broken`, whose
//!   issuer is no URL).

use magflock_sdk::prelude::*;
use serde_json::{Value, json};

const KEEP: usize = 200;

fn load(key: &str) -> Vec<Value> {
    host::kv::get(key)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn append(key: &str, item: Value) -> Result<(), String> {
    let mut list = load(key);
    list.push(item);
    if list.len() > KEEP {
        list.drain(..list.len() - KEEP);
    }
    host::kv::set(key, Value::Array(list).to_string().as_bytes())
}

fn heard_audit(entry: &Value) -> Result<HookOutcome, String> {
    host::auth_audit::read(r#"{"limit": 1}"#)?;
    let offers = load_count("audit_offers") + 1;
    host::kv::set("audit_offers", offers.to_string().as_bytes())?;
    append(
        "audit_seen",
        json!({"seq": entry["seq"], "action": entry["action"], "target": entry["target"]}),
    )?;
    Ok(HookOutcome::Allow)
}

fn load_count(key: &str) -> u64 {
    host::kv::get(key)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}

fn resolve(mut payload: Value) -> Result<HookOutcome, String> {
    append("resolver_seen", payload["resource"].clone())?;
    let auditor = payload["roles"] == json!(["auditor"]);
    // MagUI's server function and the admin API's route (MagGate).
    let chain_check = ["/api/verify_audit_chain", "/v1/audit/verify"];
    if auditor && chain_check.iter().any(|r| payload["resource"] == *r) {
        return Ok(HookOutcome::Deny(
            "the warden keeps auditors from re-checking the chain".into(),
        ));
    }
    payload["roles"] = json!(["owner"]);
    Ok(HookOutcome::Modify(payload))
}

/// A provider's configuration (with a secret MagAuth must never show).
fn provider(protocol: &str, issuer: &str) -> String {
    json!({
        "protocol": protocol,
        "issuer": issuer,
        "client_id": "magflock",
        "client_secret": "warden-secret",
    })
    .to_string()
}

struct Warden;

impl Extension for Warden {
    fn handle_hook(hook: Hook) -> Result<HookOutcome, String> {
        let payload = hook.payload.clone();
        match hook.name.as_str() {
            "permission_resolver" => resolve(payload),
            "audit_emitter" => heard_audit(&payload["entry"]),
            "role_template" => append("templates_heard", payload).map(|()| HookOutcome::Allow),
            name @ ("register_oidc_provider"
            | "register_saml_provider"
            | "register_sso_provider") => append(
                "providers_heard",
                json!({
                    "hook": name,
                    "realm": payload["realm"],
                    "extension": payload["extension"],
                    "protocol": payload["protocol"],
                }),
            )
            .map(|()| HookOutcome::Allow),
            _ => Ok(HookOutcome::Allow),
        }
    }

    fn run_command(command: &str, args: Vec<String>) -> Result<String, String> {
        match (command, args.split_first()) {
            ("define-role", Some((name, permissions))) => {
                host::auth_roles::define_role(name, permissions)?;
                Ok(format!("defined {name}"))
            }
            ("providers-heard", _) => Ok(Value::Array(load("providers_heard")).to_string()),
            ("provider-corp-oidc", _) => Ok(provider("oidc", "https://id.corp.example")),
            ("provider-corp-saml", _) => Ok(provider("saml", "https://saml.corp.example/idp")),
            ("provider-corp-sso", _) => Ok(provider("sso", "https://sso.corp.example")),
            ("provider-broken", _) => Ok(provider("oidc", "not a url")),
            _ => Err(format!(
                "usage: define-role <name> <permission>... | providers-heard | provider-<id> (got {command})"
            )),
        }
    }
}

magflock_sdk::extension!(Warden);
