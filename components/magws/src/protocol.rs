//! The wire protocol: what clients send ([`ClientOp`]) and the frames the
//! server sends back ([`frame`]). Every frame is one JSON text message; the
//! whole protocol is described in the crate documentation.
//!
//! Guarantees: parsing is strict (an unknown op or field is a `bad_request`
//! error frame naming it, never a silent no-op); channel names are checked
//! here once ([`ChannelName::parse`]) so the rest of the crate deals only in
//! valid names; every server frame carries a `type`.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::WsError;

/// The longest channel name (both kinds).
pub const MAX_CHANNEL_LEN: usize = 200;

/// One message from a client.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientOp {
    /// The first message of a connection without a key or session header.
    Auth { key: String },
    /// Join a channel. `since`: resume after this sequence number (replay);
    /// `epoch`: the channel epoch the client saw (a different one means the
    /// channel was reset and `since` is meaningless). `project`: admins name
    /// the project; a key's project is implied.
    Subscribe {
        channel: String,
        #[serde(default)]
        since: Option<u64>,
        #[serde(default)]
        epoch: Option<u64>,
        #[serde(default)]
        project: Option<String>,
    },
    Unsubscribe {
        channel: String,
        #[serde(default)]
        project: Option<String>,
    },
    Publish {
        channel: String,
        data: Value,
        #[serde(default)]
        project: Option<String>,
    },
    Ping {
        #[serde(default)]
        id: Option<Value>,
    },
}

impl ClientOp {
    pub fn parse(text: &str) -> Result<ClientOp, WsError> {
        serde_json::from_str(text).map_err(|e| WsError::BadRequest(format!("bad message: {e}")))
    }
}

/// A valid channel name: a project channel (`chat`, `orders.eu`) or an
/// extension channel `ext/<publisher>/<name>/<channel>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChannelName {
    Plain(String),
    Extension {
        /// The owning extension's id, `<publisher>/<name>`.
        owner: String,
        /// The channel's id in the owner's manifest (`[contributes] channels`).
        id: String,
    },
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl ChannelName {
    pub fn parse(name: &str) -> Result<ChannelName, WsError> {
        let bad = |why: &str| WsError::BadRequest(format!("channel '{name}': {why}"));
        if name.is_empty() || name.len() > MAX_CHANNEL_LEN {
            return Err(bad(&format!("1 to {MAX_CHANNEL_LEN} characters")));
        }
        if let Some(rest) = name.strip_prefix("ext/") {
            let parts: Vec<&str> = rest.split('/').collect();
            return match parts.as_slice() {
                [publisher, extension, id]
                    if is_slug(publisher) && is_slug(extension) && is_slug(id) =>
                {
                    Ok(ChannelName::Extension {
                        owner: format!("{publisher}/{extension}"),
                        id: (*id).to_string(),
                    })
                }
                _ => Err(bad(
                    "extension channels are ext/<publisher>/<name>/<channel>, each part lower-case letters, digits, '-' and '_'",
                )),
            };
        }
        let valid = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if valid {
            Ok(ChannelName::Plain(name.to_string()))
        } else {
            Err(bad(
                "project channels use letters, digits, '-', '_', '.' and ':' ('/' only in ext/<publisher>/<name>/<channel>)",
            ))
        }
    }

    /// The extension channel `id` of extension `owner`.
    pub fn extension(owner: &str, id: &str) -> Result<ChannelName, WsError> {
        ChannelName::parse(&format!("ext/{owner}/{id}"))
    }

    pub fn owner(&self) -> Option<&str> {
        match self {
            ChannelName::Plain(_) => None,
            ChannelName::Extension { owner, .. } => Some(owner),
        }
    }

    /// `ext/<owner>/` for an extension channel (the hook's `prefix`).
    pub fn prefix(&self) -> Option<String> {
        self.owner().map(|o| format!("ext/{o}/"))
    }
}

impl std::fmt::Display for ChannelName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChannelName::Plain(name) => f.write_str(name),
            ChannelName::Extension { owner, id } => write!(f, "ext/{owner}/{id}"),
        }
    }
}

