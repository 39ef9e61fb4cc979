//! One WebSocket connection: authentication by first message if needed,
//! then one task that reads the client's operations and writes its outbox.
//!
//! Guarantees:
//! * Nothing but `auth` (and pings) is read before the connection is
//!   authenticated, and only for [`crate::WsConfig::auth_timeout`].
//! * Operations are handled one at a time, in order; each answer or error
//!   frame goes through the same outbox as channel messages, so a client
//!   sees `subscribed` before that channel's messages.
//! * Every message is size-checked (over the limit: close 1009) and counted
//!   against the connection's rate limit (over it: `rate_limited`, the
//!   message is not acted on) before it is parsed.
//! * Frames are written in batches and flushed; a write stuck on a client
//!   that does not read is abandoned the moment the outbox is closed (slow
//!   consumer, shutdown), the queue is freed and the socket is closed with
//!   the reason.
//! * At the end, whatever the cause: the connection leaves its channels
//!   (presence `leave`), is unregistered, and `realtime.connection.closed`
//!   is emitted with its close code and reason.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use magflock_kernel::event::Context;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::{Identity, key_from_message};
use crate::error::close;
use crate::events::{CONNECTION_CLOSED, CONNECTION_OPENED};
use crate::limit::RateLimit;
use crate::outbox::{Inbox, Out, Outbox};
use crate::protocol::{ChannelName, ClientOp, frame};
use crate::publish::{Joiner, Outgoing};
use crate::{MagWs, WsError};

/// How a connection starts.
pub(crate) enum Start {
    Authenticated(Identity),
    /// The first message must be `{"op":"auth","key":…}`.
    NeedsAuth {
        peer: Option<std::net::IpAddr>,
    },
}

/// Frames written per flush at most.
const WRITE_BATCH: usize = 64;
/// How long a closing handshake may take.
const CLOSE_WITHIN: Duration = Duration::from_secs(5);

/// An operation's failure, with the channel it was about.
struct Failure {
    error: WsError,
    channel: Option<String>,
}

impl From<WsError> for Failure {
    fn from(error: WsError) -> Failure {
        Failure {
            error,
            channel: None,
        }
    }
}

fn on(channel: &str) -> impl Fn(WsError) -> Failure + '_ {
    move |error| Failure {
        error,
        channel: Some(channel.to_string()),
    }
}

struct Conn {
    ws: MagWs,
    id: u64,
    client: Arc<str>,
    identity: Identity,
    outbox: Arc<Outbox>,
    subscriptions: HashSet<(String, ChannelName)>,
    known_projects: HashSet<String>,
    limit: RateLimit,
    received: u64,
}

