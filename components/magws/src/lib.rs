//! MagWS, the realtime component: project-scoped channels over WebSocket,
//! as an axum [`Router`](axum::Router) the server mounts (at `/realtime`, so
//! the endpoint is `GET /realtime/ws`).
//!
//! # Authentication ([`auth`])
//! * A project API key: `Authorization: Bearer mf_…` on the upgrade request
//!   (a bad key: `401` before the upgrade), or, from browsers, the first
//!   message `{"op":"auth","key":"mf_…"}` within 5 s (a bad or missing one:
//!   close `4001`). Never in the URL (`400`).
//! * A signed-in MagUI session, only from the server's own pages (`Origin`
//!   = this host or the public URL; otherwise `403`).
//! * 20 failed authentications from one address within a minute: `429`
//!   until the minute is over ([`throttle`]).
//!
//! # Protocol ([`protocol`]): JSON text frames
//! Client → server (`project` is for admins; a key's project is implied):
//! * `{"op":"auth","key":"mf_…"}` (first message, when not authenticated yet)
//! * `{"op":"subscribe","channel":"chat","since"?:41,"epoch"?:…,"project"?:"sales"}`
//! * `{"op":"unsubscribe","channel":"chat"}`
//! * `{"op":"publish","channel":"chat","data":<any JSON>}`
//! * `{"op":"ping","id"?:…}`
//!
//! Server → client (every frame has a `type`):
//! * `ready {client, kind, project, limits}`: authenticated;
//! * `subscribed {project, channel, seq, epoch, present, present_count}`:
//!   `seq` is the channel's last sequence number at the join;
//! * `history {project, channel, messages: [message…]}`: the last messages,
//!   on a join without `since`;
//! * `message {project, channel, seq, data, from}`: `from` is the
//!   publishing client's id, `ext:<extension>` or `bus`;
//! * `presence {project, channel, event: "join"|"leave", client}`;
//! * `unsubscribed {project, channel}`, `pong {id}`;
//! * `error {code, message, channel?, …}`: a refused operation; the
//!   connection carries on unless it is closed right after.
//!
//! Channels are `chat`-like names per project, or extension channels
//! `ext/<publisher>/<name>/<channel>` that the extension declares
//! (`[contributes] channels = [{ id = "lobby" }]`, `realtime.register_channel`),
//! opens (`realtime-channels.open`) and authorises (`register_channel`).
//!
//! Resuming: subscribe with `since` = the last `seq` seen (and the `epoch`
//! of `subscribed`): every message after it still retained comes as
//! `message` frames; if some are gone, an `error` with code `replay_gap`
//! (`missed_from`, `missed_to`) comes first.
//!
//! # Guarantees
//! * Per channel, messages are numbered without gaps and reach every
//!   subscriber in order ([`channel`]); per project, channels are apart.
//! * Limits ([`WsConfig`]): a message over `max_message_bytes` closes the
//!   connection (`1009`); over `messages_per_second` a message is refused
//!   (`rate_limited`); a client whose bounded send queue fills is dropped
//!   (`4008`, [`outbox`]) instead of growing memory.
//! * Hooks ([`hooks`]): `broadcast_adapter` filters every message;
//!   `register_channel` lets the owning extension admit or refuse;
//!   `presence_stream`, `message_history`, `replay_events` and
//!   `subscribe_to_event` are told; bus events reach extension channels
//!   that asked for them, each gated by the owner's live grant ([`forward`]).
//! * Events ([`events`]): `realtime.connection.opened`,
//!   `realtime.subscription.created`, `realtime.message.sent`,
//!   `realtime.connection.closed` on the kernel's bus.
//! * The MagWS adapter ([`adapter`]): `open_channel` and `broadcast` for
//!   extensions' `realtime.*` host calls.
//! * One error type, [`WsError`], mapped to HTTP status and close codes in
//!   one place ([`error`]).
//! * MagUI's own live views ([`system`]): channels of the reserved project
//!   `_magflock` that only the server writes and only MagUI sessions read.

pub mod adapter;
pub mod auth;
pub mod channel;
mod connection;
pub mod error;
pub mod events;
pub mod forward;
pub mod hooks;
pub mod limit;
pub mod outbox;
pub mod protocol;
mod publish;
mod routes;
pub mod system;
pub mod throttle;

pub use adapter::{MagWsAdapter, ProjectBinding};
pub use error::WsError;
pub use protocol::{ChannelName, ClientOp};
pub use system::SYSTEM_PROJECT;

use magflock_kernel::Pattern;
use magflock_maggate::Gateway;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use crate::channel::{Channels, Retention};
use crate::events::EventSink;
use crate::hooks::Hooks;
use crate::outbox::Outbox;
use crate::throttle::AuthThrottle;

