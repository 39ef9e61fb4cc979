//! Bus events into extension channels (the `subscribe_to_event` side of
//! MagWS): an extension opens a channel with event patterns
//! (`realtime-channels.open("{\"id\":\"feed\",\"events\":[\"database.*\"]}")`)
//! and the events matching them are published on it as messages from
//! `bus`, whose `data` is the whole event.
//!
//! Guarantees:
//! * **Gated by the owner's live grant, per event.** An event is forwarded
//!   only while the owner may run, holds `realtime.subscribe_events`, and
//!   holds every capability in the event's `capabilities_required` (the
//!   same rule as the bus's own subscriptions), checked at forwarding time:
//!   a revocation stops the very next event.
//! * **Scoped.** An event with a `context.project_id` goes to that
//!   project's instance of the channel only; an event without one to every
//!   instance that exists.
//! * **In bus order**, at least every [`crate::WsConfig::forward_every`],
//!   from the moment the forwarder first sees a channel with patterns open;
//!   each forwarded event passes `broadcast_adapter` like any message.
//! * MagWS's own `realtime.*` events are never forwarded (a message would
//!   otherwise announce itself forever).

use magflock_kernel::bus::{BusError, ReplayFrom};
use magflock_kernel::event::Context;
use magflock_kernel::{Capability, Event};
use std::time::Duration;

use crate::events::COMPONENT;
use crate::publish::Outgoing;
use crate::{ChannelName, MagWs, OpenChannel};

/// The most events one round reads.
const ROUND: usize = 500;

/// Forwards until aborted.
pub async fn run(ws: MagWs, every: Duration) {
    let mut cursor = None;
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            match round(&ws, &mut cursor).await {
                Ok(read) if read == ROUND => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!("MagWS event forwarding round failed: {e}");
                    break;
                }
            }
        }
    }
}

/// One round; returns how many log events it read.
async fn round(ws: &MagWs, cursor: &mut Option<u64>) -> Result<usize, BusError> {
    let channels: Vec<(ChannelName, OpenChannel)> = ws
        .open_channels()
        .into_iter()
        .filter(|(_, open)| !open.events.is_empty())
        .collect();
    let Ok(gateway) = ws.gateway() else {
        return Ok(0);
    };
    let bus = gateway.kernel().bus.clone();
    if channels.is_empty() {
        *cursor = None;
        return Ok(0);
    }
    let Some(after) = *cursor else {
        *cursor = Some(bus.head().await?);
        return Ok(0);
    };
    let events = bus.replay(ReplayFrom::Seq(after + 1), ROUND).await?;
    for logged in &events {
        *cursor = Some(logged.seq);
        if logged.event.source.component != COMPONENT {
            forward(ws, &channels, &logged.event).await;
        }
    }
    Ok(events.len())
}

/// Whether `owner` may have `event` forwarded to its channels now.
fn owner_may_see(ws: &MagWs, owner: &str, event: &Event) -> bool {
    let Ok(gateway) = ws.gateway() else {
        return false;
    };
    let gate = &gateway.kernel().gate;
    gate.check(owner, Capability::RealtimeSubscribeEvents)
        .is_ok()
        && event.visible_to(&gate.granted(owner))
}

async fn forward(ws: &MagWs, channels: &[(ChannelName, OpenChannel)], event: &Event) {
    for (name, open) in channels {
        let Some(owner) = name.owner() else { continue };
        if !open.events.iter().any(|p| p.matches(&event.event_type))
            || !owner_may_see(ws, owner, event)
            || ws.extension_channel(name).is_err()
        {
            continue;
        }
        let projects: Vec<String> = match &event.context.project_id {
            Some(project) => vec![project.clone()],
            None => ws
                .channels()
                .instances(name)
                .iter()
                .map(|c| c.lock().expect("channel").project.clone())
                .collect(),
        };
        let data = match serde_json::to_value(event) {
            Ok(data) => data,
            Err(e) => {
                tracing::error!("cannot forward event {}: {e}", event.event_id);
                return;
            }
        };
        for project in projects {
            let message = Outgoing {
                project: &project,
                channel: name,
                data: data.clone(),
                from: "bus",
                extension: Some(owner),
                context: Context {
                    project_id: Some(project.clone()),
                    ..Context::default()
                },
            };
            if let Err(e) = ws.publish(message).await {
                tracing::debug!(channel = %name, project, "event not forwarded: {e}");
            }
        }
    }
}
