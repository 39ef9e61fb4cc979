//! The admin commands' work: each calls the admin API and returns what to
//! show ([`Shown`]): the API's data as it came (for `--output json|yaml`)
//! and a table for people.
//!
//! Guarantees: a command changes only what the API call it names changes;
//! `extension:install` and `extension:upgrade` decide a queued request only
//! as told (`--approve CAPS`, `--approve-all`, or a person's answer at a
//! terminal prompt), and otherwise leave it pending and exit with status 10
//! after printing its id; the token is never printed.

use super::client::{self, Client, Login};
use super::output::{Format, Shown, Table, cell, fields, to_yaml};
use super::{ApprovalArgs, AuditFormat, Decision};
use crate::error::{Kind, MagError, exit};
use serde_json::{Value, json};
use std::io::{BufRead, IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

/// `publisher/name` as its two path segments.
pub fn id_segments(id: &str) -> Result<(&str, &str), MagError> {
    match id.split_once('/') {
        Some((publisher, name))
            if !publisher.is_empty() && !name.is_empty() && !name.contains('/') =>
        {
            Ok((publisher, name))
        }
        _ => Err(MagError::usage(format!(
            "extension id '{id}' is not publisher/name"
        ))
        .with_hint("use the id shown by `mag extension:list` or `mag extension:search`, e.g. magflock/steady")),
    }
}

fn time(value: &Value) -> String {
    match value.as_i64() {
        Some(ms) => magflock_types::time::format_utc(ms),
        None => cell(value),
    }
}

/// Runs `work` with a spinner on stderr when stderr is a terminal.
fn with_progress<T>(message: &str, work: impl FnOnce() -> T) -> T {
    if !std::io::stderr().is_terminal() {
        return work();
    }
    let spinner = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        spinner.set_style(style);
    }
    spinner.set_message(message.to_string());
    spinner.enable_steady_tick(Duration::from_millis(100));
    let result = work();
    spinner.finish_and_clear();
    result
}

// ---- sign-in ---------------------------------------------------------------

fn read_token() -> Result<String, MagError> {
    if let Ok(token) = std::env::var("MAG_TOKEN")
        && !token.trim().is_empty()
    {
        return Ok(token.trim().to_string());
    }
    let token = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("personal access token (mf_...): ")
            .map_err(|e| MagError::failure(format!("cannot read the token: {e}")))?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| MagError::failure(format!("cannot read the token from stdin: {e}")))?;
        line
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(MagError::usage("no token was given").with_hint(
            "make a personal access token in MagUI and pipe it in (`mag login --server URL < token.txt`) or set MAG_TOKEN",
        ));
    }
    Ok(token)
}

pub fn login(server: &str) -> Result<Shown, MagError> {
    let server = client::normalize_server(server)?;
    let token = read_token()?;
    let client = Client::new(Login {
        server: server.clone(),
        token: token.clone(),
    })?;
    let me = client.get(&["whoami"], &[])?;
    if me["kind"] != "personal_token" {
        return Err(MagError::new(
            Kind::NotSignedIn,
            format!(
                "this is a {} key, not a personal access token",
                cell(&me["kind"])
            ),
        )
        .with_hint(
            "make a personal access token in MagUI (your account's tokens) and log in with it",
        ));
    }
    let path = client::store(&Login {
        server: server.clone(),
        token,
    })?;
    let data = json!({
        "server": server, "email": me["email"], "role": me["role"],
        "user_id": me["user_id"], "config": path.display().to_string(),
    });
    let table = format!(
        "signed in to {server} as {} ({}); login kept in {}",
        cell(&me["email"]),
        cell(&me["role"]),
        path.display()
    );
    Ok(Shown::new(data, table))
}

pub fn logout() -> Result<Shown, MagError> {
    let path = client::config_path()?;
    let forgotten = client::forget()?;
    let server = forgotten.as_ref().map(|l| l.server.clone());
    let table = match &server {
        Some(server) => format!(
            "signed out of {server} (removed {}); the token itself works until it is revoked in MagUI",
            path.display()
        ),
        None => "not signed in; nothing to remove".to_string(),
    };
    Ok(Shown::new(
        json!({"signed_out": forgotten.is_some(), "server": server, "config": path.display().to_string()}),
        table,
    ))
}

