//! Columns of the event log: an event encoded for binding and decoded back,
//! the multi-row INSERT, the SQLite page read, dead letters and subscriptions.
//!
//! Guarantees: what is decoded is exactly what was encoded (the timestamp
//! round-trips through milliseconds unchanged); a stored value that cannot be
//! decoded is reported as [`BusError::Corrupt`] naming the event or subscriber
//! and the column.

use super::{db, int, uint};
use crate::Engine;
use magflock_kernel::bus::validate::{format_millis, timestamp_millis};
use magflock_kernel::bus::{BusError, DeadLetter, LoggedEvent, Subscription};
use magflock_kernel::event::{Context, Source};
use magflock_kernel::{Capability, Event, Pattern};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::sync::OnceLock;

/// Events per multi-row INSERT (10 bound values each).
pub const INSERT_CHUNK: usize = 500;

pub(super) const EVENT_COLUMNS: &str = "seq, event_id, event_type, ts, component, component_seq, extension, data, context, capabilities";
const EVENT_VALUES: usize = 10;
pub(super) const DEAD_COLUMNS: &str = "subscriber, seq, event_id, event_type, ts, component, component_seq, extension, data, context, capabilities, attempts, last_error, dead_at, requeued";

/// An event's columns, encoded for binding.
pub(super) struct Encoded<'a> {
    pub(super) event: &'a Event,
    ts: i64,
    data: String,
    context: String,
    capabilities: String,
}

pub(super) fn encode(event: &Event) -> Result<Encoded<'_>, BusError> {
    let invalid = |problem: String| BusError::InvalidEvent {
        event_id: event.event_id.clone(),
        problem,
    };
    let ts = timestamp_millis(&event.timestamp).ok_or_else(|| {
        invalid(format!(
            "timestamp '{}' is not in the form 2025-10-05T10:23:45.123Z",
            event.timestamp
        ))
    })?;
    let json = |v: Result<String, serde_json::Error>| v.map_err(|e| invalid(e.to_string()));
    Ok(Encoded {
        event,
        ts,
        data: json(serde_json::to_string(&event.data))?,
        context: json(serde_json::to_string(&event.context))?,
        capabilities: json(serde_json::to_string(&event.capabilities_required))?,
    })
}

pub(super) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds the ten [`EVENT_COLUMNS`] values.
pub(super) fn bind_event<'q>(
    query: AnyQuery<'q>,
    e: &'q Encoded<'q>,
    seq: u64,
    component_seq: u64,
) -> AnyQuery<'q> {
    query
        .bind(int(seq))
        .bind(e.event.event_id.as_str())
        .bind(e.event.event_type.as_str())
        .bind(e.ts)
        .bind(e.event.source.component.as_str())
        .bind(int(component_seq))
        .bind(e.event.source.extension.as_deref())
        .bind(e.data.as_str())
        .bind(e.context.as_str())
        .bind(e.capabilities.as_str())
}

