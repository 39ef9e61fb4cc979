//! The audit log: append, list, verify.
//!
//! Guarantees: entries get consecutive sequence numbers starting at 1; each
//! entry's `prev_hash` is the previous entry's `hash` (the first's is
//! [`GENESIS_HASH`]); appends are serialised (in-process mutex, plus an advisory
//! lock on PostgreSQL) and the UNIQUE `prev_hash` column makes a fork impossible
//! even if they were not. Verification walks the chain in batches, so it works on
//! logs larger than memory, and names the first entry whose link, hash or
//! sequence number is wrong.

use crate::chain::{GENESIS_HASH, entry_hash};
use crate::{Engine, Result, StoreError, now_millis};
use magflock_types::{
    ActorKind, AuditEntry, AuditFilter, AuditPage, BrokenLink, ChainReport, NewAuditEntry, Outcome,
};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

const COLUMNS: &str = "seq, at, actor_kind, actor_id, actor_label, action, target, outcome, detail, ip, prev_hash, hash";
const MAX_PAGE: u32 = 500;
const VERIFY_BATCH: i64 = 1000;
/// Arbitrary constant naming the audit append lock among PostgreSQL advisory locks.
const PG_AUDIT_LOCK: i64 = 0x6d61_6766_6175_6474;

fn entry_from_row(row: &AnyRow) -> Result<AuditEntry> {
    let kind: String = row.try_get("actor_kind")?;
    let outcome: String = row.try_get("outcome")?;
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor_kind: ActorKind::parse(&kind).ok_or_else(|| {
            StoreError::Database(format!("audit_log.actor_kind: unknown '{kind}'"))
        })?,
        actor_id: row.try_get("actor_id")?,
        actor_label: row.try_get("actor_label")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        outcome: Outcome::parse(&outcome).ok_or_else(|| {
            StoreError::Database(format!("audit_log.outcome: unknown '{outcome}'"))
        })?,
        detail: row.try_get("detail")?,
        ip: row.try_get("ip")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

pub(crate) async fn append(
    pool: &AnyPool,
    engine: Engine,
    new: NewAuditEntry,
) -> Result<AuditEntry> {
    let mut appended = append_batch(pool, engine, vec![new]).await?;
    appended
        .pop()
        .ok_or_else(|| StoreError::Database("audit append wrote nothing".into()))
}

/// Appends entries in order, in one transaction: all of them or none.
pub(crate) async fn append_batch(
    pool: &AnyPool,
    engine: Engine,
    batch: Vec<NewAuditEntry>,
) -> Result<Vec<AuditEntry>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    // SQLite: take the write lock up front; a deferred transaction that reads
    // the chain head and then writes fails at once (not after busy_timeout)
    // if another connection wrote in between.
    let mut tx = match engine {
        Engine::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Engine::Postgres => pool.begin().await?,
    };
    if engine == Engine::Postgres {
        sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock($1)) AS l")
            .bind(PG_AUDIT_LOCK)
            .fetch_one(&mut *tx)
            .await?;
    }
    let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *tx)
        .await?;
    let (mut prev_seq, mut prev_hash) = match last {
        Some(row) => (
            row.try_get::<i64, _>("seq")?,
            row.try_get::<String, _>("hash")?,
        ),
        None => (0, GENESIS_HASH.to_string()),
    };
    let at = now_millis();
    let mut appended = Vec::with_capacity(batch.len());
    for new in batch {
        let mut entry = AuditEntry {
            seq: prev_seq + 1,
            at,
            actor_kind: new.actor_kind,
            actor_id: new.actor_id,
            actor_label: new.actor_label,
            action: new.action,
            target: new.target,
            outcome: new.outcome,
            detail: if new.detail.is_empty() {
                "{}".into()
            } else {
                new.detail
            },
            ip: new.ip,
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry_hash(&entry);
        sqlx::query(&format!(
            "INSERT INTO audit_log ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(entry.seq)
        .bind(entry.at)
        .bind(entry.actor_kind.as_str())
        .bind(&entry.actor_id)
        .bind(&entry.actor_label)
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(entry.outcome.as_str())
        .bind(&entry.detail)
        .bind(&entry.ip)
        .bind(&entry.prev_hash)
        .bind(&entry.hash)
        .execute(&mut *tx)
        .await?;
        prev_seq = entry.seq;
        prev_hash = entry.hash.clone();
        appended.push(entry);
    }
    tx.commit().await?;
    Ok(appended)
}

/// WHERE clause and its bound values for a filter (without paging).
fn filter_clause(filter: &AuditFilter) -> (String, Vec<FilterValue>) {
    let mut clauses = Vec::new();
    let mut values = Vec::new();
    // Each `?` of a clause takes the next of its values.
    let mut add = |clause: &str, given: Vec<FilterValue>| {
        let mut sql = String::new();
        let mut given = given.into_iter();
        for (i, part) in clause.split('?').enumerate() {
            if i > 0 {
                values.push(given.next().expect("one value per placeholder"));
                sql.push_str(&format!("${}", values.len()));
            }
            sql.push_str(part);
        }
        clauses.push(sql);
    };
    let text = |t: &Option<String>| {
        t.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
    };
    let contains = |t: &str| FilterValue::Text(format!("%{}%", escape_like(&t.to_lowercase())));
    if let Some(actor) = text(&filter.actor) {
        add(
            "LOWER(actor_label) LIKE ? ESCAPE '\\'",
            vec![contains(&actor)],
        );
    }
    if let Some(action) = text(&filter.action) {
        add(
            "action LIKE ? ESCAPE '\\'",
            vec![FilterValue::Text(format!("{}%", escape_like(&action)))],
        );
    }
    if let Some(since) = filter.since {
        add("at >= ?", vec![FilterValue::Int(since)]);
    }
    if let Some(until) = filter.until {
        add("at <= ?", vec![FilterValue::Int(until)]);
    }
    if let Some(outcome) = filter.outcome {
        add(
            "outcome = ?",
            vec![FilterValue::Text(outcome.as_str().to_string())],
        );
    }
    if let Some(extension) = text(&filter.extension) {
        add(
            "(actor_id = ? OR target = ?)",
            vec![
                FilterValue::Text(extension.clone()),
                FilterValue::Text(extension),
            ],
        );
    }
    if let Some(capability) = text(&filter.capability) {
        add(
            "(target = ? OR detail LIKE ? ESCAPE '\\')",
            vec![
                FilterValue::Text(capability.clone()),
                FilterValue::Text(format!("%\"{}\"%", escape_like(&capability))),
            ],
        );
    }
    if let Some(search) = text(&filter.search) {
        add(
            "(LOWER(action) LIKE ? ESCAPE '\\' OR LOWER(actor_label) LIKE ? ESCAPE '\\' \
             OR LOWER(COALESCE(target, '')) LIKE ? ESCAPE '\\' OR LOWER(detail) LIKE ? ESCAPE '\\')",
            vec![contains(&search); 4],
        );
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (sql, values)
}

/// LIKE patterns treat `%` and `_` as wildcards; a search for them means the characters.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[derive(Clone)]
enum FilterValue {
    Text(String),
    Int(i64),
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    values: &'q [FilterValue],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for value in values {
        query = match value {
            FilterValue::Text(t) => query.bind(t.as_str()),
            FilterValue::Int(i) => query.bind(*i),
        };
    }
    query
}

pub(crate) async fn list(pool: &AnyPool, filter: &AuditFilter) -> Result<AuditPage> {
    let (where_sql, mut values) = filter_clause(filter);
    let total: i64 = bind_all(
        sqlx::query(&format!("SELECT COUNT(*) AS n FROM audit_log{where_sql}")),
        &values,
    )
    .fetch_one(pool)
    .await?
    .try_get("n")?;
    let limit = filter.limit.clamp(1, MAX_PAGE) as i64;
    let mut page_sql = where_sql.clone();
    if let Some(before) = filter.before_seq {
        values.push(FilterValue::Int(before));
        page_sql.push_str(if page_sql.is_empty() {
            " WHERE "
        } else {
            " AND "
        });
        page_sql.push_str(&format!("seq < ${}", values.len()));
    }
    values.push(FilterValue::Int(limit + 1));
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_log{page_sql} ORDER BY seq DESC LIMIT ${}",
        values.len()
    );
    let rows = bind_all(sqlx::query(&sql), &values).fetch_all(pool).await?;
    let mut entries = rows
        .iter()
        .map(entry_from_row)
        .collect::<Result<Vec<_>>>()?;
    let next_before_seq = if entries.len() as i64 > limit {
        entries.truncate(limit as usize);
        entries.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(AuditPage {
        entries,
        next_before_seq,
        total_matching: total,
    })
}

pub(crate) async fn verify(pool: &AnyPool) -> Result<ChainReport> {
    let mut expected_prev = GENESIS_HASH.to_string();
    let mut expected_seq = 1i64;
    let mut checked = 0i64;
    loop {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2"
        ))
        .bind(expected_seq)
        .bind(VERIFY_BATCH)
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let entry = entry_from_row(row)?;
            checked += 1;
            let broken = if entry.seq != expected_seq {
                Some(format!(
                    "entry {} is missing (found {} next)",
                    expected_seq, entry.seq
                ))
            } else if entry.prev_hash != expected_prev {
                Some("its link to the previous entry does not match that entry's hash".to_string())
            } else if entry_hash(&entry) != entry.hash {
                Some("its contents do not match its hash (the entry was changed)".to_string())
            } else {
                None
            };
            if let Some(reason) = broken {
                return Ok(ChainReport {
                    entries_checked: checked,
                    first_broken: Some(BrokenLink {
                        seq: entry.seq,
                        reason,
                    }),
                });
            }
            expected_prev = entry.hash;
            expected_seq += 1;
        }
    }
    Ok(ChainReport {
        entries_checked: checked,
        first_broken: None,
    })
}