// ---- extensions ------------------------------------------------------------

fn extensions_table(views: &[&Value]) -> String {
    let mut table = Table::new(&["ID", "NAME", "VERSION", "STATE", "SIGNATURE", "GRANTED"]);
    for view in views {
        table.row(vec![
            cell(&view["id"]),
            cell(&view["name"]),
            cell(&view["version"]),
            cell(&view["state"]),
            cell(&view["signature_level"]),
            cell(&view["granted"]),
        ]);
    }
    table.render()
}

fn extension_fields(view: &Value, stats: Option<&Value>) -> String {
    let mut pairs = vec![
        ("id", cell(&view["id"])),
        ("name", cell(&view["name"])),
        ("version", cell(&view["version"])),
        ("state", cell(&view["state"])),
        ("reason", cell(&view["reason"])),
        ("signature_level", cell(&view["signature_level"])),
        ("granted", cell(&view["granted"])),
        ("requested", cell(&view["requested"])),
        ("previous_version", cell(&view["previous_version"])),
    ];
    if let Some(stats) = stats.filter(|s| s.is_object()) {
        for key in ["calls", "errors", "p95_us", "peak_memory_bytes"] {
            pairs.push((key, cell(&stats[key])));
        }
    }
    fields(&pairs)
}

pub fn list(client: &Client) -> Result<Shown, MagError> {
    let data = client.get(&["extensions"], &[])?;
    let views: Vec<&Value> = data["extensions"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let table = extensions_table(&views);
    Ok(Shown::new(data, table))
}

pub fn search(
    client: &Client,
    words: &[String],
    category: Option<&str>,
    capability: Option<&str>,
    edition: Option<&str>,
) -> Result<Shown, MagError> {
    let mut query = Vec::new();
    if !words.is_empty() {
        query.push(("q", words.join(" ")));
    }
    for (name, value) in [
        ("category", category),
        ("capability", capability),
        ("edition", edition),
    ] {
        if let Some(value) = value {
            query.push((name, value.to_string()));
        }
    }
    let data = client.get(&["catalog"], &query)?;
    let mut table = Table::new(&[
        "ID",
        "VERSION",
        "NAME",
        "EDITION",
        "SIGNATURE",
        "INSTALLED",
        "DESCRIPTION",
    ]);
    for listing in data["listings"].as_array().into_iter().flatten() {
        let entry = &listing["entry"];
        let mut description = cell(&entry["description"]);
        if description.chars().count() > 60 {
            description = description.chars().take(59).collect::<String>() + "…";
        }
        table.row(vec![
            cell(&entry["id"]),
            cell(&entry["version"]),
            cell(&entry["name"]),
            cell(&entry["edition"]),
            cell(&listing["signature_level"]),
            cell(&listing["installed"]),
            description,
        ]);
    }
    let mut shown = Shown::new(data.clone(), table.render());
    let problems: Vec<String> = data["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .map(cell)
        .collect();
    if !problems.is_empty() {
        shown.note = Some(format!(
            "some catalogs could not be read: {}",
            problems.join("; ")
        ));
    }
    Ok(shown)
}

pub fn info(client: &Client, id: &str) -> Result<Shown, MagError> {
    let (publisher, name) = id_segments(id)?;
    let data = client.get(&["extensions", publisher, name], &[])?;
    let table = extension_fields(&data["extension"], Some(&data["stats"]));
    Ok(Shown::new(data, table))
}

/// enable, disable, rollback: answers `{"extension": view}`.
pub fn act(client: &Client, id: &str, action: &str) -> Result<Shown, MagError> {
    let (publisher, name) = id_segments(id)?;
    let data = client.post(&["extensions", publisher, name, action], json!({}))?;
    let table = extensions_table(&[&data["extension"]]);
    Ok(Shown::new(data, table))
}

pub fn uninstall(client: &Client, id: &str) -> Result<Shown, MagError> {
    let (publisher, name) = id_segments(id)?;
    let data = client.delete(&["extensions", publisher, name])?;
    let table = format!(
        "uninstalled {}; its data is kept in {}",
        cell(&data["uninstalled"]),
        cell(&data["data_kept_in"])
    );
    Ok(Shown::new(data, table))
}

pub fn revoke(client: &Client, id: &str, capability: &str) -> Result<Shown, MagError> {
    let (publisher, name) = id_segments(id)?;
    let data = client.delete(&["extensions", publisher, name, "grants", capability])?;
    let table = extensions_table(&[&data["extension"]]);
    Ok(Shown::new(data, table))
}

// ---- requests and the approval step ---------------------------------------

/// The capabilities a request's plan asks for, one row each.
fn plan_rows(request: &Value) -> Vec<[String; 6]> {
    let mut rows = Vec::new();
    for item in request["plan"]["items"].as_array().into_iter().flatten() {
        for capability in item["capabilities"].as_array().into_iter().flatten() {
            rows.push([
                cell(&item["extension"]),
                cell(&item["version"]),
                cell(&capability["name"]),
                cell(&capability["risk"]),
                if capability["new"] == true {
                    "new".into()
                } else {
                    "-".into()
                },
                cell(&capability["justification"]),
            ]);
        }
    }
    rows
}

fn request_table(request: &Value) -> String {
    let head = fields(&[
        ("request", cell(&request["id"])),
        ("kind", cell(&request["kind"])),
        ("extension", cell(&request["extension"])),
        ("status", cell(&request["status"])),
        ("requested_by", cell(&request["requested_by"])),
        ("requested_at", time(&request["requested_at"])),
        ("decided_by", cell(&request["decided_by"])),
        ("comment", cell(&request["comment"])),
    ]);
    let mut table = Table::new(&[
        "EXTENSION",
        "VERSION",
        "CAPABILITY",
        "RISK",
        "NEW",
        "JUSTIFICATION",
    ]);
    for row in plan_rows(request) {
        table.row(row.to_vec());
    }
    format!("{head}\n\n{}", table.render())
}

pub fn approvals_list(client: &Client, status: &str) -> Result<Shown, MagError> {
    let data = client.get(&["approvals"], &[("status", status.to_string())])?;
    let mut table = Table::new(&[
        "ID",
        "KIND",
        "EXTENSION",
        "STATUS",
        "REQUESTED_BY",
        "REQUESTED_AT",
        "CAPABILITIES",
    ]);
    for request in data["requests"].as_array().into_iter().flatten() {
        let capabilities: Vec<String> = plan_rows(request)
            .into_iter()
            .map(|[_, _, name, ..]| name)
            .collect();
        table.row(vec![
            cell(&request["id"]),
            cell(&request["kind"]),
            cell(&request["extension"]),
            cell(&request["status"]),
            cell(&request["requested_by"]),
            time(&request["requested_at"]),
            if capabilities.is_empty() {
                "-".into()
            } else {
                capabilities.join(",")
            },
        ]);
    }
    Ok(Shown::new(data, table.render()))
}

/// Posts a decision, with a spinner while the server carries it out.
fn post_decision(
    client: &Client,
    request: &Value,
    decision: Decision,
    only: Option<&[String]>,
    comment: Option<&str>,
) -> Result<Value, MagError> {
    let id = cell(&request["id"]);
    let mut body = json!({"decision": match decision {
        Decision::Approve => "approve",
        Decision::Deny => "deny",
    }});
    if let Some(only) = only {
        body["only"] = json!(only);
    }
    if let Some(comment) = comment {
        body["comment"] = json!(comment);
    }
    let message = match decision {
        Decision::Approve => format!(
            "approving request {id}: verifying, installing and starting {}",
            cell(&request["extension"])
        ),
        Decision::Deny => format!("denying request {id}"),
    };
    with_progress(&message, || client.post(&["approvals", &id], body))
}

pub fn decide(
    client: &Client,
    id: &str,
    decision: Decision,
    only: &[String],
    comment: Option<&str>,
) -> Result<Shown, MagError> {
    if decision == Decision::Deny && !only.is_empty() {
        return Err(MagError::usage("--only goes with approve, not deny")
            .with_hint("drop --only, or decide `approve --only CAPS`"));
    }
    let only = (!only.is_empty()).then_some(only);
    let request = json!({"id": id, "extension": "the extension"});
    let data = post_decision(client, &request, decision, only, comment)?;
    let table = request_table(&data["request"]);
    Ok(Shown::new(data, table))
}

/// What the approval step ended with.
enum Step {
    /// Decided (approved or denied): the request as the server answered.
    Decided(Value),
    /// Left pending: nobody said what to approve.
    Waiting,
}

/// A decision and, for an approval, the capabilities it is limited to.
type Answer = (Decision, Option<Vec<String>>);

/// Asks the person at the terminal; `None` when nobody is there.
fn ask(request: &Value) -> Result<Option<Answer>, MagError> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Ok(None);
    }
    let rows = plan_rows(request);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "request {} ({} of {}) asks for:",
        cell(&request["id"]),
        cell(&request["kind"]),
        cell(&request["extension"])
    );
    let mut table = Table::new(&[
        "#",
        "EXTENSION",
        "VERSION",
        "CAPABILITY",
        "RISK",
        "NEW",
        "JUSTIFICATION",
    ]);
    for (i, row) in rows.iter().enumerate() {
        let mut cells = vec![(i + 1).to_string()];
        cells.extend(row.iter().cloned());
        table.row(cells);
    }
    let _ = writeln!(err, "{}", table.render());
    let _ = write!(
        err,
        "Approve all? [y = all / N = deny / numbers or names, comma-separated = only those]: "
    );
    let _ = err.flush();
    drop(err);
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| MagError::failure(format!("cannot read the answer: {e}")))?;
    let answer = line.trim();
    match answer.to_ascii_lowercase().as_str() {
        "y" | "yes" => return Ok(Some((Decision::Approve, None))),
        "" | "n" | "no" => return Ok(Some((Decision::Deny, None))),
        _ => {}
    }
    let mut only = Vec::new();
    for part in answer
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
    {
        let name = match part.parse::<usize>() {
            Ok(n) if n >= 1 && n <= rows.len() => rows[n - 1][2].clone(),
            Ok(n) => {
                return Err(
                    MagError::usage(format!("there is no capability number {n}")).with_hint(
                        format!(
                            "run the command again and answer with numbers from 1 to {}",
                            rows.len()
                        ),
                    ),
                );
            }
            Err(_) => part.to_string(),
        };
        if !only.contains(&name) {
            only.push(name);
        }
    }
    Ok(Some((Decision::Approve, Some(only))))
}

