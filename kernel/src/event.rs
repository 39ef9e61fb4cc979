//! Events: the seed's schema, subscription patterns and the capability rule for
//! receiving an event. (The durable log that stores and delivers them is the
//! event bus, [`crate::bus`].)
//!
//! Guarantees: an event serialises to exactly the specification's JSON shape
//! (`event_id`, `event_type`, `timestamp`, `source{component, extension}`, `data`,
//! `context{project_id, user_id, trace_id}`, `capabilities_required`); its type is
//! in one of the five categories; a subscriber receives an event only if it holds
//! every capability the event requires.

use crate::Capability;
use serde::{Deserialize, Serialize};

/// The event categories of the specification.
pub const CATEGORIES: [&str; 5] = ["database", "api", "auth", "realtime", "extension"];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub component: String,
    /// The extension whose action caused the event, if any.
    pub extension: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub trace_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub event_id: String,
    pub event_type: String,
    /// RFC 3339, UTC, milliseconds (`2025-10-05T10:23:45.123Z`).
    pub timestamp: String,
    pub source: Source,
    pub data: serde_json::Value,
    pub context: Context,
    pub capabilities_required: Vec<Capability>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error(
        "event type '{0}' must be <category>.<name>… with a category of database, api, auth, realtime or extension"
    )]
    BadType(String),
    #[error("subscription pattern '{0}' must be '*', '<category>.*' or a full event type")]
    BadPattern(String),
}

pub(crate) fn check_type(event_type: &str) -> Result<(), EventError> {
    let mut parts = event_type.split('.');
    let category = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let well_formed = CATEGORIES.contains(&category)
        && !rest.is_empty()
        && rest.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        });
    if well_formed {
        Ok(())
    } else {
        Err(EventError::BadType(event_type.to_string()))
    }
}

impl Event {
    /// A new event with a fresh id (UUID v7, so ids sort by creation) and the
    /// current time.
    pub fn new(
        event_type: &str,
        source: Source,
        data: serde_json::Value,
        context: Context,
        capabilities_required: Vec<Capability>,
    ) -> Result<Event, EventError> {
        check_type(event_type)?;
        let now = time::OffsetDateTime::now_utc();
        let timestamp = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second(),
            now.millisecond()
        );
        Ok(Event {
            event_id: uuid::Uuid::now_v7().to_string(),
            event_type: event_type.to_string(),
            timestamp,
            source,
            data,
            context,
            capabilities_required,
        })
    }

    /// May a subscriber holding `granted` receive this event?
    pub fn visible_to(&self, granted: &[Capability]) -> bool {
        self.capabilities_required
            .iter()
            .all(|c| granted.contains(c))
    }
}

/// What a subscriber listens to: everything, a category, or one type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    All,
    Category(String),
    Exact(String),
}

/// The pattern as written: `*`, `<category>.*` or the event type.
impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pattern::All => f.write_str("*"),
            Pattern::Category(c) => write!(f, "{c}.*"),
            Pattern::Exact(t) => f.write_str(t),
        }
    }
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, EventError> {
        let bad = || EventError::BadPattern(text.to_string());
        if text == "*" {
            return Ok(Pattern::All);
        }
        if let Some(category) = text.strip_suffix(".*") {
            return CATEGORIES
                .contains(&category)
                .then(|| Pattern::Category(category.to_string()))
                .ok_or_else(bad);
        }
        check_type(text).map_err(|_| bad())?;
        Ok(Pattern::Exact(text.to_string()))
    }

    pub fn matches(&self, event_type: &str) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Category(c) => event_type
                .strip_prefix(c.as_str())
                .is_some_and(|rest| rest.starts_with('.')),
            Pattern::Exact(t) => t == event_type,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn query_event() -> Event {
        Event::new(
            "database.query.executed",
            Source {
                component: "magds".into(),
                extension: Some("acme/stats".into()),
            },
            json!({"query": "SELECT 1", "duration_ms": 12, "rows_returned": 1}),
            Context {
                project_id: Some("proj_abc123".into()),
                user_id: None,
                trace_id: Some("trace_123".into()),
            },
            vec![Capability::DatabaseRead],
        )
        .unwrap()
    }

    #[test]
    fn serialises_to_the_specifications_shape() {
        let event = query_event();
        let value = serde_json::to_value(&event).unwrap();
        let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "capabilities_required",
                "context",
                "data",
                "event_id",
                "event_type",
                "source",
                "timestamp"
            ]
        );
        assert_eq!(
            value["source"],
            json!({"component": "magds", "extension": "acme/stats"})
        );
        assert_eq!(
            value["context"],
            json!({"project_id": "proj_abc123", "user_id": null, "trace_id": "trace_123"})
        );
        assert_eq!(value["capabilities_required"], json!(["database.read"]));
        let ts = event.timestamp.as_str();
        assert!(
            ts.len() == 24 && ts.ends_with('Z') && &ts[10..11] == "T" && &ts[19..20] == ".",
            "{ts}"
        );
        let back: Event = serde_json::from_value(value).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn types_must_be_in_a_category() {
        assert!(
            Event::new(
                "billing.paid",
                query_event().source,
                json!({}),
                Context::default(),
                vec![]
            )
            .is_err()
        );
        assert!(
            Event::new(
                "extension.health_check.failed",
                query_event().source,
                json!({}),
                Context::default(),
                vec![]
            )
            .is_ok()
        );
        assert!(
            Event::new(
                "api.",
                query_event().source,
                json!({}),
                Context::default(),
                vec![]
            )
            .is_err()
        );
    }

    #[test]
    fn patterns_and_capability_gating() {
        let event = query_event();
        assert!(
            Pattern::parse("database.*")
                .unwrap()
                .matches(&event.event_type)
        );
        assert!(!Pattern::parse("api.*").unwrap().matches(&event.event_type));
        assert!(Pattern::parse("*").unwrap().matches(&event.event_type));
        assert!(
            Pattern::parse("database.query.executed")
                .unwrap()
                .matches(&event.event_type)
        );
        assert!(!Pattern::Category("data".into()).matches("database.query.executed"));
        assert!(Pattern::parse("billing.*").is_err());
        assert!(Pattern::parse("database.").is_err());
        assert!(event.visible_to(&[Capability::DatabaseRead, Capability::SystemMetrics]));
        assert!(!event.visible_to(&[Capability::SystemMetrics]));
    }
}
