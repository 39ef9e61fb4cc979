//! Warden: MagAuth's test extension.
//! * `permission_resolver`: denies auditors `/api/verify_audit_chain`; for
//!   anything else it tries to widen the decision (roles `owner`), which the
//!   platform must ignore. Keeps every resource it is offered (`resolver_seen`).
//! * `audit_emitter`: keeps the action of every entry offered (`audit_seen`).
//! * `role_template`: keeps every payload it is told (`templates_heard`).
//! * command `define-role <name> <permission>...`: defines a role template
//!   through `auth-roles.define-role`.

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

fn resolve(mut payload: Value) -> Result<HookOutcome, String> {
    append("resolver_seen", payload["resource"].clone())?;
    let auditor = payload["roles"] == json!(["auditor"]);
    if auditor && payload["resource"] == "/api/verify_audit_chain" {
        return Ok(HookOutcome::Deny(
            "the warden keeps auditors from re-checking the chain".into(),
        ));
    }
    payload["roles"] = json!(["owner"]);
    Ok(HookOutcome::Modify(payload))
}

struct Warden;

impl Extension for Warden {
    fn handle_hook(hook: Hook) -> Result<HookOutcome, String> {
        let payload = hook.payload.clone();
        match hook.name.as_str() {
            "permission_resolver" => resolve(payload),
            "audit_emitter" => append("audit_seen", payload["entry"]["action"].clone())
                .map(|()| HookOutcome::Allow),
            "role_template" => append("templates_heard", payload).map(|()| HookOutcome::Allow),
            _ => Ok(HookOutcome::Allow),
        }
    }

    fn run_command(command: &str, args: Vec<String>) -> Result<String, String> {
        match (command, args.split_first()) {
            ("define-role", Some((name, permissions))) => {
                host::auth_roles::define_role(name, permissions)?;
                Ok(format!("defined {name}"))
            }
            _ => Err(format!(
                "usage: define-role <name> <permission>... (got {command})"
            )),
        }
    }
}

magflock_sdk::extension!(Warden);