/// The approval step of an install or upgrade request.
fn approval_step(
    client: &Client,
    request: &Value,
    approval: &ApprovalArgs,
) -> Result<Step, MagError> {
    let chosen = if approval.approve_all {
        Some((Decision::Approve, None))
    } else if !approval.approve.is_empty() {
        Some((Decision::Approve, Some(approval.approve.clone())))
    } else {
        ask(request)?
    };
    let Some((decision, only)) = chosen else {
        return Ok(Step::Waiting);
    };
    let comment = match (&decision, &only) {
        (Decision::Deny, _) => Some("denied at the mag prompt"),
        _ => None,
    };
    let answer = post_decision(client, request, decision, only.as_deref(), comment)?;
    Ok(Step::Decided(answer["request"].clone()))
}

fn waiting(data: Value, request: &Value) -> Shown {
    let id = cell(&request["id"]);
    let mut shown = Shown::new(data, request_table(request));
    shown.note = Some(format!(
        "request {id} waits for approval: run `mag approvals:decide {id} approve` (or `deny`), or pass --approve CAPS / --approve-all"
    ));
    shown.code = exit::WAITING;
    shown
}

/// After a decided request: the extension as it is now, or the refusal.
fn finish(client: &Client, id: &str, mut data: Value, request: Value) -> Result<Shown, MagError> {
    let status = cell(&request["status"]);
    data["request"] = request.clone();
    if status == "denied" {
        let mut shown = Shown::new(data, request_table(&request));
        shown.note = Some(format!(
            "request {} was denied; nothing was changed",
            cell(&request["id"])
        ));
        shown.code = exit::FAILURE;
        return Ok(shown);
    }
    if status != "completed" {
        return Err(MagError::new(
            Kind::Refused,
            format!(
                "request {} ended {status}{}",
                cell(&request["id"]),
                request["comment"]
                    .as_str()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            ),
        )
        .with_hint("see `mag approvals:list --status all` and `mag audit:tail` for why"));
    }
    let (publisher, name) = id_segments(id)?;
    let view = client.get(&["extensions", publisher, name], &[])?;
    data["extension"] = view["extension"].clone();
    let table = format!(
        "request {} {status}\n\n{}",
        cell(&request["id"]),
        extensions_table(&[&data["extension"]])
    );
    Ok(Shown::new(data, table))
}