/// MagWS's settings.
#[derive(Clone, Debug)]
pub struct WsConfig {
    /// The largest client message, in bytes (default 64 KiB).
    pub max_message_bytes: usize,
    /// Messages per second per connection (default 100)…
    pub messages_per_second: u32,
    /// …with bursts of up to this many (default 100).
    pub burst: u32,
    /// Queued frames per connection before it is dropped as slow (default 1024).
    pub send_queue_frames: usize,
    /// Queued bytes of live messages per connection before it is dropped
    /// as slow (default 1 MiB).
    pub send_queue_bytes: usize,
    /// Channels one connection may be subscribed to (default 100).
    pub max_subscriptions: usize,
    /// Channels per project (default 10 000).
    pub max_channels_per_project: usize,
    /// Open connections (default 50 000); more are refused with 503.
    pub max_connections: usize,
    /// Messages in the `history` frame on join (default 50).
    pub history_on_join: usize,
    /// Messages a channel keeps for replay (default 1000)…
    pub retained_messages: usize,
    /// …for at most this long (default 10 minutes).
    pub retention: Duration,
    /// How long a connection has to send its `auth` message (default 5 s).
    pub auth_timeout: Duration,
    /// How often the server pings (default 30 s); a connection silent for
    /// three of these is closed.
    pub heartbeat: Duration,
    /// Events waiting for the bus before new ones are dropped (default 10 000).
    pub event_queue: usize,
    /// How often bus events are forwarded to channels (default 200 ms).
    pub forward_every: Duration,
    /// The public origin (`MAGFLOCK_PUBLIC_URL`) accepted besides the
    /// request's own host for session authentication.
    pub public_origin: Option<String>,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            max_message_bytes: 64 * 1024,
            messages_per_second: 100,
            burst: 100,
            send_queue_frames: 1024,
            send_queue_bytes: 1024 * 1024,
            max_subscriptions: 100,
            max_channels_per_project: 10_000,
            max_connections: 50_000,
            history_on_join: 50,
            retained_messages: 1000,
            retention: Duration::from_secs(600),
            auth_timeout: Duration::from_secs(5),
            heartbeat: Duration::from_secs(30),
            event_queue: 10_000,
            forward_every: Duration::from_millis(200),
            public_origin: None,
        }
    }
}

impl WsConfig {
    pub(crate) fn retention(&self) -> Retention {
        Retention {
            messages: self.retained_messages,
            age: self.retention,
            on_join: self.history_on_join,
        }
    }
}

/// An extension channel its owner opened.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpenChannel {
    /// Bus events forwarded to the channel (empty: none).
    pub events: Vec<Pattern>,
    /// The same patterns as written.
    pub event_patterns: Vec<String>,
}

/// Counters for operators and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub connections: usize,
    pub channels: usize,
    pub messages: u64,
    pub slow_consumers_dropped: u64,
    pub rate_limited: u64,
    pub events_dropped: u64,
    pub actions_dropped: u64,
}

#[derive(Default)]
struct Counters {
    messages: AtomicU64,
    slow_consumers: AtomicU64,
    rate_limited: AtomicU64,
}

struct Inner {
    config: WsConfig,
    channels: Channels,
    opened: RwLock<HashMap<ChannelName, OpenChannel>>,
    gateway: OnceLock<Gateway>,
    hooks: OnceLock<Hooks>,
    events: EventSink,
    runtime: tokio::runtime::Handle,
    next_conn: AtomicU64,
    connections: Mutex<HashMap<u64, Arc<Outbox>>>,
    counters: Counters,
    throttle: AuthThrottle,
    shutdown: tokio::sync::watch::Sender<bool>,
}

/// MagWS: cheap to clone (one shared state).
#[derive(Clone)]
pub struct MagWs {
    inner: Arc<Inner>,
}

impl MagWs {
    /// MagWS over the kernel's bus (for its events). Call on the runtime
    /// that will serve it; [`MagWs::connect`] it to the gateway once the
    /// kernel is up (before, extension channels and hooks are unavailable).
    pub fn new(bus: Arc<magflock_kernel::Bus>, config: WsConfig) -> MagWs {
        let runtime = tokio::runtime::Handle::current();
        let events = EventSink::spawn(bus, config.event_queue, &runtime);
        MagWs {
            inner: Arc::new(Inner {
                config,
                channels: Channels::default(),
                opened: RwLock::new(HashMap::new()),
                gateway: OnceLock::new(),
                hooks: OnceLock::new(),
                events,
                runtime,
                next_conn: AtomicU64::new(1),
                connections: Mutex::new(HashMap::new()),
                counters: Counters::default(),
                throttle: AuthThrottle::default(),
                shutdown: tokio::sync::watch::channel(false).0,
            }),
        }
    }

