//! The event bus from MagUI: the newest events by category and type, paged
//! backwards; each subscriber's lag and dead letters; requeueing dead
//! letters so they are delivered again.
//!
//! Guarantees: any signed-in role reads; only owners and admins requeue,
//! and each requeue is audited (`event.dead_letters_requeued`, with the
//! subscriber, the event or "all", and how many). Reading is bounded: the
//! counts cover the newest [`COUNT_WINDOW`] events and one page scans at
//! most [`SCAN_LIMIT`] events, so a large log never makes the page slow.

use super::audit::record;
use super::console::console;
use super::guard::require;
use crate::AppError;
use crate::api::event_log::{
    COUNT_WINDOW, Count, DeadLetterInfo, EventQuery, EventRow, EventsPage, PAGE_SIZE, Requeued,
    SubscriberInfo, category_of,
};
use magflock_kernel::bus::{BusError, LoggedEvent};
use magflock_types::{Outcome, Role};
use std::collections::BTreeMap;

/// The most events one page looks at for matches.
pub const SCAN_LIMIT: u64 = 5_000;
const CHUNK: u64 = 500;
const DATA_CHARS: usize = 2_000;

fn bus_error(e: BusError) -> AppError {
    match e {
        BusError::Unavailable(_) => AppError::Unavailable,
        BusError::UnknownSubscriber(_) => {
            AppError::NotFound(super::console::capitalised(&e.to_string()))
        }
        other => AppError::internal(other),
    }
}

fn cut(text: String) -> String {
    if text.chars().count() <= DATA_CHARS {
        return text;
    }
    let mut out: String = text.chars().take(DATA_CHARS).collect();
    out.push('…');
    out
}

fn row(logged: &LoggedEvent) -> EventRow {
    let event = &logged.event;
    EventRow {
        seq: logged.seq,
        event_type: event.event_type.clone(),
        category: category_of(&event.event_type).to_string(),
        timestamp: event.timestamp.clone(),
        source: match &event.source.extension {
            Some(extension) => format!("{} · {extension}", event.source.component),
            None => event.source.component.clone(),
        },
        data: cut(event.data.to_string()),
    }
}

/// A filter value: trimmed, non-empty, at most 200 characters.
fn filter_value(value: Option<String>, field: &str) -> Result<Option<String>, AppError> {
    let Some(value) = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    if value.len() > 200 {
        return Err(AppError::invalid(
            field,
            "A filter is at most 200 characters.",
        ));
    }
    Ok(Some(value))
}

/// Whether `event_type` passes the filters (`wanted`: exact, or a prefix
/// when it ends with `.` or `*`).
fn matches(event_type: &str, category: Option<&str>, wanted: Option<&str>) -> bool {
    if category.is_some_and(|c| category_of(event_type) != c) {
        return false;
    }
    match wanted {
        None => true,
        Some(w) if w.ends_with('*') || w.ends_with('.') => {
            event_type.starts_with(w.trim_end_matches('*'))
        }
        Some(w) => event_type == w,
    }
}

fn counted(map: BTreeMap<String, u64>) -> Vec<Count> {
    let mut counts: Vec<Count> = map
        .into_iter()
        .map(|(name, count)| Count { name, count })
        .collect();
    counts.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
    counts
}

pub async fn recent(query: EventQuery) -> Result<EventsPage, AppError> {
    require(Role::Auditor).await?;
    let category = filter_value(query.category, "category")?;
    let wanted = filter_value(query.event_type, "event_type")?;
    let bus = console()?.kernel.bus;
    let log = bus.log();
    let head = bus.head().await.map_err(bus_error)?;

    // Counts over the newest events.
    let newest = log
        .read(head.saturating_sub(COUNT_WINDOW), COUNT_WINDOW as usize)
        .await
        .map_err(bus_error)?;
    let mut categories = BTreeMap::new();
    let mut types = BTreeMap::new();
    for logged in &newest {
        let event_type = &logged.event.event_type;
        *categories
            .entry(category_of(event_type).to_string())
            .or_insert(0) += 1;
        if category
            .as_deref()
            .is_none_or(|c| category_of(event_type) == c)
        {
            *types.entry(event_type.clone()).or_insert(0) += 1;
        }
    }

    // One page, newest first, scanning backwards from the cursor.
    let mut upper = query
        .before
        .unwrap_or(head + 1)
        .min(head + 1)
        .saturating_sub(1);
    let mut events = Vec::new();
    let mut scanned = 0;
    let mut next_before = None;
    while upper > 0 {
        let after = upper.saturating_sub(CHUNK);
        let chunk = log.read(after, CHUNK as usize).await.map_err(bus_error)?;
        for logged in chunk.iter().rev().filter(|l| l.seq <= upper) {
            if matches(
                &logged.event.event_type,
                category.as_deref(),
                wanted.as_deref(),
            ) {
                if events.len() == PAGE_SIZE {
                    next_before = events.last().map(|e: &EventRow| e.seq);
                    break;
                }
                events.push(row(logged));
            }
        }
        scanned += upper - after;
        upper = after;
        if next_before.is_some() {
            break;
        }
        if scanned >= SCAN_LIMIT && upper > 0 {
            // Older events may match; the next page goes on from here.
            next_before = Some(upper + 1);
            break;
        }
    }
    Ok(EventsPage {
        head,
        counted: newest.len() as u64,
        categories: counted(categories),
        types: counted(types),
        events,
        next_before,
    })
}