pub fn install(
    client: &Client,
    id: &str,
    version: Option<&str>,
    enable: bool,
    approval: &ApprovalArgs,
) -> Result<Shown, MagError> {
    id_segments(id)?;
    let mut body = json!({"id": id, "enable": enable});
    if let Some(version) = version {
        body["version"] = json!(version);
    }
    let asked = client.post(&["extensions"], body)?;
    let request = asked["request"].clone();
    match approval_step(client, &request, approval)? {
        Step::Waiting => Ok(waiting(asked, &request)),
        Step::Decided(decided) => finish(client, id, json!({}), decided),
    }
}

pub fn upgrade(
    client: &Client,
    id: &str,
    version: Option<&str>,
    approval: &ApprovalArgs,
) -> Result<Shown, MagError> {
    let (publisher, name) = id_segments(id)?;
    let mut body = json!({});
    if let Some(version) = version {
        body["version"] = json!(version);
    }
    let answer = with_progress(&format!("upgrading {id}"), || {
        client.post(&["extensions", publisher, name, "upgrade"], body)
    })?;
    if answer["upgraded"] == true {
        let table = extensions_table(&[&answer["extension"]]);
        return Ok(Shown::new(answer, table));
    }
    let request = answer["request"].clone();
    match approval_step(client, &request, approval)? {
        Step::Waiting => Ok(waiting(answer, &request)),
        Step::Decided(decided) => {
            let done = decided["status"] == "completed";
            finish(client, id, json!({"upgraded": done}), decided)
        }
    }
}