    /// Connects MagWS to the gateway (keys, sessions, the kernel's
    /// dispatcher, registry, sandbox and gate) and starts its tasks: bus
    /// forwarding and channel sweeping. Abort the tasks to stop MagWS: every
    /// connection is then closed with 1001.
    pub fn connect(&self, gateway: Gateway) -> Vec<tokio::task::JoinHandle<()>> {
        let hooks = Hooks::start(gateway.kernel().clone(), &self.inner.runtime);
        if self.inner.hooks.set(hooks).is_err() || self.inner.gateway.set(gateway).is_err() {
            tracing::warn!("MagWS was already connected");
            return Vec::new();
        }
        let guard = ShutdownOnDrop(self.clone());
        let maintenance = {
            let ws = self.clone();
            self.inner.runtime.spawn(async move {
                let _guard = guard;
                let mut every = tokio::time::interval(Duration::from_secs(5));
                loop {
                    every.tick().await;
                    ws.inner.channels.sweep(&ws.inner.config.retention());
                }
            })
        };
        let forwarder = self
            .inner
            .runtime
            .spawn(forward::run(self.clone(), self.inner.config.forward_every));
        vec![maintenance, forwarder]
    }

    pub fn config(&self) -> &WsConfig {
        &self.inner.config
    }

    /// The router to mount (`GET /ws`).
    pub fn router(&self) -> axum::Router {
        routes::router(self.clone())
    }

    pub fn stats(&self) -> Stats {
        let c = &self.inner.counters;
        Stats {
            connections: self.inner.connections.lock().expect("connections").len(),
            channels: self.inner.channels.len(),
            messages: c.messages.load(Ordering::Relaxed),
            slow_consumers_dropped: c.slow_consumers.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            events_dropped: self.inner.events.dropped(),
            actions_dropped: self.hooks().map_or(0, Hooks::dropped_actions),
        }
    }

    /// The extension channels open now.
    pub fn open_channels(&self) -> Vec<(ChannelName, OpenChannel)> {
        let opened = self.inner.opened.read().expect("opened");
        let mut list: Vec<_> = opened.iter().map(|(n, o)| (n.clone(), o.clone())).collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list
    }

    /// Closes every connection (1001) and stops accepting new ones.
    pub fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
        let connections = self.inner.connections.lock().expect("connections");
        for outbox in connections.values() {
            outbox.close(WsError::ShuttingDown);
        }
    }

    pub(crate) fn gateway(&self) -> Result<&Gateway, WsError> {
        self.inner
            .gateway
            .get()
            .ok_or_else(|| WsError::Unavailable("MagWS is starting; try again shortly".into()))
    }

    pub(crate) fn hooks(&self) -> Option<&Hooks> {
        self.inner.hooks.get()
    }

    pub(crate) fn events(&self) -> &EventSink {
        &self.inner.events
    }

    pub(crate) fn channels(&self) -> &Channels {
        &self.inner.channels
    }

    pub(crate) fn throttle(&self) -> &AuthThrottle {
        &self.inner.throttle
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    pub(crate) fn watch_shutdown(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// Registers a connection's outbox; `None` when at the connection limit.
    pub(crate) fn register(&self, outbox: Arc<Outbox>) -> Option<u64> {
        let mut connections = self.inner.connections.lock().expect("connections");
        if connections.len() >= self.inner.config.max_connections {
            return None;
        }
        let id = self.inner.next_conn.fetch_add(1, Ordering::Relaxed);
        connections.insert(id, outbox);
        Some(id)
    }

    pub(crate) fn unregister(&self, id: u64) {
        self.inner
            .connections
            .lock()
            .expect("connections")
            .remove(&id);
    }

    pub(crate) fn count_slow_consumer(&self) {
        self.inner
            .counters
            .slow_consumers
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_rate_limited(&self) {
        self.inner
            .counters
            .rate_limited
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_message(&self) {
        self.inner.counters.messages.fetch_add(1, Ordering::Relaxed);
    }

    /// Records an extension channel as open (replacing its event patterns).
    pub(crate) fn set_open(&self, name: ChannelName, open: OpenChannel) {
        self.inner
            .opened
            .write()
            .expect("opened")
            .insert(name, open);
    }

    pub(crate) fn opened(&self, name: &ChannelName) -> Option<OpenChannel> {
        self.inner.opened.read().expect("opened").get(name).cloned()
    }
}

/// Shuts MagWS down when the task holding it ends or is aborted.
struct ShutdownOnDrop(MagWs);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}