/// The frames the server sends.
pub mod frame {
    use super::*;

    /// After authentication: who the connection is.
    pub fn ready(client: &str, kind: &str, project: Option<&str>, limits: Value) -> Value {
        json!({"type": "ready", "client": client, "kind": kind, "project": project, "limits": limits})
    }

    pub fn subscribed(
        project: &str,
        channel: &str,
        seq: u64,
        epoch: u64,
        present: &[String],
    ) -> Value {
        json!({"type": "subscribed", "project": project, "channel": channel, "seq": seq, "epoch": epoch, "present": present})
    }

    pub fn unsubscribed(project: &str, channel: &str) -> Value {
        json!({"type": "unsubscribed", "project": project, "channel": channel})
    }

    /// A channel message, as text (built once, shared by every recipient).
    pub fn message(project: &str, channel: &str, seq: u64, data: &Value, from: &str) -> String {
        json!({"type": "message", "project": project, "channel": channel, "seq": seq, "data": data, "from": from})
            .to_string()
    }

    pub fn presence(project: &str, channel: &str, event: &str, client: &str) -> String {
        json!({"type": "presence", "project": project, "channel": channel, "event": event, "client": client})
            .to_string()
    }

    /// `history`: the last messages of a channel, each a `message` frame.
    pub fn history(project: &str, channel: &str, messages: &[&str]) -> String {
        let head = json!({"type": "history", "project": project, "channel": channel}).to_string();
        // `{...}` → `{...,"messages":[m1,m2]}`: the stored frames are spliced
        // in as they are, not parsed and serialised again.
        let mut out = String::with_capacity(
            head.len() + 16 + messages.iter().map(|m| m.len() + 1).sum::<usize>(),
        );
        out.push_str(&head[..head.len() - 1]);
        out.push_str(",\"messages\":[");
        for (i, m) in messages.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(m);
        }
        out.push_str("]}");
        out
    }

    pub fn pong(id: Option<&Value>) -> Value {
        json!({"type": "pong", "id": id})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_parse_strictly() {
        assert_eq!(
            ClientOp::parse(r#"{"op":"subscribe","channel":"chat","since":4}"#).unwrap(),
            ClientOp::Subscribe {
                channel: "chat".into(),
                since: Some(4),
                epoch: None,
                project: None
            }
        );
        assert!(matches!(
            ClientOp::parse(r#"{"op":"publish","channel":"c","data":{"a":1}}"#),
            Ok(ClientOp::Publish { .. })
        ));
        for bad in [
            r#"{"op":"explode"}"#,
            r#"{"op":"subscribe"}"#,
            r#"{"op":"ping","extra":1}"#,
            "not json",
        ] {
            assert!(
                matches!(ClientOp::parse(bad), Err(WsError::BadRequest(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn channel_names() {
        assert_eq!(
            ChannelName::parse("orders.eu:1").unwrap(),
            ChannelName::Plain("orders.eu:1".into())
        );
        let ext = ChannelName::parse("ext/test/switchboard/lobby").unwrap();
        assert_eq!(ext.owner(), Some("test/switchboard"));
        assert_eq!(ext.prefix().as_deref(), Some("ext/test/switchboard/"));
        assert_eq!(ext.to_string(), "ext/test/switchboard/lobby");
        for bad in [
            "",
            "a/b",
            "ext/x",
            "ext/a/b/c/d",
            "ext/A/b/c",
            "sp ace",
            &"x".repeat(201),
        ] {
            assert!(ChannelName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn history_splices_stored_frames() {
        let m1 = frame::message("p", "c", 1, &json!({"a": 1}), "c-1");
        let m2 = frame::message("p", "c", 2, &json!("b"), "c-2");
        let text = frame::history("p", "c", &[&m1, &m2]);
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["type"], "history");
        assert_eq!(value["messages"][1]["seq"], 2);
        let empty: Value = serde_json::from_str(&frame::history("p", "c", &[])).unwrap();
        assert_eq!(empty["messages"], json!([]));
    }
}
