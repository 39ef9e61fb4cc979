//! Live updates for MagUI's pages: one WebSocket to MagWS (`/realtime/ws`,
//! authenticated by the MagUI session cookie from this origin) subscribed to
//! system channels of project `_magflock` (the Health page's frames, the
//! monitor's alerts).
//!
//! Guarantees: only in the browser (during server rendering nothing
//! connects and the status stays `Connecting`); a dropped connection is
//! opened again with back-off (1, 2, 4 … 15 s) and resumes each channel
//! after the last message it received (MagWS replays what was missed, or
//! says it cannot), so nothing is delivered twice and nothing retained is
//! lost; the socket is closed when the component that opened it goes away,
//! and its callbacks are detached before they are dropped.

use leptos::prelude::*;
use serde_json::Value;

/// Where the connection stands, for the "live" indicator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveStatus {
    Connecting,
    Live,
    /// Lost; trying again.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    Reconnecting,
}

impl LiveStatus {
    pub fn label(self) -> &'static str {
        match self {
            LiveStatus::Connecting => "Connecting…",
            LiveStatus::Live => "Live",
            LiveStatus::Reconnecting => "Reconnecting…",
        }
    }
}

/// One message of a system channel.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveMessage {
    pub channel: String,
    pub seq: u64,
    pub data: Value,
    /// Sent before this page joined (the channel's recent history on the
    /// first join), not as it happened.
    pub earlier: bool,
}

/// Subscribes to `channels` (system channels) and calls `on_message` with
/// every message; the returned signal follows the connection.
pub fn connect_live(
    channels: &'static [&'static str],
    on_message: impl Fn(LiveMessage) + 'static,
) -> ReadSignal<LiveStatus> {
    let (status, set_status) = signal(LiveStatus::Connecting);
    #[cfg(feature = "hydrate")]
    client::start(channels, std::rc::Rc::new(on_message), set_status);
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (channels, on_message, set_status);
    }
    status
}

#[cfg(feature = "hydrate")]
mod client {
    use super::{LiveMessage, LiveStatus};
    use crate::api::health::LIVE_PROJECT;
    use leptos::prelude::*;
    use serde_json::{Value, json};
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;
    use std::time::Duration;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{CloseEvent, MessageEvent, WebSocket};

    type Handler = Rc<dyn Fn(LiveMessage)>;

    #[derive(Default)]
    struct Connection {
        socket: Option<WebSocket>,
        /// Per channel: (last seq received, epoch).
        positions: HashMap<String, (u64, u64)>,
        attempts: u32,
        /// The page went away: do not reconnect.
        closed: bool,
        /// Keeps the socket's callbacks alive while it is open.
        callbacks: Vec<Box<dyn std::any::Any>>,
    }