// ---- audit, events, health -------------------------------------------------

fn audit_table(entries: &[Value]) -> String {
    let mut table = Table::new(&["SEQ", "AT", "ACTOR", "ACTION", "TARGET", "OUTCOME"]);
    for entry in entries {
        table.row(vec![
            cell(&entry["seq"]),
            time(&entry["at"]),
            cell(&entry["actor_label"]),
            cell(&entry["action"]),
            cell(&entry["target"]),
            cell(&entry["outcome"]),
        ]);
    }
    table.render()
}

pub fn audit_tail(
    client: &Client,
    limit: u32,
    actor: Option<&str>,
    action: Option<&str>,
) -> Result<Shown, MagError> {
    let mut query = vec![("limit", limit.to_string())];
    if let Some(actor) = actor {
        query.push(("actor", actor.to_string()));
    }
    if let Some(action) = action {
        query.push(("action", action.to_string()));
    }
    let data = client.get(&["audit"], &query)?;
    let entries = data["entries"].as_array().cloned().unwrap_or_default();
    Ok(Shown::new(data, audit_table(&entries)))
}

fn csv_field(value: &Value) -> String {
    let text = match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

const AUDIT_COLUMNS: [&str; 12] = [
    "seq",
    "at",
    "actor_kind",
    "actor_id",
    "actor_label",
    "action",
    "target",
    "outcome",
    "detail",
    "ip",
    "prev_hash",
    "hash",
];

/// Every audit entry, oldest first, fetched page by page (`before`).
pub fn audit_export(
    client: &Client,
    format: AuditFormat,
    file: Option<&Path>,
) -> Result<Shown, MagError> {
    let mut entries: Vec<Value> = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let mut query = vec![("limit", "1000".to_string())];
        if let Some(before) = before {
            query.push(("before", before.to_string()));
        }
        let page = client.get(&["audit"], &query)?;
        let got = page["entries"].as_array().cloned().unwrap_or_default();
        let empty = got.is_empty();
        entries.extend(got);
        match page["next_before_seq"].as_i64() {
            Some(next) if !empty && Some(next) != before => before = Some(next),
            _ => break,
        }
    }
    entries.sort_by_key(|e| e["seq"].as_i64().unwrap_or(0));
    entries.dedup_by_key(|e| e["seq"].as_i64().unwrap_or(0));
    let text = match format {
        AuditFormat::Json => serde_json::to_string_pretty(&entries).unwrap_or_default() + "\n",
        AuditFormat::Csv => {
            let mut out = AUDIT_COLUMNS.join(",") + "\n";
            for entry in &entries {
                let row: Vec<String> = AUDIT_COLUMNS
                    .iter()
                    .map(|c| csv_field(&entry[*c]))
                    .collect();
                out.push_str(&row.join(","));
                out.push('\n');
            }
            out
        }
    };
    let Some(file) = file else {
        let mut shown = Shown::new(Value::Null, text);
        shown.raw = true;
        return Ok(shown);
    };
    let at = |e: std::io::Error| MagError::failure(format!("{}: {e}", file.display()));
    let temp = file.with_extension("partial");
    std::fs::write(&temp, text.as_bytes()).map_err(at)?;
    std::fs::rename(&temp, file).map_err(at)?;
    let count = entries.len();
    Ok(Shown::new(
        json!({"exported": count, "file": file.display().to_string()}),
        format!("exported {count} audit entries to {}", file.display()),
    ))
}

