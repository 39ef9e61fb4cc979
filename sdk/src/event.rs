//! Events as an extension receives them: exactly the kernel's event schema.

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
pub struct EventSource {
    pub component: String,
    pub extension: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct EventContext {
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub trace_id: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Event {
    /// Unique per event; the same on a redelivery, so use it to dedupe.
    pub event_id: String,
    pub event_type: String,
    /// RFC 3339, UTC, milliseconds.
    pub timestamp: String,
    pub source: EventSource,
    pub data: serde_json::Value,
    #[serde(default)]
    pub context: EventContext,
    #[serde(default)]
    pub capabilities_required: Vec<String>,
}

impl Event {
    #[doc(hidden)]
    pub fn from_json(text: &str) -> Result<Event, String> {
        serde_json::from_str(text).map_err(|e| format!("event is not in the event schema: {e}"))
    }
}
