//! Switchboard: MagWS's test extension.
//! * `start` opens its channels: `lobby`, `vault`, and `feed`, which carries
//!   the bus's `database.*` events.
//! * `register_channel`: anyone of the project may join `lobby` and `feed`;
//!   `vault` only clients of project `bank` (others are denied with a reason).
//! * `broadcast_adapter`: drops messages whose `text` says "spam" and stamps
//!   every JSON object message with `"stamped_by": "test/switchboard"`.
//! * `presence_stream`, `message_history`, `replay_events`,
//!   `subscribe_to_event`: each call is recorded in its key-value store.
//! * Commands: `announce <channel> <text>` broadcasts `{"text": …}` and
//!   answers the number of recipients; `report` answers what was recorded.

use magflock_sdk::prelude::*;
use serde_json::{Value, json};

const ME: &str = "test/switchboard";

fn load(key: &str) -> Value {
    host::kv::get(key)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null)
}

fn record(hook: &str, payload: &Value) -> Result<(), String> {
    let mut seen = match load("seen") {
        Value::Array(list) => list,
        _ => Vec::new(),
    };
    seen.push(json!({"hook": hook, "payload": payload}));
    host::kv::set("seen", Value::Array(seen).to_string().as_bytes())
}

fn admit(payload: &Value) -> HookOutcome {
    let channel = payload["channel"].as_str().unwrap_or_default();
    let project = payload["project_id"].as_str().unwrap_or_default();
    if channel.ends_with("/vault") && project != "bank" {
        return HookOutcome::Deny(format!(
            "the vault is open to project bank only, not {project}"
        ));
    }
    HookOutcome::Allow
}

fn adapt(mut payload: Value) -> HookOutcome {
    if payload["message"]["text"]
        .as_str()
        .is_some_and(|t| t.contains("spam"))
    {
        return HookOutcome::Deny("spam is dropped by the switchboard".into());
    }
    if let Some(message) = payload["message"].as_object_mut() {
        message.insert("stamped_by".into(), json!(ME));
        return HookOutcome::Modify(payload);
    }
    HookOutcome::Allow
}

struct Switchboard;

impl Extension for Switchboard {
    fn start() -> Result<(), String> {
        host::realtime_channels::open("lobby")?;
        host::realtime_channels::open("vault")?;
        host::realtime_channels::open(&json!({"id": "feed", "events": ["database.*"]}).to_string())
    }

    fn handle_hook(hook: Hook) -> Result<HookOutcome, String> {
        match hook.name.as_str() {
            "register_channel" => Ok(admit(&hook.payload)),
            "broadcast_adapter" => Ok(adapt(hook.payload)),
            "presence_stream" | "message_history" | "replay_events" | "subscribe_to_event" => {
                record(&hook.name, &hook.payload).map(|()| HookOutcome::Allow)
            }
            _ => Ok(HookOutcome::Allow),
        }
    }

    fn run_command(command: &str, args: Vec<String>) -> Result<String, String> {
        match (command, args.as_slice()) {
            ("announce", [channel, text]) => {
                let message = json!({"text": text}).to_string();
                host::realtime_broadcast::send(channel, &message).map(|n| n.to_string())
            }
            ("report", []) => Ok(load("seen").to_string()),
            _ => Err(format!(
                "unknown command '{command}' (announce <channel> <text>, report)"
            )),
        }
    }
}

magflock_sdk::extension!(Switchboard);