pub fn audit_verify(client: &Client) -> Result<Shown, MagError> {
    let data = client.get(&["audit", "verify"], &[])?;
    let report = &data["report"];
    let intact = data["intact"] == true;
    let table = fields(&[
        ("intact", cell(&data["intact"])),
        ("entries_checked", cell(&report["entries_checked"])),
        (
            "first_broken",
            match &report["first_broken"] {
                Value::Null => "-".into(),
                broken => format!(
                    "entry {}: {}",
                    cell(&broken["seq"]),
                    cell(&broken["reason"])
                ),
            },
        ),
    ]);
    let mut shown = Shown::new(data.clone(), table);
    if !intact {
        shown.note = Some(format!(
            "the audit chain is broken at entry {}; entries from there on cannot be trusted (restore the audit table from a backup and find out who changed it)",
            cell(&report["first_broken"]["seq"])
        ));
        shown.code = exit::FAILURE;
    }
    Ok(shown)
}

const EVENT_COLUMNS: [&str; 5] = ["SEQ", "TIMESTAMP", "TYPE", "SOURCE", "DATA"];

fn events_table(events: &[Value]) -> String {
    let mut table = Table::new(&EVENT_COLUMNS);
    for logged in events {
        let event = &logged["event"];
        let source = match event["source"]["extension"].as_str() {
            Some(extension) => format!("{}:{extension}", cell(&event["source"]["component"])),
            None => cell(&event["source"]["component"]),
        };
        let mut data = event["data"].to_string();
        if data.chars().count() > 60 {
            data = data.chars().take(59).collect::<String>() + "…";
        }
        table.row(vec![
            cell(&logged["seq"]),
            cell(&event["timestamp"]),
            cell(&event["event_type"]),
            source,
            data,
        ]);
    }
    table.render()
}

