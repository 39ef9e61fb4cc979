//! Recording to the audit log, and reading it for the Audit Log page.
//!
//! Guarantees: every mutation a server function performs calls [`record`] with
//! the actor, a dotted action name, the target and the outcome; details are JSON
//! objects built by the caller and never contain passwords or session ids.
//! Once stored, each entry is offered to `audit_emitter` handlers (through
//! [`AppContext::auth_hooks`], without waiting for them).

use super::context::AppContext;
use super::guard::{ctx, require};
use crate::AppError;
use magflock_types::{
    ActorKind, AuditFilter, AuditPage, ChainReport, NewAuditEntry, Outcome, Role, User,
};

/// Who is acting.
pub enum Actor {
    User {
        user: User,
        ip: Option<String>,
    },
    /// Not signed in; `claimed` is what they typed (e.g. the email of a failed sign-in).
    Anonymous {
        claimed: String,
        ip: Option<String>,
    },
    System,
}

pub async fn record(
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    outcome: Outcome,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    record_in(&ctx()?, actor, action, target, outcome, detail).await
}

/// [`record`] with the context given (for callers outside a Leptos request).
pub async fn record_in(
    ctx: &AppContext,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    outcome: Outcome,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    let (actor_kind, actor_id, actor_label, ip) = match actor {
        Actor::User { user, ip } => (
            ActorKind::User,
            Some(user.id.clone()),
            user.email.clone(),
            ip.clone(),
        ),
        Actor::Anonymous { claimed, ip } => {
            (ActorKind::Anonymous, None, claimed.clone(), ip.clone())
        }
        Actor::System => (ActorKind::System, None, "magflock".to_string(), None),
    };
    let entry = NewAuditEntry {
        actor_kind,
        actor_id,
        actor_label,
        action: action.to_string(),
        target: target.map(str::to_string),
        outcome,
        detail: detail.to_string(),
        ip,
    };
    let stored = ctx.store.audit_append(entry).await?;
    if let Some(hooks) = &ctx.auth_hooks {
        hooks.emit_audit(&stored);
    }
    Ok(())
}

pub async fn page(filter: AuditFilter) -> Result<AuditPage, AppError> {
    require(Role::Auditor).await?;
    if filter
        .since
        .zip(filter.until)
        .is_some_and(|(since, until)| since > until)
    {
        return Err(AppError::invalid(
            "since",
            "The start of the time range is after its end.",
        ));
    }
    Ok(ctx()?
        .store
        .audit_list(&AuditFilter {
            limit: filter.limit.clamp(1, 200),
            ..filter
        })
        .await?)
}

pub async fn verify() -> Result<ChainReport, AppError> {
    let caller = require(Role::Auditor).await?;
    let report = ctx()?.store.audit_verify().await?;
    record(
        &caller.actor(),
        "audit.chain_verified",
        None,
        if report.is_intact() { Outcome::Success } else { Outcome::Failure },
        serde_json::json!({"entries_checked": report.entries_checked, "first_broken": report.first_broken.as_ref().map(|b| b.seq)}),
    )
    .await?;
    Ok(report)
}

/// What an audit export is written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
}

impl ExportFormat {
    pub fn parse(text: &str) -> Result<ExportFormat, AppError> {
        match text {
            "csv" => Ok(ExportFormat::Csv),
            "json" => Ok(ExportFormat::Json),
            other => Err(AppError::invalid(
                "format",
                format!("'{other}' is not an export format; use csv or json."),
            )),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Json => "application/json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }
}

/// Most entries one export holds (narrow the filter for more).
pub const EXPORT_LIMIT: usize = 100_000;
const EXPORT_PAGE: u32 = 200;
const CSV_COLUMNS: [&str; 11] = [
    "seq",
    "at",
    "actor_kind",
    "actor_id",
    "actor",
    "action",
    "target",
    "outcome",
    "ip",
    "detail",
    "hash",
];

/// Every entry `filter` matches (newest first, at most [`EXPORT_LIMIT`]) in
/// `format`, for `caller` (who must be allowed to read the log: check it
/// first with [`super::guard::require_in`]); the export itself is audited
/// (`audit.exported`, with the filter and the count).
pub async fn export(
    ctx: &AppContext,
    caller: &super::guard::Caller,
    mut filter: AuditFilter,
    format: ExportFormat,
) -> Result<String, AppError> {
    filter.limit = EXPORT_PAGE;
    filter.before_seq = None;
    let mut entries = Vec::new();
    loop {
        let page = ctx.store.audit_list(&filter).await?;
        entries.extend(page.entries);
        match page.next_before_seq {
            Some(seq) if entries.len() < EXPORT_LIMIT => filter.before_seq = Some(seq),
            _ => break,
        }
    }
    entries.truncate(EXPORT_LIMIT);
    let body = match format {
        ExportFormat::Json => serde_json::to_string_pretty(&entries).map_err(AppError::internal)?,
        ExportFormat::Csv => {
            let mut out = CSV_COLUMNS.join(",");
            out.push_str("\r\n");
            for e in &entries {
                let cells = [
                    e.seq.to_string(),
                    magflock_types::time::format_utc(e.at),
                    e.actor_kind.as_str().to_string(),
                    e.actor_id.clone().unwrap_or_default(),
                    e.actor_label.clone(),
                    e.action.clone(),
                    e.target.clone().unwrap_or_default(),
                    e.outcome.as_str().to_string(),
                    e.ip.clone().unwrap_or_default(),
                    e.detail.clone(),
                    e.hash.clone(),
                ];
                let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
                out.push_str(&line.join(","));
                out.push_str("\r\n");
            }
            out
        }
    };
    filter.before_seq = None;
    record_in(
        ctx,
        &caller.actor(),
        "audit.exported",
        None,
        Outcome::Success,
        serde_json::json!({"format": format.extension(), "entries": entries.len(), "filter": filter}),
    )
    .await?;
    Ok(body)
}

/// One CSV cell (RFC 4180 quoting). A cell a spreadsheet would read as a
/// formula (`=`, `+`, `-`, `@`, tab, carriage return first) is prefixed with `'`,
/// so an actor or detail written by an extension cannot run in the reader's
/// spreadsheet.
pub fn csv_cell(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@sum"), "'@sum");
    }
}