pub(crate) async fn run(ws: MagWs, mut socket: WebSocket, start: Start) {
    let identity = match start {
        Start::Authenticated(identity) => identity,
        Start::NeedsAuth { peer } => match first_message(&ws, &mut socket, peer).await {
            Ok(identity) => identity,
            Err(error) => return refuse(socket, &error).await,
        },
    };
    let config = ws.config().clone();
    let (outbox, mut inbox) = Outbox::new(config.send_queue_frames, config.send_queue_bytes);
    let Some(id) = ws.register(outbox.clone()) else {
        let error = WsError::Unavailable("too many connections; try again later".into());
        return refuse(socket, &error).await;
    };
    let client: Arc<str> = Arc::from(format!(
        "c-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    ));
    let opened = Instant::now();
    ws.events().emit(
        CONNECTION_OPENED,
        json!({"client": client.as_ref(), "caller": identity.describe()}),
        identity.context(None),
        None,
    );
    let limits = json!({
        "max_message_bytes": config.max_message_bytes,
        "messages_per_second": config.messages_per_second,
        "burst": config.burst,
        "max_subscriptions": config.max_subscriptions,
        "history_on_join": config.history_on_join,
        "retained_messages": config.retained_messages,
        "retention_s": config.retention.as_secs(),
    });
    outbox.offer_json(&frame::ready(
        &client,
        identity.kind(),
        identity.own_project(),
        limits,
    ));
    let mut conn = Conn {
        ws: ws.clone(),
        id,
        client,
        identity,
        outbox: outbox.clone(),
        subscriptions: HashSet::new(),
        known_projects: HashSet::new(),
        limit: RateLimit::new(config.messages_per_second, config.burst),
        received: 0,
    };
    let mut sent: u64 = 0;
    let mut shutdown = ws.watch_shutdown();
    let beat = config.heartbeat.max(Duration::from_millis(100));
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + beat, beat);
    let mut last_heard = Instant::now();
    let mut said_goodbye = false;

    // `None`: the client went away or closed normally.
    let end: Option<WsError> = loop {
        if ws.is_shutting_down() {
            break Some(WsError::ShuttingDown);
        }
        tokio::select! {
            biased;
            () = outbox.closed() => break outbox.reason(),
            _ = shutdown.changed() => break Some(WsError::ShuttingDown),
            item = inbox.recv(&outbox) => {
                let Some(item) = item else { break None };
                match write(&mut socket, &mut inbox, &outbox, item).await {
                    Ok(n) => sent += n as u64,
                    Err(Some(reason)) => break Some(reason),
                    Err(None) => break None,
                }
            }
            incoming = socket.recv() => {
                last_heard = Instant::now();
                match incoming {
                    Some(Err(error)) if is_capacity(&error) => {
                        break Some(WsError::TooLarge { limit: ws.config().max_message_bytes });
                    }
                    Some(Ok(Message::Close(_))) => {
                        said_goodbye = true;
                        break None;
                    }
                    None | Some(Err(_)) => break None,
                    Some(Ok(Message::Text(text))) => {
                        if let Err(failure) = conn.handle(&text).await {
                            if failure.error.is_fatal() {
                                break Some(failure.error);
                            }
                            let frame = failure.error.frame(failure.channel.as_deref());
                            conn.outbox.offer_json(&frame);
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let error = WsError::BadRequest("send JSON text frames, not binary".into());
                        conn.outbox.offer_json(&error.frame(None));
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > beat * 3 {
                    break Some(WsError::Unavailable("no answer to pings; closing".into()));
                }
                if outbox.queued_bytes() == 0 {
                    let ping = socket.send(Message::Ping(Default::default()));
                    if tokio::time::timeout(Duration::from_secs(1), ping).await.is_err() {
                        tracing::debug!(client = conn.client.as_ref(), "ping not written in 1 s");
                    }
                }
            }
        }
    };

    inbox.discard();
    for (project, channel) in std::mem::take(&mut conn.subscriptions) {
        ws.leave(conn.id, &conn.client, &project, &channel);
    }
    ws.unregister(conn.id);
    if end == Some(WsError::SlowConsumer) {
        ws.count_slow_consumer();
    }
    let (code, reason) = match &end {
        Some(error) => (error.close_code(), error.close_reason()),
        None if said_goodbye => (close::NORMAL, String::new()),
        None => (close::ABNORMAL, "the connection dropped".to_string()),
    };
    ws.events().emit(
        CONNECTION_CLOSED,
        json!({
            "client": conn.client.as_ref(), "code": code, "reason": reason,
            "error": end.as_ref().map(WsError::code),
            "duration_ms": opened.elapsed().as_millis() as u64,
            "received": conn.received, "sent": sent,
        }),
        conn.identity.context(None),
        None,
    );
    match end {
        Some(error) => refuse(socket, &error).await,
        None => {
            let _ = tokio::time::timeout(Duration::from_secs(1), socket.close()).await;
        }
    }
}

/// Whether a read failed on tungstenite's own size cap.
fn is_capacity(error: &axum::Error) -> bool {
    use std::error::Error as _;
    error
        .source()
        .and_then(|e| e.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}

/// Reads the `auth` message.
async fn first_message(
    ws: &MagWs,
    socket: &mut WebSocket,
    peer: Option<std::net::IpAddr>,
) -> Result<Identity, WsError> {
    let timeout_s = ws.config().auth_timeout.as_secs().max(1);
    let deadline = tokio::time::Instant::now() + ws.config().auth_timeout;
    loop {
        let received = tokio::time::timeout_at(deadline, socket.recv())
            .await
            .map_err(|_| WsError::AuthRequired { timeout_s })?;
        match received {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Text(text))) if text.len() <= 4096 => {
                return match ClientOp::parse(&text) {
                    Ok(ClientOp::Auth { key }) => {
                        let gateway = ws.gateway()?;
                        ws.throttle()
                            .check(peer)
                            .map_err(|retry_after_s| WsError::AuthThrottled { retry_after_s })?;
                        let identity = key_from_message(gateway.keys(), &key).await;
                        if identity.is_err() {
                            ws.throttle().failed(peer);
                        }
                        identity
                    }
                    _ => Err(WsError::AuthRequired { timeout_s }),
                };
            }
            _ => return Err(WsError::AuthRequired { timeout_s }),
        }
    }
}

/// Sends the close frame of `error` (best effort, bounded in time).
async fn refuse(mut socket: WebSocket, error: &WsError) {
    let frame = CloseFrame {
        code: error.close_code(),
        reason: Utf8Bytes::from(error.close_reason()),
    };
    let _ = tokio::time::timeout(CLOSE_WITHIN, async {
        let _ = socket.send(Message::Close(Some(frame))).await;
        // Wait for the client's close reply (or its going away).
        while let Some(Ok(_)) = socket.recv().await {}
    })
    .await;
}

/// Writes `first` and whatever else is queued (up to a batch), then
/// flushes. `Err(Some(reason))`: the outbox was closed meanwhile;
/// `Err(None)`: the socket failed.
async fn write(
    socket: &mut WebSocket,
    inbox: &mut Inbox,
    outbox: &Outbox,
    first: Out,
) -> Result<usize, Option<WsError>> {
    let send = async {
        let mut frames = 0;
        let mut next = Some(first);
        while let Some(out) = next.take() {
            match out {
                Out::Frame(text) => socket.feed(Message::Text(text)).await?,
                Out::Batch(texts) => {
                    for text in texts {
                        socket.feed(Message::Text(text)).await?;
                    }
                }
            }
            frames += 1;
            if frames < WRITE_BATCH {
                next = inbox.try_recv(outbox);
            }
        }
        socket.flush().await?;
        Ok::<usize, axum::Error>(frames)
    };
    tokio::select! {
        biased;
        () = outbox.closed() => Err(outbox.reason()),
        written = send => written.map_err(|_| None),
    }
}

impl Conn {
    fn context(&self, project: &str) -> Context {
        self.identity.context(Some(project))
    }

    /// The project of an operation; an admin's named project must exist.
    async fn project(&mut self, named: Option<&str>) -> Result<String, WsError> {
        let project = self.identity.project(named)?;
        if crate::system::is_system(&project) {
            crate::system::may_subscribe(&self.identity)?;
            return Ok(project);
        }
        if self.identity.own_project().is_none() && !self.known_projects.contains(&project) {
            let gateway = self.ws.gateway()?;
            if let Some(magds) = gateway.magds() {
                magds
                    .project(&project)
                    .await
                    .map_err(|e| WsError::NotFound(e.to_string()))?;
            }
            self.known_projects.insert(project.clone());
        }
        Ok(project)
    }

    async fn handle(&mut self, text: &str) -> Result<(), Failure> {
        let limit = self.ws.config().max_message_bytes;
        if text.len() > limit {
            return Err(WsError::TooLarge { limit }.into());
        }
        if !self.limit.take() {
            self.ws.count_rate_limited();
            return Err(WsError::RateLimited {
                per_second: self.ws.config().messages_per_second,
            }
            .into());
        }
        self.received += 1;
        match ClientOp::parse(text)? {
            ClientOp::Auth { .. } => {
                Err(WsError::BadRequest("this connection is already authenticated".into()).into())
            }
            ClientOp::Ping { id } => {
                self.outbox.offer_json(&frame::pong(id.as_ref()));
                Ok(())
            }
            ClientOp::Subscribe {
                channel,
                since,
                epoch,
                project,
            } => {
                let fail = on(&channel);
                let name = ChannelName::parse(&channel).map_err(&fail)?;
                let project = self.project(project.as_deref()).await.map_err(&fail)?;
                let key = (project.clone(), name.clone());
                if self.subscriptions.contains(&key) {
                    return Err(fail(WsError::BadRequest(format!(
                        "already subscribed to '{channel}'"
                    ))));
                }
                let max = self.ws.config().max_subscriptions;
                if self.subscriptions.len() >= max {
                    return Err(fail(WsError::TooManySubscriptions { limit: max }));
                }
                let joiner = Joiner {
                    conn: self.id,
                    client: &self.client,
                    outbox: &self.outbox,
                    context: self.context(&project),
                };
                self.ws
                    .join(joiner, &project, &name, since, epoch)
                    .await
                    .map_err(&fail)?;
                self.subscriptions.insert(key);
                Ok(())
            }
            ClientOp::Unsubscribe { channel, project } => {
                let fail = on(&channel);
                let name = ChannelName::parse(&channel).map_err(&fail)?;
                let project = self.identity.project(project.as_deref()).map_err(&fail)?;
                if !self.subscriptions.remove(&(project.clone(), name.clone())) {
                    return Err(fail(WsError::NotFound(format!(
                        "not subscribed to '{channel}'"
                    ))));
                }
                self.ws.leave(self.id, &self.client, &project, &name);
                self.outbox
                    .offer_json(&frame::unsubscribed(&project, &channel));
                Ok(())
            }
            ClientOp::Publish {
                channel,
                data,
                project,
            } => {
                let fail = on(&channel);
                self.identity.may_publish().map_err(&fail)?;
                let name = ChannelName::parse(&channel).map_err(&fail)?;
                let project = self.project(project.as_deref()).await.map_err(&fail)?;
                if crate::system::is_system(&project) {
                    return Err(fail(crate::system::refuse_publish()));
                }
                if name.owner().is_some()
                    && !self
                        .subscriptions
                        .contains(&(project.clone(), name.clone()))
                {
                    return Err(fail(WsError::Forbidden(
                        "to publish on an extension channel, subscribe first (its extension admits you)"
                            .into(),
                    )));
                }
                let message = Outgoing {
                    project: &project,
                    channel: &name,
                    data,
                    from: &self.client,
                    extension: None,
                    context: self.context(&project),
                };
                self.ws.publish(message).await.map_err(&fail)?;
                Ok(())
            }
        }
    }
}