/// Events from `from` on (up to `limit` matching), page by page.
fn fetch_events(
    client: &Client,
    from: u64,
    pattern: Option<&str>,
    limit: Option<usize>,
) -> Result<(Vec<Value>, u64), MagError> {
    let mut from = from;
    let mut events = Vec::new();
    loop {
        let mut query = vec![("from", from.to_string()), ("limit", "1000".to_string())];
        if let Some(pattern) = pattern {
            query.push(("type", pattern.to_string()));
        }
        let page = client.get(&["events"], &query)?;
        events.extend(page["events"].as_array().cloned().unwrap_or_default());
        if limit.is_some_and(|l| events.len() >= l) {
            events.truncate(limit.unwrap_or(usize::MAX));
            let next = events
                .last()
                .and_then(|e| e["seq"].as_u64())
                .map(|s| s + 1)
                .unwrap_or(from);
            return Ok((events, next));
        }
        match page["next_from"].as_u64() {
            Some(next) if next > from => from = next,
            _ => return Ok((events, from)),
        }
    }
}

fn events_query(
    pattern: Option<&str>,
    first: (&'static str, String),
) -> Vec<(&'static str, String)> {
    let mut query = vec![first];
    if let Some(pattern) = pattern {
        query.push(("type", pattern.to_string()));
    }
    query
}

/// The newest `limit` events (matching `pattern`), as the server counts them.
pub fn events_tail(
    client: &Client,
    pattern: Option<&str>,
    limit: usize,
) -> Result<Shown, MagError> {
    let data = client.get(
        &["events"],
        &events_query(pattern, ("last", limit.to_string())),
    )?;
    let events = data["events"].as_array().cloned().unwrap_or_default();
    let table = events_table(&events);
    Ok(Shown::new(data, table))
}

/// One batch of `events:tail --follow` in a built-in format: JSON one
/// compact event per line, YAML one document per event, a table's rows (with
/// its header only in the first batch).
pub fn follow_text(events: &[Value], first: bool, format: &Format) -> String {
    let mut out = String::new();
    match format {
        Format::Json => {
            for event in events {
                out.push_str(&event.to_string());
                out.push('\n');
            }
        }
        Format::Yaml => {
            for event in events {
                out.push_str("---\n");
                out.push_str(&to_yaml(event));
            }
        }
        Format::Table | Format::Extension(_) => {
            if events.is_empty() {
                if first {
                    out = EVENT_COLUMNS.join("  ") + "\n";
                }
                return out;
            }
            let table = events_table(events);
            let rows = table.lines().skip(usize::from(!first));
            for row in rows {
                out.push_str(row);
                out.push('\n');
            }
        }
    }
    out
}

/// Writes a batch of followed events (and whether it is the first one);
/// breaks to stop following.
pub type WriteBatch<'a> = dyn FnMut(&[Value], bool) -> Result<ControlFlow<()>, MagError> + 'a;

/// How often `events:tail --follow` asks for new events.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// `events:tail --follow`: the newest `limit` events, then every new one as
/// it is published, until interrupted (Ctrl-C) or the server fails. Each
/// batch is handed to `write` at once, with whether it is the first (see
/// [`follow_text`]); `write` breaks to stop (stdout closed).
pub fn events_follow(
    client: &Client,
    pattern: Option<&str>,
    limit: usize,
    write: &mut WriteBatch,
) -> Result<(), MagError> {
    let first = events_tail(client, pattern, limit)?;
    let events = first.data["events"].as_array().cloned().unwrap_or_default();
    if write(&events, true)?.is_break() {
        return Ok(());
    }
    let mut from = first.data["next_from"].as_u64().unwrap_or(0);
    loop {
        std::thread::sleep(FOLLOW_EVERY);
        let mut query = events_query(pattern, ("from", from.to_string()));
        query.push(("limit", "1000".to_string()));
        let page = client.get(&["events"], &query)?;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        if !events.is_empty() && write(&events, false)?.is_break() {
            return Ok(());
        }
        if let Some(next) = page["next_from"].as_u64() {
            from = from.max(next);
        }
    }
}

pub fn events_replay(
    client: &Client,
    from: u64,
    pattern: Option<&str>,
    limit: usize,
) -> Result<Shown, MagError> {
    let (events, next) = fetch_events(client, from, pattern, Some(limit))?;
    let table = events_table(&events);
    Ok(Shown::new(
        json!({"events": events, "next_from": next}),
        table,
    ))
}

pub fn health(client: &Client) -> Result<Shown, MagError> {
    let data = client.get(&["health"], &[])?;
    let head = fields(&[
        ("healthy", cell(&data["healthy"])),
        (
            "control_plane",
            format!(
                "{} (reachable: {})",
                cell(&data["control_plane"]["engine"]),
                cell(&data["control_plane"]["reachable"])
            ),
        ),
        (
            "magds",
            match &data["magds"] {
                Value::Null => "-".into(),
                magds => format!(
                    "{} (reachable: {})",
                    cell(&magds["engine"]),
                    cell(&magds["reachable"])
                ),
            },
        ),
    ]);
    let mut table = Table::new(&["EXTENSION", "VERSION", "STATE", "CALLS", "ERRORS", "P95_US"]);
    for extension in data["extensions"].as_array().into_iter().flatten() {
        let stats = &extension["stats"];
        table.row(vec![
            cell(&extension["id"]),
            cell(&extension["version"]),
            cell(&extension["state"]),
            cell(&stats["calls"]),
            cell(&stats["errors"]),
            cell(&stats["p95_us"]),
        ]);
    }
    let mut shown = Shown::new(data.clone(), format!("{head}\n\n{}", table.render()));
    if data["healthy"] != true {
        shown.note = Some(
            "the server is not healthy: its control-plane database does not answer (see the server's log)"
                .into(),
        );
        shown.code = exit::UNREACHABLE;
    }
    Ok(shown)
}

/// The commands running extensions contribute (the server fires
/// `register_command` and `extend_help` for them).
pub fn extension_commands(client: &Client) -> Result<Shown, MagError> {
    let data = client.get(
        &["commands"],
        &[("cli_version", env!("CARGO_PKG_VERSION").to_string())],
    )?;
    let mut table = Table::new(&["COMMAND", "EXTENSION", "WHAT IT DOES"]);
    for command in data["commands"].as_array().into_iter().flatten() {
        table.row(vec![
            format!("mag {}", cell(&command["invoke"])),
            cell(&command["extension"]),
            cell(&command["title"]),
        ]);
    }
    Ok(Shown::new(data, table.render()))
}

/// `mag <extension>:<command> [args...]`: runs the extension's command on
/// the server, in the sandbox; prints its output as it is.
pub fn run_extension_command(client: &Client, words: &[String]) -> Result<Shown, MagError> {
    let (invoke, args) = words
        .split_first()
        .ok_or_else(|| MagError::usage("no command given"))?;
    if !invoke.contains(':') {
        return Err(
            MagError::usage(format!("'{invoke}' is not a mag command")).with_hint(
                "run `mag --help`, or `mag commands` for the commands of installed extensions",
            ),
        );
    }
    let listed = client.get(
        &["commands"],
        &[("cli_version", env!("CARGO_PKG_VERSION").to_string())],
    )?;
    let found = listed["commands"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["invoke"].as_str() == Some(invoke.as_str()))
        .ok_or_else(|| {
            MagError::new(
                Kind::NotFound,
                format!("no running extension adds `mag {invoke}`"),
            )
            .with_hint("run `mag commands` to see what the enabled extensions add")
        })?;
    let extension = found["extension"].as_str().unwrap_or_default();
    let command = found["command"].as_str().unwrap_or_default();
    let (publisher, name) = extension.split_once('/').unwrap_or((extension, ""));
    let data = client.post(
        &["extensions", publisher, name, "commands", command],
        serde_json::json!({"args": args}),
    )?;
    let mut shown = Shown::new(data.clone(), cell(&data["output"]));
    shown.raw = true;
    Ok(shown)
}
