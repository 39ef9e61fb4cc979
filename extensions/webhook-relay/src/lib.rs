//! Webhook Relay: forwards platform events to webhook URLs.
//!
//! Each configured route pairs event patterns (`*`, `database.*`, an exact
//! type) with a URL. An event matching a route is POSTed there as JSON (the
//! event schema) with `x-magflock-event`, `x-magflock-event-id` and
//! `x-magflock-delivery` headers. A delivery that fails with a network error,
//! 408, 429 or 5xx waits and is retried with doubling back-off (from
//! `backoff_s`, at most an hour) until `max_attempts`; other answers fail it
//! at once. Retries run whenever an event arrives and on the `retry` command
//! (the scheduler's jobs cannot be delayed, so they cannot express back-off).
//!
//! Key-value layout: `config`; `d/<event time>/<event id>/<route>` one
//! delivery (body kept until delivered); `waiting` the deliveries due for a
//! retry and when; `summary` the totals.
//!
//! A call to a host outside the grant stops the extension, so every URL is
//! checked against [`ALLOWED_HOSTS`] (the manifest's list) before any request.

use magflock_sdk::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The `hosts` of `network.outbound` in magflock.toml.
const ALLOWED_HOSTS: &[&str] = &["hooks.example.com", "127.0.0.1", "localhost"];
/// No request starts unless it can end within this much of a call (the
/// deadline is 20 s).
const SEND_WINDOW_MS: u128 = 15_000;
/// Deliveries waiting for a retry; past this the oldest is given up.
const MAX_WAITING: usize = 200;
/// Larger events are sent once and not kept for retries.
const MAX_STORED_BODY: usize = 48 * 1024;
const MAX_BACKOFF_S: u64 = 3600;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
struct Config {
    routes: Vec<Route>,
    max_attempts: u32,
    backoff_s: u64,
    timeout_ms: u32,
    keep: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            routes: Vec::new(),
            max_attempts: 5,
            backoff_s: 30,
            timeout_ms: 3000,
            keep: 50,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct Route {
    events: Patterns,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// `events = "database.*"` or `events = ["database.*", "auth.*"]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
enum Patterns {
    One(String),
    Many(Vec<String>),
}

impl Route {
    fn patterns(&self) -> &[String] {
        match &self.events {
            Patterns::One(p) => std::slice::from_ref(p),
            Patterns::Many(list) => list,
        }
    }

    fn matches(&self, event_type: &str) -> bool {
        self.patterns().iter().any(|p| {
            p == "*"
                || p == event_type
                || p.strip_suffix(".*").is_some_and(|prefix| {
                    event_type
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('.'))
                })
        })
    }
}

impl Config {
    fn check(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if !(1..=20).contains(&self.max_attempts) {
            problems.push("`max_attempts` must be 1 to 20".to_string());
        }
        if !(1..=MAX_BACKOFF_S).contains(&self.backoff_s) {
            problems.push(format!("`backoff_s` must be 1 to {MAX_BACKOFF_S}"));
        }
        if !(100..=10_000).contains(&self.timeout_ms) {
            problems.push("`timeout_ms` must be 100 to 10000".to_string());
        }
        if !(1..=500).contains(&self.keep) {
            problems.push("`keep` must be 1 to 500".to_string());
        }
        for (i, route) in self.routes.iter().enumerate() {
            if route.patterns().is_empty() {
                problems.push(format!("routes[{i}].events: list at least one pattern"));
            }
            for p in route.patterns() {
                let ok = p == "*" || (!p.starts_with('.') && !p.ends_with('.') && p.contains('.'));
                if !ok || p.chars().any(char::is_whitespace) {
                    problems.push(format!(
                        "routes[{i}].events: '{p}' is not '*', '<prefix>.*' or an event type"
                    ));
                }
            }
            if let Err(e) = check_url(&route.url) {
                problems.push(format!("routes[{i}].url: {e}"));
            }
            for name in route.headers.keys() {
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    problems.push(format!(
                        "routes[{i}].headers: '{name}' is not a header name"
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("configuration: {}", problems.join("; ")))
        }
    }
}

/// The host of an http(s) URL, lower-case. Conservative on purpose: what it
/// accepts, the platform's URL parser reads as the same host.
fn url_host(url: &str) -> Result<String, String> {
    let scheme_end = url
        .find("://")
        .ok_or("must start with http:// or https://")?;
    if !matches!(
        url[..scheme_end].to_ascii_lowercase().as_str(),
        "http" | "https"
    ) {
        return Err("must start with http:// or https://".into());
    }
    if url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return Err("must not contain spaces, control characters or '\\'".into());
    }
    let rest = &url[scheme_end + 3..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("user names in URLs are not supported".into());
    }
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    }
    .to_ascii_lowercase();
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(format!("'{host}' is not a host name this relay accepts"));
    }
    Ok(host)
}

