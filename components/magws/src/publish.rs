//! The operations every path shares: publishing a message (from a client,
//! an extension's `broadcast` or a forwarded bus event), joining and leaving
//! a channel, and checking extension channels.
//!
//! Guarantees:
//! * Every message passes `broadcast_adapter` before it is numbered; a
//!   denial drops it (nothing numbered, retained or sent) and the caller is
//!   told the extension's reason; a replacement over the size limit is
//!   refused as well. Then it is numbered, retained and fanned out under the
//!   channel's lock, and `realtime.message.sent` is emitted.
//! * An extension channel is served only while its owner declares it in
//!   its manifest, has opened it, and may run; a join is admitted by the
//!   owner's `register_channel` before the client is added.
//! * A join fires `presence_stream` (`join`), then `message_history`
//!   (without `since`) or `replay_events` (with it), and `subscribe_to_event`
//!   for each bus-event pattern of the channel; a leave fires
//!   `presence_stream` (`leave`).

use magflock_kernel::Denial;
use magflock_kernel::event::Context;
use magflock_kernel::manifest::ContributionKind;
use serde_json::{Value, json};
use std::sync::Arc;

use crate::channel::{Joined, Subscriber};
use crate::events::{MESSAGE_SENT, SUBSCRIPTION_CREATED};
use crate::hooks::{
    BROADCAST_ADAPTER, MESSAGE_HISTORY, PRESENCE_STREAM, REPLAY_EVENTS, SUBSCRIBE_TO_EVENT,
};
use crate::outbox::Outbox;
use crate::{ChannelName, MagWs, OpenChannel, WsError};

/// One message about to be published.
pub(crate) struct Outgoing<'a> {
    pub project: &'a str,
    pub channel: &'a ChannelName,
    pub data: Value,
    /// A client id, `ext:<extension>` or `bus`.
    pub from: &'a str,
    /// The extension that sends it, if any (the event's source).
    pub extension: Option<&'a str>,
    pub context: Context,
}

/// A joining connection.
pub(crate) struct Joiner<'a> {
    pub conn: u64,
    pub client: &'a Arc<str>,
    pub outbox: &'a Arc<Outbox>,
    pub context: Context,
}

impl MagWs {
    fn subscribers_of(&self, project: &str, channel: &ChannelName) -> usize {
        self.channels()
            .get(project, channel)
            .map_or(0, |c| c.lock().expect("channel").subscriber_count())
    }

    fn filter_payload(&self, message: &Outgoing<'_>) -> Value {
        json!({
            "channel": message.channel.to_string(),
            "message": message.data,
            "recipients": self.subscribers_of(message.project, message.channel),
            "project_id": message.project,
            "from": message.from,
        })
    }

    /// The filtered message, or the denial.
    fn filtered(
        &self,
        message: &Outgoing<'_>,
        result: Result<Value, WsError>,
    ) -> Result<Value, WsError> {
        let mut payload = result?;
        let data = payload
            .get_mut("message")
            .map(Value::take)
            .unwrap_or(Value::Null);
        if data != message.data {
            let size = data.to_string().len();
            let limit = self.config().max_message_bytes;
            if size > limit {
                return Err(WsError::BadRequest(format!(
                    "broadcast_adapter made the message {size} bytes, over the limit of {limit}"
                )));
            }
        }
        Ok(data)
    }

    /// Runs `broadcast_adapter` (on a blocking thread) and publishes.
    pub(crate) async fn publish(&self, mut message: Outgoing<'_>) -> Result<(u64, usize), WsError> {
        if let Some(hooks) = self.hooks().filter(|h| h.has(BROADCAST_ADAPTER)) {
            let payload = self.filter_payload(&message);
            let result = hooks.filter(BROADCAST_ADAPTER, payload).await;
            message.data = self.filtered(&message, result)?;
        }
        self.deliver(message)
    }

    /// [`MagWs::publish`] from a blocking thread (the adapter's calls).
    pub(crate) fn publish_blocking(
        &self,
        mut message: Outgoing<'_>,
    ) -> Result<(u64, usize), WsError> {
        if let Some(hooks) = self.hooks().filter(|h| h.has(BROADCAST_ADAPTER)) {
            let payload = self.filter_payload(&message);
            let result = hooks.filter_blocking(BROADCAST_ADAPTER, &payload);
            message.data = self.filtered(&message, result)?;
        }
        self.deliver(message)
    }

    fn deliver(&self, message: Outgoing<'_>) -> Result<(u64, usize), WsError> {
        let config = self.config();
        let channel = self
            .channels()
            .get_or_create(
                message.project,
                message.channel,
                config.max_channels_per_project,
            )
            .ok_or_else(|| {
                WsError::Forbidden(format!(
                    "project '{}' has {} channels, the most allowed",
                    message.project, config.max_channels_per_project
                ))
            })?;
        let (seq, recipients, bytes) = channel.lock().expect("channel").publish(
            &message.data,
            message.from,
            &config.retention(),
        );
        self.count_message();
        self.events().emit(
            MESSAGE_SENT,
            json!({
                "channel": message.channel.to_string(), "project": message.project, "seq": seq,
                "from": message.from, "bytes": bytes, "recipients": recipients,
            }),
            message.context,
            message.extension,
        );
        Ok((seq, recipients))
    }

