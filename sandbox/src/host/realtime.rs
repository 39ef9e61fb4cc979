//! `realtime.*`: handed to the MagWS adapter after the gate check.

use magflock_kernel::{Capability, Component};
use serde_json::json;

use crate::bindings::magflock::extension::{realtime_broadcast, realtime_channels};
use crate::state::HostState;

impl realtime_channels::Host for HostState {
    fn open(&mut self, channel: String) -> wasmtime::Result<Result<(), String>> {
        self.allow(
            Capability::RealtimeRegisterChannel,
            "realtime-channels.open",
        )?;
        Ok(self.adapter_unit(
            Component::MagWs,
            Capability::RealtimeRegisterChannel,
            "open_channel",
            json!({"channel": channel}),
        ))
    }
}

impl realtime_broadcast::Host for HostState {
    fn send(&mut self, channel: String, message: String) -> wasmtime::Result<Result<u32, String>> {
        self.allow(Capability::RealtimeBroadcast, "realtime-broadcast.send")?;
        Ok(self
            .adapter(
                Component::MagWs,
                Capability::RealtimeBroadcast,
                "broadcast",
                json!({"channel": channel, "message": message}),
            )
            .and_then(|n| {
                n.trim()
                    .parse::<u32>()
                    .map_err(|e| format!("MagWS answered '{n}': {e}"))
            }))
    }
}
