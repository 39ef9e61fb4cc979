//! Steady: the kernel's well-behaved extension. Every command uses exactly
//! one host import, so tests can grant and revoke capabilities one by one.
//!
//! Its lifecycle is observable through its key-value store, so lifecycle
//! tests can steer it: `install` records `installed` (and fails while
//! `fail-install` is set), `init` records the configuration it received,
//! `start`/`stop` record `running`, and the health check reports unhealthy
//! while `health` is `unhealthy` or the configuration says `healthy = false`.

use magflock_sdk::prelude::*;

struct Steady;

/// The first list of objects in `data` as CSV (a header of their keys).
fn csv(data: &serde_json::Value) -> Result<String, String> {
    let rows = match data {
        serde_json::Value::Array(rows) => rows,
        serde_json::Value::Object(map) => map
            .values()
            .find_map(|v| v.as_array())
            .ok_or("no list to write as CSV")?,
        _ => return Err("no list to write as CSV".into()),
    };
    let keys: Vec<String> = rows
        .first()
        .and_then(|r| r.as_object())
        .map(|r| r.keys().cloned().collect())
        .unwrap_or_default();
    let field = |v: &serde_json::Value| {
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        if text.contains([',', '"', '\n']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text
        }
    };
    let mut out = keys.join(",");
    for row in rows {
        let cells: Vec<String> = keys.iter().map(|k| field(&row[k])).collect();
        out.push('\n');
        out.push_str(&cells.join(","));
    }
    Ok(out)
}

impl Extension for Steady {
    fn install() -> Result<(), String> {
        if host::kv::get("fail-install").is_some() {
            return Err("install refused: fail-install is set".into());
        }
        host::kv::set("installed", b"yes")
    }

    fn init(config: &str) -> Result<(), String> {
        host::kv::set("config", config.as_bytes())
    }

    fn start() -> Result<(), String> {
        host::kv::set("running", b"yes")
    }

    fn stop() -> Result<(), String> {
        host::kv::set("running", b"no")
    }

    fn health_check() -> HealthReport {
        let forced = host::kv::get("health").is_some_and(|v| v == b"unhealthy");
        let config = host::kv::get("config").unwrap_or_default();
        let configured = serde_json::from_slice::<serde_json::Value>(&config)
            .ok()
            .and_then(|c| c.get("healthy").and_then(|h| h.as_bool()))
            .unwrap_or(true);
        if forced || !configured {
            HealthReport {
                status: HealthStatus::Unhealthy,
                message: "told to be unhealthy".into(),
            }
        } else {
            HealthReport {
                status: HealthStatus::Healthy,
                message: "steady".into(),
            }
        }
    }

    fn run_command(command: &str, args: Vec<String>) -> Result<String, String> {
        match command {
            "ping" => Ok("pong".into()),
            "format-csv" => {
                let data = args
                    .get(1)
                    .ok_or("format-csv needs the command and its data")?;
                csv(&serde_json::from_str(data).map_err(|e| e.to_string())?)
            }
            "metric" => {
                host::system_metrics::counter("steady.pings", 1)?;
                Ok("counted".into())
            }
            "publish" => host::events::publish("extension.steady.pinged", r#"{"ok":true}"#),
            "scratch" => {
                let text = args.first().cloned().unwrap_or_default();
                host::filesystem_temp::write("scratch.txt", text.as_bytes())?;
                let back = host::filesystem_temp::read("scratch.txt")?;
                String::from_utf8(back).map_err(|e| e.to_string())
            }
            "fetch" => {
                let url = args.first().ok_or("fetch needs a URL")?;
                let response =
                    host::network_outbound::fetch(&host::network_outbound::OutboundRequest {
                        method: "GET".into(),
                        url: url.clone(),
                        headers: Vec::new(),
                        body: Vec::new(),
                        timeout_ms: 2_000,
                    })?;
                Ok(format!(
                    "{} {}",
                    response.status,
                    String::from_utf8_lossy(&response.body)
                ))
            }
            "remember" => {
                let value = args.first().cloned().unwrap_or_default();
                host::kv::set("memo", value.as_bytes())?;
                let back = host::kv::get("memo").unwrap_or_default();
                Ok(String::from_utf8_lossy(&back).into_owned())
            }
            other => Err(format!("unknown command '{other}'")),
        }
    }

    fn handle_hook(hook: Hook) -> Result<HookOutcome, String> {
        if hook.name == "health_check_report" {
            host::system_metrics::gauge("steady.healthy", 1.0)?;
            return Ok(HookOutcome::Allow);
        }
        if hook.name == "transform_response" {
            let mut response = hook.payload;
            response["headers"]["x-steady"] = serde_json::json!("seen");
            return Ok(HookOutcome::Modify(response));
        }
        if hook.name != "wrap_request" {
            return Ok(HookOutcome::Allow);
        }
        let mut request: payloads::WrapRequest = hook.payload_as()?;
        if request.headers.contains_key("x-forbidden") {
            return Ok(HookOutcome::Deny(
                "the x-forbidden header is not allowed".into(),
            ));
        }
        request.tagged_by = Some("magflock/steady".into());
        let payload = serde_json::to_value(&request).map_err(|e| e.to_string())?;
        Ok(HookOutcome::Modify(payload))
    }

    fn handle_event(event: Event) -> Result<(), String> {
        let key = format!("seen/{}", event.event_id);
        host::kv::set(&key, event.event_type.as_bytes())
    }

    fn render_widget(widget_id: &str, _props: serde_json::Value) -> Result<View, String> {
        match widget_id {
            "pings" => Ok(View::Stat {
                label: "Events seen".into(),
                value: host::kv::keys("seen/").len().to_string(),
            }),
            other => Err(format!("unknown widget '{other}'")),
        }
    }
}

magflock_sdk::extension!(Steady);