    /// Checks that an extension channel may be served now: declared in its
    /// owner's manifest, opened, and the owner runnable.
    pub(crate) fn extension_channel(&self, name: &ChannelName) -> Result<OpenChannel, WsError> {
        let ChannelName::Extension { owner, id } = name else {
            return Ok(OpenChannel::default());
        };
        let gateway = self.gateway()?;
        let kernel = gateway.kernel();
        match kernel.gate.may_run(owner) {
            Ok(()) => {}
            Err(Denial::UnknownExtension) => {
                return Err(WsError::NotFound(format!(
                    "no extension '{owner}' is installed"
                )));
            }
            Err(denial) => {
                return Err(WsError::Unavailable(format!(
                    "extension '{owner}' cannot serve '{name}' now: {denial}"
                )));
            }
        }
        let declared = {
            let registry = kernel.registry.read().expect("registry lock");
            let manifest = registry
                .get(owner)
                .ok_or_else(|| WsError::NotFound(format!("no extension '{owner}' is running")))?;
            manifest
                .contributions
                .iter()
                .any(|c| c.kind == ContributionKind::Channel && &c.id == id)
        };
        if !declared {
            return Err(WsError::NotFound(format!(
                "extension '{owner}' declares no channel '{id}' ([contributes] channels)"
            )));
        }
        self.opened(name).ok_or_else(|| {
            WsError::NotFound(format!(
                "channel '{name}' is not open (its extension opens it with realtime-channels.open)"
            ))
        })
    }

    /// Joins `channel` in `project` (the owner's `register_channel` first
    /// for extension channels) and fires the join hooks and event.
    pub(crate) async fn join(
        &self,
        joiner: Joiner<'_>,
        project: &str,
        channel: &ChannelName,
        since: Option<u64>,
        epoch: Option<u64>,
    ) -> Result<Joined, WsError> {
        let open = self.extension_channel(channel)?;
        if let ChannelName::Extension { owner, id } = channel {
            let hooks = self
                .hooks()
                .ok_or_else(|| WsError::Unavailable("MagWS is starting".into()))?;
            let payload = json!({
                "project_id": project, "prefix": channel.prefix(), "channel": channel.to_string(),
                "id": id, "client_id": joiner.client.as_ref(), "op": "subscribe",
                "user_id": joiner.context.user_id,
            });
            hooks.authorise(owner, payload).await?;
        }
        let config = self.config();
        let shared = self
            .channels()
            .get_or_create(project, channel, config.max_channels_per_project)
            .ok_or_else(|| {
                WsError::Forbidden(format!(
                    "project '{project}' has {} channels, the most allowed",
                    config.max_channels_per_project
                ))
            })?;
        let subscriber = Subscriber {
            client: joiner.client.clone(),
            outbox: joiner.outbox.clone(),
        };
        let joined = shared.lock().expect("channel").join(
            joiner.conn,
            subscriber,
            since,
            epoch,
            &config.retention(),
        );
        let name = channel.to_string();
        let client = joiner.client.as_ref();
        // MagUI's system channels are no extension's business (crate::system).
        if crate::system::is_system(project) {
            return Ok(joined);
        }
        if let Some(hooks) = self.hooks() {
            hooks.action(
                PRESENCE_STREAM,
                json!({"channel": name, "client_id": client, "state": "join", "project_id": project}),
            );
            match since {
                None => hooks.action(
                    MESSAGE_HISTORY,
                    json!({
                        "channel": name, "since": null, "limit": config.history_on_join,
                        "project_id": project, "client_id": client, "sent": joined.sent,
                    }),
                ),
                Some(from) => hooks.action(
                    REPLAY_EVENTS,
                    json!({
                        "channel": name, "client_id": client, "from_seq": from, "project_id": project,
                        "replayed": joined.sent, "gap": joined.gap.map(|(a, b)| json!([a, b])),
                    }),
                ),
            }
            for pattern in &open.event_patterns {
                hooks.action(
                    SUBSCRIBE_TO_EVENT,
                    json!({"channel": name, "client_id": client, "event_type": pattern, "project_id": project}),
                );
            }
        }
        self.events().emit(
            SUBSCRIPTION_CREATED,
            json!({
                "client": client, "channel": name, "project": project, "since": since,
                "seq": joined.seq, "replayed": joined.sent, "gap": joined.gap.is_some(),
            }),
            joiner.context,
            None,
        );
        Ok(joined)
    }

    /// Leaves `channel`; fires `presence_stream` (`leave`) if it was joined.
    pub(crate) fn leave(
        &self,
        conn: u64,
        client: &str,
        project: &str,
        channel: &ChannelName,
    ) -> bool {
        let Some(shared) = self.channels().get(project, channel) else {
            return false;
        };
        let left = shared.lock().expect("channel").leave(conn);
        if left
            && !crate::system::is_system(project)
            && let Some(hooks) = self.hooks()
        {
            hooks.action(
                PRESENCE_STREAM,
                json!({"channel": channel.to_string(), "client_id": client, "state": "leave", "project_id": project}),
            );
        }
        left
    }
}