fn check_url(url: &str) -> Result<(), String> {
    let host = url_host(url)?;
    if ALLOWED_HOSTS.contains(&host.as_str()) {
        Ok(())
    } else {
        Err(format!(
            "host '{host}' is not in the network allowlist ({})",
            ALLOWED_HOSTS.join(", ")
        ))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Waiting,
    Delivered,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
struct Delivery {
    event_id: String,
    event_type: String,
    url: String,
    created_at: String,
    status: Status,
    attempts: u32,
    #[serde(default)]
    http_status: Option<u16>,
    #[serde(default)]
    last_error: Option<String>,
    #[serde(default)]
    last_attempt_at: Option<String>,
    #[serde(default)]
    next_attempt_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
struct Waiting {
    key: String,
    due_ms: u64,
    attempts: u32,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
struct Summary {
    delivered: u64,
    failed: u64,
    last_failure: Option<String>,
}

fn load<T: for<'de> Deserialize<'de> + Default>(key: &str) -> T {
    host::kv::get(key)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn save<T: Serialize>(key: &str, value: &T) -> Result<(), String> {
    let bytes = serde_json::to_vec(value).map_err(|e| e.to_string())?;
    host::kv::set(key, &bytes)
}

fn load_delivery(key: &str) -> Option<Delivery> {
    host::kv::get(key).and_then(|bytes| serde_json::from_slice(&bytes).ok())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `ms` since the Unix epoch as `2025-10-05T10:23:45.123Z`.
fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Time left in this call for one more request.
struct Clock {
    started: Instant,
    timeout_ms: u32,
}

impl Clock {
    fn start(config: &Config) -> Clock {
        Clock {
            started: Instant::now(),
            timeout_ms: config.timeout_ms,
        }
    }
    fn has_time(&self) -> bool {
        self.started.elapsed().as_millis() + u128::from(self.timeout_ms) <= SEND_WINDOW_MS
    }
}

fn event_json(event: &Event) -> String {
    json!({
        "event_id": event.event_id,
        "event_type": event.event_type,
        "timestamp": event.timestamp,
        "source": {"component": event.source.component, "extension": event.source.extension},
        "data": event.data,
        "context": {
            "project_id": event.context.project_id,
            "user_id": event.context.user_id,
            "trace_id": event.context.trace_id,
        },
    })
    .to_string()
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// A failed send: the HTTP status if there was one, the error, and whether
/// trying again may help.
struct Failure {
    status: Option<u16>,
    error: String,
    retry: bool,
}

/// POSTs `body` to `url`; the HTTP status on 2xx.
fn post(
    url: &str,
    headers: &[(&str, &str)],
    extra: &BTreeMap<String, String>,
    body: &str,
    timeout_ms: u32,
) -> Result<u16, Failure> {
    check_url(url).map_err(|error| Failure {
        status: None,
        error,
        retry: false,
    })?;
    let mut all: Vec<host::Header> = [
        ("content-type", "application/json"),
        ("user-agent", "magflock-webhook-relay/1.0"),
    ]
    .iter()
    .chain(headers)
    .map(|(name, value)| host::Header {
        name: (*name).into(),
        value: (*value).into(),
    })
    .collect();
    all.extend(extra.iter().map(|(name, value)| host::Header {
        name: name.clone(),
        value: value.clone(),
    }));
    let request = host::network_outbound::OutboundRequest {
        method: "POST".into(),
        url: url.into(),
        headers: all,
        body: body.as_bytes().to_vec(),
        timeout_ms,
    };
    match host::network_outbound::fetch(&request) {
        Ok(response) if (200..300).contains(&response.status) => Ok(response.status),
        Ok(response) => {
            let status = response.status;
            let retry = status == 408 || status == 429 || status >= 500;
            let mut error = format!("HTTP {status}");
            let text = snippet(&response.body);
            if !text.is_empty() {
                error = format!("{error}: {text}");
            }
            if !retry {
                error.push_str(" (not retried)");
            }
            Err(Failure {
                status: Some(status),
                error,
                retry,
            })
        }
        Err(error) => Err(Failure {
            status: None,
            error,
            retry: true,
        }),
    }
}

/// One attempt of a delivery; updates its status, attempts and schedule.
fn attempt(config: &Config, key: &str, d: &mut Delivery) {
    let Some(body) = d.body.as_deref() else {
        d.status = Status::Failed;
        d.last_error = Some("the event was too large to keep, so it cannot be resent".into());
        return;
    };
    d.attempts += 1;
    let now = now_ms();
    d.last_attempt_at = Some(rfc3339(now));
    let id = key.trim_start_matches("d/");
    let headers = [
        ("x-magflock-event", d.event_type.as_str()),
        ("x-magflock-event-id", d.event_id.as_str()),
        ("x-magflock-delivery", id),
    ];
    match post(&d.url, &headers, &d.headers, body, config.timeout_ms) {
        Ok(status) => {
            d.status = Status::Delivered;
            d.http_status = Some(status);
            d.last_error = None;
            d.next_attempt_ms = None;
        }
        Err(failure) => {
            d.http_status = failure.status;
            d.last_error = Some(failure.error);
            if failure.retry && d.attempts < config.max_attempts {
                let exponent = (d.attempts - 1).min(16);
                let wait_s = (config.backoff_s << exponent).min(MAX_BACKOFF_S);
                d.status = Status::Waiting;
                d.next_attempt_ms = Some(now + wait_s * 1000);
            } else {
                d.status = Status::Failed;
                d.next_attempt_ms = None;
            }
        }
    }
}

/// The waiting list and totals, loaded once per call and saved at its end.
struct Book {
    waiting: Vec<Waiting>,
    summary: Summary,
}

impl Book {
    fn load() -> Book {
        Book {
            waiting: load("waiting"),
            summary: load("summary"),
        }
    }

    fn save(&self) -> Result<(), String> {
        save("waiting", &self.waiting)?;
        save("summary", &self.summary)
    }

    /// Stores a delivery after an attempt (or before its first) and books it.
    fn record(&mut self, key: &str, mut d: Delivery) -> Result<(), String> {
        self.waiting.retain(|w| w.key != key);
        if d.status != Status::Delivered
            && d.body.as_ref().is_some_and(|b| b.len() > MAX_STORED_BODY)
        {
            d.body = None;
            if d.status == Status::Waiting {
                d.status = Status::Failed;
                d.next_attempt_ms = None;
                let error = d.last_error.take().unwrap_or_default();
                d.last_error = Some(format!(
                    "{error} (the event is too large to keep for a retry)"
                ));
            }
        }
        match d.status {
            Status::Waiting => self.waiting.push(Waiting {
                key: key.to_string(),
                due_ms: d.next_attempt_ms.unwrap_or(0),
                attempts: d.attempts,
            }),
            Status::Delivered => {
                self.summary.delivered += 1;
                d.body = None;
                d.headers.clear();
            }
            Status::Failed => {
                self.summary.failed += 1;
                self.summary.last_failure = Some(format!(
                    "{}: {}",
                    key.trim_start_matches("d/"),
                    d.last_error.as_deref().unwrap_or("failed")
                ));
            }
        }
        save(key, &d)?;
        if self.waiting.len() > MAX_WAITING {
            let oldest = self.waiting.remove(0);
            if let Some(mut old) = load_delivery(&oldest.key) {
                old.status = Status::Failed;
                old.next_attempt_ms = None;
                old.last_error = Some(format!(
                    "given up: more than {MAX_WAITING} deliveries were waiting"
                ));
                self.summary.failed += 1;
                save(&oldest.key, &old)?;
            }
        }
        Ok(())
    }

    /// Attempts the deliveries under `keys` while time allows. Returns
    /// (delivered, still waiting, failed, not tried).
    fn retry(
        &mut self,
        config: &Config,
        clock: &Clock,
        keys: &[String],
    ) -> Result<[usize; 4], String> {
        let mut counts = [0; 4];
        for key in keys {
            if !clock.has_time() {
                counts[3] += 1;
                continue;
            }
            let Some(mut d) = load_delivery(key) else {
                self.waiting.retain(|w| &w.key != key);
                continue;
            };
            if d.status == Status::Delivered {
                continue;
            }
            if d.status == Status::Failed {
                // Counted again if it fails again.
                self.summary.failed = self.summary.failed.saturating_sub(1);
            }
            attempt(config, key, &mut d);
            counts[match d.status {
                Status::Delivered => 0,
                Status::Waiting => 1,
                Status::Failed => 2,
            }] += 1;
            self.record(key, d)?;
        }
        Ok(counts)
    }

    fn due(&self, now: u64) -> Vec<String> {
        self.waiting
            .iter()
            .filter(|w| w.due_ms <= now)
            .map(|w| w.key.clone())
            .collect()
    }
}

/// Deletes the oldest finished deliveries beyond `keep`.
fn prune(keep: usize, book: &Book) -> Result<(), String> {
    let finished: Vec<String> = host::kv::keys("d/")
        .into_iter()
        .filter(|k| !book.waiting.iter().any(|w| &w.key == k))
        .collect();
    for key in finished.iter().take(finished.len().saturating_sub(keep)) {
        host::kv::delete(key)?;
    }
    Ok(())
}

fn config() -> Config {
    load("config")
}

/// The newest `limit` deliveries, newest first.
fn recent(limit: usize) -> Vec<(String, Delivery)> {
    host::kv::keys("d/")
        .into_iter()
        .rev()
        .take(limit)
        .filter_map(|k| load_delivery(&k).map(|d| (k.trim_start_matches("d/").to_string(), d)))
        .collect()
}

fn next_attempt(d: &Delivery, now: u64) -> String {
    match (d.status, d.next_attempt_ms) {
        (Status::Waiting, Some(due)) if due > now => format!("in {} s", (due - now).div_ceil(1000)),
        (Status::Waiting, _) => "now".into(),
        _ => String::new(),
    }
}

struct WebhookRelay;

impl Extension for WebhookRelay {
    fn init(config: &str) -> Result<(), String> {
        let config: Config = if config.trim().is_empty() {
            Config::default()
        } else {
            serde_json::from_str(config).map_err(|e| format!("configuration: {e}"))?
        };
        config.check()?;
        save("config", &config)
    }

    fn health_check() -> HealthReport {
        let config = config();
        let book = Book::load();
        let retrying = book.waiting.iter().filter(|w| w.attempts > 0).count();
        let mut message = format!(
            "{} routes; {} delivered, {} failed, {} waiting",
            config.routes.len(),
            book.summary.delivered,
            book.summary.failed,
            book.waiting.len()
        );
        if let Some(last) = book
            .summary
            .last_failure
            .as_ref()
            .filter(|_| book.summary.failed > 0)
        {
            message.push_str(&format!("; last failure {last}"));
        }
        let status = if retrying > 0 {
            HealthStatus::Degraded
        } else {
            HealthStatus::Healthy
        };
        HealthReport { status, message }
    }

    fn handle_event(event: Event) -> Result<(), String> {
        let config = config();
        let clock = Clock::start(&config);
        let mut book = Book::load();
        let had_waiting = !book.waiting.is_empty();
        let mut added = false;
        for (i, route) in config.routes.iter().enumerate() {
            if !route.matches(&event.event_type) {
                continue;
            }
            let key = format!("d/{}/{}/{i}", event.timestamp, event.event_id);
            if host::kv::get(&key).is_some() {
                continue; // a redelivery of an event already handled
            }
            let mut d = Delivery {
                event_id: event.event_id.clone(),
                event_type: event.event_type.clone(),
                url: route.url.clone(),
                created_at: event.timestamp.clone(),
                status: Status::Waiting,
                attempts: 0,
                http_status: None,
                last_error: None,
                last_attempt_at: None,
                next_attempt_ms: None,
                headers: route.headers.clone(),
                body: Some(event_json(&event)),
            };
            if clock.has_time() {
                attempt(&config, &key, &mut d);
            }
            book.record(&key, d)?;
            added = true;
        }
        if had_waiting {
            let due = book.due(now_ms());
            book.retry(&config, &clock, &due)?;
        }
        if added || had_waiting {
            book.save()?;
        }
        if added {
            prune(config.keep, &book)?;
        }
        Ok(())
    }

    fn render_widget(widget_id: &str, props: Value) -> Result<View, String> {
        if widget_id != "deliveries" {
            return Err(format!("unknown panel '{widget_id}'"));
        }
        let config = config();
        let book = Book::load();
        let limit = props.get("limit").and_then(Value::as_u64).unwrap_or(25) as usize;
        let now = now_ms();
        let rows: Vec<Vec<String>> = recent(limit)
            .into_iter()
            .map(|(_, d)| {
                vec![
                    d.created_at.clone(),
                    d.event_type.clone(),
                    d.url.clone(),
                    d.status.as_str().into(),
                    d.attempts.to_string(),
                    d.http_status.map(|s| s.to_string()).unwrap_or_default(),
                    d.last_error.clone().unwrap_or_default(),
                    d.last_attempt_at.clone().unwrap_or_default(),
                    next_attempt(&d, now),
                ]
            })
            .collect();
        let stat = |label: &str, value: String| View::Stat {
            label: label.into(),
            value,
        };
        let mut children = vec![
            View::Heading {
                text: "Webhook deliveries".into(),
            },
            stat("Routes", config.routes.len().to_string()),
            stat("Delivered", book.summary.delivered.to_string()),
            stat("Waiting", book.waiting.len().to_string()),
            stat("Failed", book.summary.failed.to_string()),
        ];
        if config.routes.is_empty() {
            children.push(View::Text {
                text: "No routes configured: add `routes` to this extension's configuration."
                    .into(),
            });
        }
        if rows.is_empty() {
            children.push(View::Text {
                text: "No deliveries yet.".into(),
            });
        } else {
            children.push(View::Table {
                columns: [
                    "Event time",
                    "Event",
                    "URL",
                    "Status",
                    "Attempts",
                    "HTTP",
                    "Last error",
                    "Last attempt",
                    "Next attempt",
                ]
                .map(String::from)
                .to_vec(),
                rows,
            });
        }
        children.push(View::Button {
            label: "Retry undelivered now".into(),
            command: "retry".into(),
        });
        Ok(View::Stack { children })
    }

    fn run_command(command: &str, args: Vec<String>) -> Result<String, String> {
        match command {
            "deliveries" => {
                let limit = match args.first() {
                    Some(n) => n.parse().map_err(|_| "usage: deliveries [N]".to_string())?,
                    None => 20,
                };
                let now = now_ms();
                let lines: Vec<String> = recent(limit)
                    .into_iter()
                    .map(|(id, d)| {
                        let mut line = format!(
                            "{id}  {}  {}  {} attempt(s)  {}",
                            d.status.as_str(),
                            d.event_type,
                            d.attempts,
                            d.url
                        );
                        if let Some(status) = d.http_status {
                            line.push_str(&format!("  HTTP {status}"));
                        }
                        if let Some(error) = &d.last_error {
                            line.push_str(&format!("  error: {error}"));
                        }
                        let next = next_attempt(&d, now);
                        if !next.is_empty() {
                            line.push_str(&format!("  next: {next}"));
                        }
                        line
                    })
                    .collect();
                Ok(if lines.is_empty() {
                    "no deliveries yet".into()
                } else {
                    lines.join("\n")
                })
            }
            "retry" => retry_command(args.first().map(String::as_str)),
            "test" => {
                let url = args.first().ok_or("usage: test <url>")?;
                let config = config();
                let now = now_ms();
                let body = json!({
                    "event_type": "extension.webhook_relay.test",
                    "timestamp": rfc3339(now),
                    "data": {"message": "a test delivery from magflock/webhook-relay"},
                })
                .to_string();
                let started = Instant::now();
                let headers = [("x-magflock-event", "extension.webhook_relay.test")];
                match post(url, &headers, &BTreeMap::new(), &body, config.timeout_ms) {
                    Ok(status) => Ok(format!(
                        "HTTP {status} from {url} in {} ms",
                        started.elapsed().as_millis()
                    )),
                    Err(failure) => {
                        Err(format!("test delivery to {url} failed: {}", failure.error))
                    }
                }
            }
            other => Err(format!(
                "unknown command '{other}' (deliveries, retry, test)"
            )),
        }
    }
}

/// `retry`: every undelivered delivery now, back-off ignored; failed ones get
/// one more attempt. `retry <id>`: the one delivery whose id contains `<id>`.
fn retry_command(wanted: Option<&str>) -> Result<String, String> {
    let config = config();
    let clock = Clock::start(&config);
    let mut book = Book::load();
    let keys: Vec<String> = match wanted {
        Some(part) => {
            let found: Vec<String> = host::kv::keys("d/")
                .into_iter()
                .filter(|k| k.contains(part))
                .collect();
            match found.len() {
                1 if load_delivery(&found[0]).is_some_and(|d| d.status == Status::Delivered) => {
                    return Ok(format!(
                        "{} was already delivered",
                        found[0].trim_start_matches("d/")
                    ));
                }
                1 => found,
                0 => return Err(format!("no delivery id contains '{part}'")),
                n => {
                    return Err(format!(
                        "{n} deliveries match '{part}'; give more of the id"
                    ));
                }
            }
        }
        None => {
            let mut keys: Vec<String> = book.waiting.iter().map(|w| w.key.clone()).collect();
            for key in host::kv::keys("d/") {
                let failed = load_delivery(&key)
                    .is_some_and(|d| d.status == Status::Failed && d.body.is_some());
                if failed && !keys.contains(&key) {
                    keys.push(key);
                }
            }
            keys
        }
    };
    let [delivered, waiting, failed, later] = book.retry(&config, &clock, &keys)?;
    book.save()?;
    let mut text = format!(
        "retried {}: {delivered} delivered, {waiting} waiting for another retry, {failed} failed",
        delivered + waiting + failed
    );
    if later > 0 {
        text.push_str(&format!(
            "; {later} not tried (time ran out), run retry again"
        ));
    }
    Ok(text)
}

magflock_sdk::extension!(WebhookRelay);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_against_the_allowlist() {
        assert!(check_url("https://hooks.example.com/magflock").is_ok());
        assert!(check_url("http://127.0.0.1:8080/hook?x=1").is_ok());
        assert!(check_url("HTTP://LOCALHOST:9/").is_ok());
        assert!(check_url("https://evil.example/").is_err());
        assert!(check_url("https://hooks.example.com@evil.example/").is_err());
        assert!(check_url("https://evil.example\\@hooks.example.com/").is_err());
        assert!(check_url("ftp://127.0.0.1/").is_err());
        assert!(check_url("127.0.0.1/").is_err());
    }

    #[test]
    fn routes_match_like_subscriptions() {
        let route = |p: &str| Route {
            events: Patterns::One(p.into()),
            url: String::new(),
            headers: BTreeMap::new(),
        };
        assert!(route("*").matches("auth.user.created"));
        assert!(route("auth.*").matches("auth.user.created"));
        assert!(route("auth.user.*").matches("auth.user.created"));
        assert!(!route("auth.*").matches("authx.user"));
        assert!(route("auth.user.created").matches("auth.user.created"));
        assert!(!route("auth.user.created").matches("auth.user.deleted"));
    }

    #[test]
    fn config_is_validated_and_times_format() {
        let config: Config = serde_json::from_value(json!({
            "routes": [{"events": "database.*", "url": "http://127.0.0.1:9/x"},
                       {"events": ["a b"], "url": "https://other.test/"}]
        }))
        .unwrap();
        let error = config.check().unwrap_err();
        assert!(
            error.contains("routes[1].events") && error.contains("routes[1].url"),
            "{error}"
        );
        assert!(!error.contains("routes[0]"), "{error}");
        assert_eq!(rfc3339(1_759_659_825_123), "2025-10-05T10:23:45.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
