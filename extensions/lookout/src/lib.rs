//! Lookout: MagUI's test and example extension for widgets, panels and the
//! MagUI hooks.
//!
//! * `on_user_action`: keeps the last [`KEEP`] admin actions (user, action,
//!   target) in its key-value store; the `recent-actions` widget lists them.
//! * `register_widget` / `register_panel`: counts how often MagUI announced
//!   its dashboard and navigation (the `told` command reports the counts).
//! * The `notes` panel lists notes and has a form that runs `add-note`.
//! * The `malformed` widget answers a table whose row is shorter than its
//!   header: MagUI must show an error inside the widget, not break the page.

use magflock_sdk::prelude::*;
use magflock_sdk::view::{FieldKind, FormField};

struct Lookout;

/// How many admin actions and notes are kept.
const KEEP: usize = 10;

/// The entries under `prefix`, oldest first (keys are zero-padded counters).
fn listed(prefix: &str) -> Vec<serde_json::Value> {
    host::kv::keys(prefix)
        .iter()
        .filter_map(|k| host::kv::get(k))
        .filter_map(|v| serde_json::from_slice(&v).ok())
        .collect()
}

/// Appends `value` under `prefix`, keeping the newest [`KEEP`].
fn append(prefix: &str, value: &serde_json::Value) -> Result<(), String> {
    // The counter lives apart from the entries it numbers.
    let count_key = format!("count/{prefix}");
    let next = counter(&count_key) + 1;
    host::kv::set(&count_key, next.to_string().as_bytes())?;
    host::kv::set(&format!("{prefix}{next:012}"), value.to_string().as_bytes())?;
    let mut keys = host::kv::keys(prefix);
    while keys.len() > KEEP {
        host::kv::delete(&keys.remove(0))?;
    }
    Ok(())
}

fn counter(key: &str) -> u64 {
    host::kv::get(key)
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn text(value: &serde_json::Value, key: &str) -> String {
    value[key].as_str().unwrap_or_default().to_string()
}

impl Extension for Lookout {
    fn handle_hook(hook: Hook) -> Result<HookOutcome, String> {
        match hook.name.as_str() {
            "on_user_action" => append("action/", &hook.payload)?,
            "register_widget" | "register_panel" => {
                let key = format!("told/{}", hook.name);
                host::kv::set(&key, (counter(&key) + 1).to_string().as_bytes())?;
            }
            _ => {}
        }
        Ok(HookOutcome::Allow)
    }

    fn run_command(command: &str, args: Vec<String>) -> Result<String, String> {
        match command {
            "add-note" => {
                let note = args
                    .iter()
                    .find_map(|a| a.strip_prefix("text="))
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .ok_or("write a note first (text=...)")?;
                append("note/", &serde_json::json!({ "text": note }))?;
                Ok(format!("Noted: {note}"))
            }
            "told" => Ok(serde_json::json!({
                "register_widget": counter("told/register_widget"),
                "register_panel": counter("told/register_panel"),
                "actions": listed("action/").len(),
            })
            .to_string()),
            other => Err(format!("unknown command '{other}'")),
        }
    }

    fn render_widget(widget_id: &str, _props: serde_json::Value) -> Result<View, String> {
        match widget_id {
            "recent-actions" => {
                let rows: Vec<Vec<String>> = listed("action/")
                    .iter()
                    .rev()
                    .map(|a| vec![text(a, "action"), text(a, "target")])
                    .collect();
                Ok(View::Table {
                    columns: vec!["Action".into(), "Target".into()],
                    rows,
                })
            }
            "malformed" => Ok(View::Table {
                columns: vec!["One".into(), "Two".into()],
                rows: vec![vec!["only one cell".into()]],
            }),
            "notes" => {
                let notes: Vec<Vec<String>> = listed("note/")
                    .iter()
                    .rev()
                    .map(|n| vec![text(n, "text")])
                    .collect();
                Ok(View::Stack {
                    children: vec![
                        View::Heading {
                            text: "Notes for the team".into(),
                        },
                        View::Table {
                            columns: vec!["Note".into()],
                            rows: notes,
                        },
                        View::Form {
                            command: "add-note".into(),
                            submit: "Add note".into(),
                            fields: vec![FormField {
                                name: "text".into(),
                                label: "Note".into(),
                                kind: FieldKind::Text,
                                value: None,
                                options: Vec::new(),
                            }],
                        },
                    ],
                })
            }
            other => Err(format!("unknown widget '{other}'")),
        }
    }
}

magflock_sdk::extension!(Lookout);
