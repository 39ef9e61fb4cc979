//! MagUI's own live views: system channels that the server writes and
//! signed-in MagUI sessions read (`{"op":"subscribe","channel":"health",
//! "project":"_magflock"}`), e.g. the Health page's statistics every few
//! seconds and the alerts the monitor raises.
//!
//! Guarantees:
//! * System channels live in the reserved project [`SYSTEM_PROJECT`], which
//!   no MagDS project can be named (project names start with a letter).
//! * Only MagUI sessions (any role) subscribe; an API key is refused even if
//!   it names that project. Nobody publishes from a connection: only the
//!   server, through [`MagWs::publish_system`].
//! * System messages pass no extension hook (`broadcast_adapter`,
//!   `presence_stream`, …) and emit no bus event: extensions neither see nor
//!   change MagUI's own data, and a feed every few seconds does not flood
//!   the event log. Numbering, order, retention and replay are those of any
//!   channel.

use serde_json::Value;

use crate::auth::Identity;
use crate::{ChannelName, MagWs, WsError};

/// The reserved project of MagUI's system channels.
pub const SYSTEM_PROJECT: &str = "_magflock";

/// Whether `project` is the system project.
pub fn is_system(project: &str) -> bool {
    project == SYSTEM_PROJECT
}

/// Who may subscribe to a system channel: MagUI sessions only.
pub(crate) fn may_subscribe(identity: &Identity) -> Result<(), WsError> {
    match identity {
        Identity::Admin(_) => Ok(()),
        Identity::Key(_) => Err(WsError::Forbidden(format!(
            "project '{SYSTEM_PROJECT}' holds MagUI's own channels; API keys cannot use it"
        ))),
    }
}

/// Publishing from a connection to a system channel is refused.
pub(crate) fn refuse_publish() -> WsError {
    WsError::Forbidden(format!(
        "the channels of project '{SYSTEM_PROJECT}' are written by the server only"
    ))
}

impl MagWs {
    /// Publishes `data` on the system channel `channel` (a plain channel
    /// name); returns its sequence number. Refused while shutting down (the
    /// caller's feed should end then).
    pub fn publish_system(&self, channel: &str, data: Value) -> Result<u64, WsError> {
        if self.is_shutting_down() {
            return Err(WsError::ShuttingDown);
        }
        let name = ChannelName::parse(channel)?;
        if name.owner().is_some() {
            return Err(WsError::BadRequest(format!(
                "system channel '{channel}' must be a plain channel name"
            )));
        }
        let config = self.config();
        let shared = self
            .channels()
            .get_or_create(SYSTEM_PROJECT, &name, config.max_channels_per_project)
            .ok_or_else(|| {
                WsError::Forbidden(format!(
                    "project '{SYSTEM_PROJECT}' has {} channels, the most allowed",
                    config.max_channels_per_project
                ))
            })?;
        let (seq, _, _) =
            shared
                .lock()
                .expect("channel")
                .publish(&data, "system", &config.retention());
        self.count_message();
        Ok(seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_project_cannot_be_a_project_name() {
        // MagDS project names match [a-z][a-z0-9_]{0,62}.
        assert!(!SYSTEM_PROJECT.starts_with(|c: char| c.is_ascii_lowercase()));
        assert!(is_system(SYSTEM_PROJECT));
        assert!(!is_system("sales"));
    }
}
