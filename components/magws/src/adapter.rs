//! The MagWS adapter (seed section 6): the kernel has already checked the
//! capability of each `realtime.*` host call; this translates the call to
//! MagWS and back, and nothing else.
//!
//! Operations:
//! * `open_channel` (`realtime.register_channel`), args `{"channel": C}`:
//!   `C` is a channel id of the extension's manifest (`[contributes]
//!   channels`), or a JSON object `{"id": …, "events": ["database.*", …]}`
//!   to have those bus events forwarded to it ([`crate::forward`]). The
//!   channel is `ext/<publisher>/<name>/<id>`; opening it again replaces its
//!   patterns. Opening is allowed during `start` (the manifest is checked
//!   then if the registry has it, and at every use anyway).
//! * `broadcast` (`realtime.broadcast`), args `{"channel": C, "message": M}`:
//!   `M` is JSON text (anything else is sent as a string). `C` is the
//!   extension's own channel (`ext/<me>/<id>`, or just `<id>` when it is
//!   one of its channels; it must be open): sent to the project the
//!   extension is bound to (its
//!   configuration's `project`), or to every project's instance of the
//!   channel when it is not bound; or a project channel (`chat`): sent in
//!   the bound project only. Another extension's channel is refused. The
//!   message passes `broadcast_adapter`; the answer is the number of
//!   recipients.
//!
//! Guarantees: errors come back to the extension as messages (nothing here
//! traps); must be called on a blocking thread (host calls are), since
//! `broadcast_adapter` runs here synchronously.

use magflock_kernel::adapter::{Adapter, AdapterCall};
use magflock_kernel::event::Context;
use magflock_kernel::manifest::ContributionKind;
use magflock_kernel::{Component, Pattern};
use serde_json::Value;
use std::sync::Arc;

use crate::publish::Outgoing;
use crate::{ChannelName, MagWs, OpenChannel, WsError};

/// Which project an extension is bound to by its installation (`None`:
/// not bound by it; the manifest's default configuration is asked next).
pub type ProjectBinding = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

pub struct MagWsAdapter {
    ws: MagWs,
    binding: ProjectBinding,
}

fn message(e: WsError) -> String {
    e.to_string()
}

impl MagWsAdapter {
    pub fn new(ws: MagWs, binding: ProjectBinding) -> MagWsAdapter {
        MagWsAdapter { ws, binding }
    }

    /// The project an extension works in: its installation's configuration,
    /// else its manifest's default configuration.
    fn project_of(&self, extension: &str) -> Option<String> {
        (self.binding)(extension).or_else(|| {
            let gateway = self.ws.gateway().ok()?;
            let registry = gateway.kernel().registry.read().ok()?;
            registry.get(extension)?.config["project"]
                .as_str()
                .map(str::to_string)
        })
    }

    fn open(&self, extension: &str, args: &Value) -> Result<String, String> {
        let spec = args["channel"]
            .as_str()
            .ok_or("the call carries no channel")?;
        let (id, patterns) = match serde_json::from_str::<Value>(spec) {
            Ok(Value::Object(object)) => {
                let id = object
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or("a channel object needs an \"id\"")?
                    .to_string();
                let patterns: Vec<String> = match object.get("events") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(list)) => list
                        .iter()
                        .map(|p| p.as_str().map(str::to_string))
                        .collect::<Option<_>>()
                        .ok_or("\"events\" must be a list of event patterns")?,
                    Some(_) => return Err("\"events\" must be a list of event patterns".into()),
                };
                (id, patterns)
            }
            _ => (spec.to_string(), Vec::new()),
        };
        let name = ChannelName::extension(extension, &id).map_err(message)?;
        let events = patterns
            .iter()
            .map(|p| Pattern::parse(p).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        if let Ok(gateway) = self.ws.gateway() {
            let registry = gateway.kernel().registry.read().expect("registry lock");
            if let Some(manifest) = registry.get(extension)
                && !manifest
                    .contributions
                    .iter()
                    .any(|c| c.kind == ContributionKind::Channel && c.id == id)
            {
                return Err(format!(
                    "'{id}' is not a channel of {extension}: declare it in [contributes] channels"
                ));
            }
        }
        self.ws.set_open(
            name,
            OpenChannel {
                events,
                event_patterns: patterns,
            },
        );
        Ok(String::new())
    }

    fn broadcast(&self, extension: &str, args: &Value) -> Result<String, String> {
        let target = args["channel"]
            .as_str()
            .ok_or("the call carries no channel")?;
        let data = match &args["message"] {
            Value::String(text) => {
                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
            }
            other => other.clone(),
        };
        let size = data.to_string().len();
        let limit = self.ws.config().max_message_bytes;
        if size > limit {
            return Err(WsError::TooLarge { limit }.to_string());
        }
        let own_prefix = format!("ext/{extension}/");
        let name = if target.starts_with("ext/") {
            ChannelName::parse(target).map_err(message)?
        } else if target.contains('/') {
            return Err(format!("'{target}' is not a channel name"));
        } else {
            match ChannelName::parse(target).map_err(message)? {
                plain @ ChannelName::Plain(_) if !self.declares(extension, target) => plain,
                _ => ChannelName::extension(extension, target).map_err(message)?,
            }
        };
        let projects: Vec<String> = match &name {
            ChannelName::Extension { owner, .. } if owner != extension => {
                return Err(format!(
                    "{extension} may broadcast on its own channels ({own_prefix}…) and its project's, not on {name}"
                ));
            }
            ChannelName::Extension { .. } => {
                self.ws.extension_channel(&name).map_err(message)?;
                match self.project_of(extension) {
                    Some(project) => vec![project],
                    None => self
                        .ws
                        .channels()
                        .instances(&name)
                        .iter()
                        .map(|c| c.lock().expect("channel").project.clone())
                        .collect(),
                }
            }
            ChannelName::Plain(_) => vec![self.project_of(extension).ok_or_else(|| {
                format!(
                    "{extension} is not bound to a project: set \"project\" in its configuration to broadcast on '{name}'"
                )
            })?],
        };
        let from = format!("ext:{extension}");
        let mut recipients = 0;
        for project in projects {
            let outgoing = Outgoing {
                project: &project,
                channel: &name,
                data: data.clone(),
                from: &from,
                extension: Some(extension),
                context: Context {
                    project_id: Some(project.clone()),
                    ..Context::default()
                },
            };
            let (_, reached) = self.ws.publish_blocking(outgoing).map_err(message)?;
            recipients += reached;
        }
        Ok(recipients.to_string())
    }

    /// Whether `id` is one of the extension's channels (opened, or declared).
    fn declares(&self, extension: &str, id: &str) -> bool {
        if ChannelName::extension(extension, id).is_ok_and(|name| self.ws.opened(&name).is_some()) {
            return true;
        }
        let Ok(gateway) = self.ws.gateway() else {
            return false;
        };
        let registry = gateway.kernel().registry.read().expect("registry lock");
        registry.get(extension).is_some_and(|m| {
            m.contributions
                .iter()
                .any(|c| c.kind == ContributionKind::Channel && c.id == id)
        })
    }
}

impl Adapter for MagWsAdapter {
    fn component(&self) -> Component {
        Component::MagWs
    }

    fn execute(&self, call: &AdapterCall) -> Result<String, String> {
        let args: Value = serde_json::from_str(&call.args).map_err(|e| e.to_string())?;
        match call.operation.as_str() {
            "open_channel" => self.open(&call.extension, &args),
            "broadcast" => self.broadcast(&call.extension, &args),
            other => Err(format!("MagWS has no operation '{other}'")),
        }
    }
}