    pub(super) fn start(
        channels: &'static [&'static str],
        on_message: Handler,
        status: WriteSignal<LiveStatus>,
    ) {
        let connection = Rc::new(RefCell::new(Connection::default()));
        let stored = StoredValue::new_local(connection.clone());
        on_cleanup(move || {
            if let Some(connection) = stored.try_get_value() {
                let mut c = connection.borrow_mut();
                c.closed = true;
                if let Some(socket) = c.socket.take() {
                    // Detach the callbacks first: the close event comes later,
                    // after they are dropped here.
                    socket.set_onmessage(None);
                    socket.set_onclose(None);
                    let _ = socket.close();
                }
                c.callbacks.clear();
            }
        });
        open(connection, channels, on_message, status);
    }

    fn url() -> Option<String> {
        let location = window().location();
        let scheme = if location.protocol().ok()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        Some(format!("{scheme}://{}/realtime/ws", location.host().ok()?))
    }

    fn open(
        connection: Rc<RefCell<Connection>>,
        channels: &'static [&'static str],
        on_message: Handler,
        status: WriteSignal<LiveStatus>,
    ) {
        if connection.borrow().closed {
            return;
        }
        let Some(socket) = url().and_then(|u| WebSocket::new(&u).ok()) else {
            retry(connection, channels, on_message, status);
            return;
        };
        let on_frame = {
            let connection = connection.clone();
            let socket = socket.clone();
            let on_message = on_message.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let Some(text) = event.data().as_string() else {
                    return;
                };
                let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                    return;
                };
                handle(&connection, &socket, channels, &on_message, status, frame);
            })
        };
        let on_close = {
            let connection = connection.clone();
            let on_message = on_message.clone();
            Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| {
                let lost = {
                    let mut c = connection.borrow_mut();
                    c.socket = None;
                    !c.closed
                };
                if lost {
                    status.set(LiveStatus::Reconnecting);
                    retry(connection.clone(), channels, on_message.clone(), status);
                }
            })
        };
        socket.set_onmessage(Some(on_frame.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        let mut c = connection.borrow_mut();
        c.socket = Some(socket);
        c.callbacks = vec![Box::new(on_frame), Box::new(on_close)];
    }

    fn retry(
        connection: Rc<RefCell<Connection>>,
        channels: &'static [&'static str],
        on_message: Handler,
        status: WriteSignal<LiveStatus>,
    ) {
        let wait = {
            let mut c = connection.borrow_mut();
            if c.closed {
                return;
            }
            c.attempts += 1;
            (1u64 << c.attempts.min(4).saturating_sub(1)).min(15)
        };
        set_timeout(
            move || open(connection, channels, on_message, status),
            Duration::from_secs(wait),
        );
    }

    fn send(socket: &WebSocket, value: Value) {
        let _ = socket.send_with_str(&value.to_string());
    }

    fn message_of(frame: &Value, earlier: bool) -> Option<LiveMessage> {
        Some(LiveMessage {
            channel: frame.get("channel")?.as_str()?.to_string(),
            seq: frame.get("seq")?.as_u64()?,
            data: frame.get("data").cloned().unwrap_or(Value::Null),
            earlier,
        })
    }

    fn handle(
        connection: &Rc<RefCell<Connection>>,
        socket: &WebSocket,
        channels: &'static [&'static str],
        on_message: &Handler,
        status: WriteSignal<LiveStatus>,
        frame: Value,
    ) {
        let kind = frame.get("type").and_then(Value::as_str).unwrap_or("");
        let is_ours = frame.get("project").and_then(Value::as_str) == Some(LIVE_PROJECT);
        match kind {
            "ready" => {
                let positions = connection.borrow().positions.clone();
                for channel in channels {
                    let mut op =
                        json!({"op": "subscribe", "channel": channel, "project": LIVE_PROJECT});
                    if let Some((seq, epoch)) = positions.get(*channel) {
                        op["since"] = json!(seq);
                        op["epoch"] = json!(epoch);
                    }
                    send(socket, op);
                }
            }
            "subscribed" if is_ours => {
                let mut c = connection.borrow_mut();
                c.attempts = 0;
                if let (Some(channel), Some(seq), Some(epoch)) = (
                    frame.get("channel").and_then(Value::as_str),
                    frame.get("seq").and_then(Value::as_u64),
                    frame.get("epoch").and_then(Value::as_u64),
                ) {
                    let position = c
                        .positions
                        .entry(channel.to_string())
                        .or_insert((seq, epoch));
                    if position.1 != epoch {
                        *position = (seq, epoch);
                    }
                }
                drop(c);
                status.set(LiveStatus::Live);
            }
            "history" if is_ours => {
                let messages = frame
                    .get("messages")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for message in messages.iter().filter_map(|m| message_of(m, true)) {
                    deliver(connection, on_message, message);
                }
            }
            "message" if is_ours => {
                if let Some(message) = message_of(&frame, false) {
                    deliver(connection, on_message, message);
                }
            }
            _ => {}
        }
    }

    /// Hands a message on once (by its sequence number per channel).
    fn deliver(connection: &Rc<RefCell<Connection>>, on_message: &Handler, message: LiveMessage) {
        {
            let mut c = connection.borrow_mut();
            let position = c.positions.entry(message.channel.clone()).or_insert((0, 0));
            if message.seq <= position.0 && position.0 != 0 && !message.earlier {
                return;
            }
            position.0 = position.0.max(message.seq);
        }
        on_message(message);
    }
}
