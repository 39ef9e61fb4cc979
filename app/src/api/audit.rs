//! The Audit Log page: filtered, paginated entries and chain verification.

use crate::AppError;
use leptos::prelude::*;
use magflock_types::{AuditFilter, AuditPage, ChainReport};

#[server(endpoint = "audit_entries", output = crate::api::codec::Json)]
pub async fn audit_entries(filter: AuditFilter) -> Result<AuditPage, AppError> {
    crate::server::respond(crate::server::audit::page(filter).await)
}

#[server(endpoint = "verify_audit_chain", output = crate::api::codec::Json)]
pub async fn verify_audit_chain() -> Result<ChainReport, AppError> {
    crate::server::respond(crate::server::audit::verify().await)
}

/// The URL query names of the Audit Log's filters (the page, its links and
/// the export use the same ones).
pub const FILTER_PARAMS: [&str; 8] = [
    "q",
    "actor",
    "action",
    "extension",
    "capability",
    "outcome",
    "since",
    "until",
];

const DAY_MS: i64 = 86_400_000;

/// The filter the Audit Log's URL query describes (`param` reads one value;
/// dates are UTC days, `until` inclusive); `limit` is the page size.
pub fn filter_from_query(param: impl Fn(&str) -> Option<String>, limit: u32) -> AuditFilter {
    use magflock_types::time::parse_date_utc;
    let param = |key: &str| param(key).filter(|v| !v.trim().is_empty());
    AuditFilter {
        actor: param("actor"),
        action: param("action"),
        extension: param("extension"),
        capability: param("capability"),
        outcome: param("outcome").and_then(|o| magflock_types::Outcome::parse(&o)),
        search: param("q"),
        since: param("since").as_deref().and_then(parse_date_utc),
        until: param("until")
            .as_deref()
            .and_then(parse_date_utc)
            .map(|day| day + DAY_MS - 1),
        before_seq: param("before").and_then(|b| b.parse().ok()),
        limit,
    }
}