pub async fn subscribers() -> Result<Vec<SubscriberInfo>, AppError> {
    require(Role::Auditor).await?;
    let bus = console()?.kernel.bus;
    let head = bus.head().await.map_err(bus_error)?;
    let dead = bus.dead_letters(None, 10_000).await.map_err(bus_error)?;
    let mut subscribers: Vec<SubscriberInfo> = bus
        .subscriptions()
        .await
        .map_err(bus_error)?
        .into_iter()
        .map(|s| SubscriberInfo {
            extension: s.id.strip_prefix("ext:").map(str::to_string),
            patterns: s.patterns.iter().map(|p| p.to_string()).collect(),
            acked_seq: s.acked_seq,
            lag: head.saturating_sub(s.acked_seq),
            dead_letters: dead.iter().filter(|d| d.subscriber == s.id).count() as u64,
            id: s.id,
        })
        .collect();
    subscribers.sort_by(|a, b| b.lag.cmp(&a.lag).then(a.id.cmp(&b.id)));
    Ok(subscribers)
}

pub async fn dead_letters(subscriber: Option<String>) -> Result<Vec<DeadLetterInfo>, AppError> {
    require(Role::Auditor).await?;
    let subscriber = filter_value(subscriber, "subscriber")?;
    let bus = console()?.kernel.bus;
    let mut letters: Vec<DeadLetterInfo> = bus
        .dead_letters(subscriber.as_deref(), 500)
        .await
        .map_err(bus_error)?
        .into_iter()
        .map(|d| DeadLetterInfo {
            subscriber: d.subscriber,
            seq: d.seq,
            event_type: d.event.event_type,
            attempts: d.attempts,
            last_error: d.last_error,
            dead_at: d.dead_at,
            data: cut(d.event.data.to_string()),
        })
        .collect();
    letters.sort_by(|a, b| b.dead_at.cmp(&a.dead_at).then(b.seq.cmp(&a.seq)));
    Ok(letters)
}

pub async fn requeue(subscriber: String, seq: Option<u64>) -> Result<Requeued, AppError> {
    let caller = require(Role::Admin).await?;
    let subscriber = filter_value(Some(subscriber), "subscriber")?
        .ok_or_else(|| AppError::invalid("subscriber", "Name the subscriber."))?;
    let bus = console()?.kernel.bus;
    bus.subscription(&subscriber).await.map_err(bus_error)?;
    let result = bus.requeue(&subscriber, seq).await.map_err(bus_error);
    let count = *result.as_ref().unwrap_or(&0);
    let outcome = if count > 0 {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    record(
        &caller.actor(),
        "event.dead_letters_requeued",
        Some(&subscriber),
        outcome,
        serde_json::json!({"seq": seq, "all": seq.is_none(), "requeued": count}),
    )
    .await?;
    result?;
    if count == 0 {
        return Err(AppError::NotFound(match seq {
            Some(seq) => format!(
                "{subscriber} has no dead letter for event {seq} (it may have been requeued already)."
            ),
            None => format!("{subscriber} has no dead letters to requeue."),
        }));
    }
    Ok(Requeued {
        subscriber,
        seq,
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_categories_types_and_prefixes() {
        assert!(matches("extension.enabled", Some("extension"), None));
        assert!(!matches("auth.user.login", Some("extension"), None));
        assert!(matches("auth.user.login", None, Some("auth.user.")));
        assert!(matches("auth.user.login", None, Some("auth.*")));
        assert!(!matches("auth.user.login", None, Some("auth.user")));
        assert!(matches("auth.user.login", None, Some("auth.user.login")));
        assert_eq!(cut("x".repeat(3000)).chars().count(), DATA_CHARS + 1);
    }
}
