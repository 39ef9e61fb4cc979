//! Events: recent events on the bus by category, each subscriber's lag, and
//! the dead-letter list with replay.

use super::Access;
use crate::AppError;
use leptos::prelude::*;
use magflock_types::{Millis, Role};
use serde::{Deserialize, Serialize};

/// This module's server functions: (path, access).
pub const ENDPOINTS: &[(&str, Access)] = &[
    ("/api/recent_events", Access::AtLeast(Role::Auditor)),
    ("/api/event_subscribers", Access::AtLeast(Role::Auditor)),
    ("/api/dead_letters", Access::AtLeast(Role::Auditor)),
    ("/api/requeue_dead_letters", Access::AtLeast(Role::Admin)),
];

/// Events per page.
pub const PAGE_SIZE: usize = 50;
/// How many of the newest events the category counts cover.
pub const COUNT_WINDOW: u64 = 1_000;

/// What the Events page asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventQuery {
    /// The part of the type before the first dot (`extension`, `auth`, …).
    pub category: Option<String>,
    /// An exact type (`extension.enabled`) or a prefix ending in a dot.
    pub event_type: Option<String>,
    /// Only events with a sequence number below this (the page cursor).
    pub before: Option<u64>,
}

/// A count of events of one category or type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub name: String,
    pub count: u64,
}

/// One event on the bus.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRow {
    pub seq: u64,
    pub event_type: String,
    pub category: String,
    /// RFC 3339, as the publisher stamped it.
    pub timestamp: String,
    /// `component` or `component · extension`.
    pub source: String,
    /// The event's data as JSON text (cut at 2 000 characters).
    pub data: String,
}

/// A page of events, newest first, with the counts of the newest ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsPage {
    /// The last sequence number given out.
    pub head: u64,
    /// How many of the newest events the counts cover (at most [`COUNT_WINDOW`]).
    pub counted: u64,
    /// Per category, most first.
    pub categories: Vec<Count>,
    /// Per type of the chosen category (or of all), most first.
    pub types: Vec<Count>,
    pub events: Vec<EventRow>,
    /// The cursor of the next (older) page, if there are older events.
    pub next_before: Option<u64>,
}

/// A subscriber's position on the bus.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriberInfo {
    pub id: String,
    /// The extension it delivers to (`ext:<id>` subscribers).
    pub extension: Option<String>,
    pub patterns: Vec<String>,
    pub acked_seq: u64,
    /// Events published after its acknowledged position (head − acknowledged).
    pub lag: u64,
    /// Dead letters waiting (not requeued).
    pub dead_letters: u64,
}

/// An event a subscriber failed to handle too many times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterInfo {
    pub subscriber: String,
    pub seq: u64,
    pub event_type: String,
    pub attempts: u32,
    pub last_error: String,
    pub dead_at: Millis,
    pub data: String,
}

/// What a requeue did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requeued {
    pub subscriber: String,
    pub seq: Option<u64>,
    pub count: u64,
}

/// The category of an event type: the part before the first dot.
pub fn category_of(event_type: &str) -> &str {
    event_type.split('.').next().unwrap_or(event_type)
}

#[server(endpoint = "recent_events", output = crate::api::codec::Json)]
pub async fn recent_events(query: EventQuery) -> Result<EventsPage, AppError> {
    crate::server::respond(crate::server::event_log::recent(query).await)
}

#[server(endpoint = "event_subscribers", output = crate::api::codec::Json)]
pub async fn event_subscribers() -> Result<Vec<SubscriberInfo>, AppError> {
    crate::server::respond(crate::server::event_log::subscribers().await)
}

/// Dead letters of one subscriber or all, newest first.
#[server(endpoint = "dead_letters", output = crate::api::codec::Json)]
pub async fn dead_letters(subscriber: Option<String>) -> Result<Vec<DeadLetterInfo>, AppError> {
    crate::server::respond(crate::server::event_log::dead_letters(subscriber).await)
}

/// Delivers one dead letter (`seq`) or all of `subscriber` again, first.
#[server(endpoint = "requeue_dead_letters", output = crate::api::codec::Json)]
pub async fn requeue_dead_letters(
    subscriber: String,
    seq: Option<u64>,
) -> Result<Requeued, AppError> {
    crate::server::respond(crate::server::event_log::requeue(subscriber, seq).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_category_is_before_the_first_dot() {
        assert_eq!(category_of("extension.health_check.failed"), "extension");
        assert_eq!(category_of("auth.user.login"), "auth");
        assert_eq!(category_of("plain"), "plain");
    }
}