/// `INSERT INTO bus_events (...) VALUES (...), ...` for `rows` rows. SQLite
/// gets anonymous `?` parameters: it looks a numbered parameter's name up in a
/// list, which makes binding thousands of `$n` quadratic.
pub(super) fn insert_sql(engine: Engine, rows: usize) -> String {
    let mut sql = format!("INSERT INTO bus_events ({EVENT_COLUMNS}) VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..EVENT_VALUES {
            if c > 0 {
                sql.push(',');
            }
            match engine {
                Engine::Sqlite => sql.push('?'),
                Engine::Postgres => {
                    sql.push('$');
                    sql.push_str(&(r * EVENT_VALUES + c + 1).to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

pub(super) fn full_chunk_sql(engine: Engine) -> &'static str {
    static SQLITE: OnceLock<String> = OnceLock::new();
    static POSTGRES: OnceLock<String> = OnceLock::new();
    let cell = match engine {
        Engine::Sqlite => &SQLITE,
        Engine::Postgres => &POSTGRES,
    };
    cell.get_or_init(|| insert_sql(engine, INSERT_CHUNK))
}

fn corrupt(what: &str, seq: i64, problem: impl std::fmt::Display) -> BusError {
    BusError::Corrupt(format!("{what} of event {seq}: {problem}"))
}

/// Decodes the [`EVENT_COLUMNS`] of a row, starting at column `at`.
pub(super) fn logged_from_row(row: &AnyRow, at: usize) -> Result<LoggedEvent, BusError> {
    let text = |i: usize| row.try_get::<&str, _>(at + i).map_err(db);
    let number = |i: usize| row.try_get::<i64, _>(at + i).map_err(db);
    let seq = number(0)?;
    let ts = number(3)?;
    let event = Event {
        event_id: text(1)?.to_string(),
        event_type: text(2)?.to_string(),
        timestamp: format_millis(ts)
            .ok_or_else(|| corrupt("timestamp", seq, format!("{ts} ms is out of range")))?,
        source: Source {
            component: text(4)?.to_string(),
            extension: row
                .try_get::<Option<&str>, _>(at + 6)
                .map_err(db)?
                .map(str::to_string),
        },
        data: serde_json::from_str(text(7)?).map_err(|e| corrupt("data", seq, e))?,
        context: serde_json::from_str::<Context>(text(8)?)
            .map_err(|e| corrupt("context", seq, e))?,
        capabilities_required: serde_json::from_str(text(9)?)
            .map_err(|e| corrupt("capabilities", seq, e))?,
    };
    Ok(LoggedEvent {
        seq: uint(seq),
        component_seq: uint(number(5)?),
        event,
    })
}

/// SQLite reads a page of the log as one JSON array (one row per page, not
/// per event): sqlx hands each row from SQLite's worker thread to the caller
/// separately, and per event that hand-over cost more than all the rest of a
/// replay. The columns are those of [`EVENT_COLUMNS`], JSON columns embedded.
pub(super) const SQLITE_READ_PAGE: &str = "SELECT json_group_array(json_array(seq, event_id, event_type, ts, \
     component, component_seq, extension, json(data), json(context), json(capabilities))) \
     FROM (SELECT * FROM bus_events WHERE seq > $1 ORDER BY seq LIMIT $2)";

/// One element of a [`SQLITE_READ_PAGE`] array.
#[derive(serde::Deserialize)]
struct PageRow(
    i64,
    String,
    String,
    i64,
    String,
    i64,
    Option<String>,
    serde_json::Value,
    Context,
    Vec<Capability>,
);

pub(super) fn logged_from_page(page: &str, after: u64) -> Result<Vec<LoggedEvent>, BusError> {
    let rows: Vec<PageRow> = serde_json::from_str(page)
        .map_err(|e| BusError::Corrupt(format!("the events after {after}: {e}")))?;
    let mut events = rows
        .into_iter()
        .map(
            |PageRow(
                seq,
                event_id,
                event_type,
                ts,
                component,
                component_seq,
                extension,
                data,
                context,
                capabilities,
            )| {
                Ok(LoggedEvent {
                    seq: uint(seq),
                    component_seq: uint(component_seq),
                    event: Event {
                        event_id,
                        event_type,
                        timestamp: format_millis(ts).ok_or_else(|| {
                            corrupt("timestamp", seq, format!("{ts} ms is out of range"))
                        })?,
                        source: Source {
                            component,
                            extension,
                        },
                        data,
                        context,
                        capabilities_required: capabilities,
                    },
                })
            },
        )
        .collect::<Result<Vec<_>, BusError>>()?;
    // json_group_array keeps the subquery's order in practice; make it certain.
    events.sort_unstable_by_key(|e| e.seq);
    Ok(events)
}

/// Decodes the [`DEAD_COLUMNS`] of a row.
pub(super) fn dead_from_row(row: &AnyRow) -> Result<DeadLetter, BusError> {
    let logged = logged_from_row(row, 1)?;
    Ok(DeadLetter {
        subscriber: row.try_get("subscriber").map_err(db)?,
        seq: logged.seq,
        component_seq: logged.component_seq,
        event: logged.event,
        attempts: u32::try_from(row.try_get::<i64, _>("attempts").map_err(db)?).unwrap_or(0),
        last_error: row.try_get("last_error").map_err(db)?,
        dead_at: row.try_get("dead_at").map_err(db)?,
        requeued: row.try_get::<i64, _>("requeued").map_err(db)? != 0,
    })
}

pub(super) fn subscription_from_row(row: &AnyRow) -> Result<Subscription, BusError> {
    let id: String = row.try_get("id").map_err(db)?;
    let bad = |what: &str, problem: String| {
        BusError::Corrupt(format!("{what} of subscriber '{id}': {problem}"))
    };
    let patterns: Vec<String> =
        serde_json::from_str(&row.try_get::<String, _>("patterns").map_err(db)?)
            .map_err(|e| bad("patterns", e.to_string()))?;
    let patterns = patterns
        .iter()
        .map(|p| Pattern::parse(p).map_err(|e| bad("patterns", e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let capabilities: Vec<Capability> =
        serde_json::from_str(&row.try_get::<String, _>("capabilities").map_err(db)?)
            .map_err(|e| bad("capabilities", e.to_string()))?;
    Ok(Subscription {
        acked_seq: uint(row.try_get("acked_seq").map_err(db)?),
        id,
        patterns,
        capabilities,
    })
}
