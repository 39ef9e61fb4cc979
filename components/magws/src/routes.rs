//! The HTTP side: `GET /ws` upgrades to a WebSocket after the checks that
//! can be answered with a status.
//!
//! Guarantees, in order: a request that is not a WebSocket upgrade gets
//! axum's rejection (400/426) and touches nothing else; while shutting
//! down, 503; a key in the URL, 400; an address with too many failed
//! authentications, 429 ([`crate::throttle`]); an `Authorization` header is checked
//! before the upgrade (401 on any problem); without one, a MagUI session
//! counts only from the server's own origin (403 otherwise); without
//! either, the socket opens and must authenticate with its first message.
//! The socket's buffers are sized for many idle connections (4 KiB read
//! buffer, writes coalesced up to 4 KiB) and its frames are capped above the message limit (oversized
//! messages are then closed with 1009 by [`crate::connection`]).

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;

use crate::auth::{Identity, key_from_header, reject_keys_in_url, same_origin};
use crate::connection::{self, Start};
use crate::{MagWs, WsError};

pub fn router(ws: MagWs) -> Router {
    Router::new().route("/ws", get(upgrade)).with_state(ws)
}

async fn upgrade(State(ws): State<MagWs>, request: Request) -> Response {
    match prepare(ws, request).await {
        Ok(response) | Err(response) => response,
    }
}

async fn prepare(ws: MagWs, request: Request) -> Result<Response, Response> {
    let (mut parts, _body) = request.into_parts();
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .map_err(IntoResponse::into_response)?;
    let refuse = |e: WsError| e.into_response();
    if ws.is_shutting_down() {
        return Err(refuse(WsError::ShuttingDown));
    }
    reject_keys_in_url(parts.uri.query()).map_err(refuse)?;
    let gateway = ws.gateway().map_err(refuse)?;
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    ws.throttle()
        .check(peer)
        .map_err(|retry_after_s| refuse(WsError::AuthThrottled { retry_after_s }))?;
    let start = match key_from_header(gateway.keys(), &parts.headers).await {
        Some(Ok(identity)) => Start::Authenticated(identity),
        Some(Err(error)) => {
            ws.throttle().failed(peer);
            return Err(refuse(error));
        }
        None => match gateway
            .admin_session(&parts.extensions)
            .await
            .map_err(|e| refuse(e.into()))?
        {
            Some(admin) => {
                if !same_origin(&parts.headers, ws.config().public_origin.as_deref()) {
                    tracing::warn!("refused a cross-site WebSocket riding a MagUI session");
                    return Err(refuse(WsError::CrossSite));
                }
                Start::Authenticated(Identity::Admin(admin))
            }
            None => Start::NeedsAuth { peer },
        },
    };
    let limit = ws.config().max_message_bytes;
    // tungstenite's own cap sits above ours so an oversized message is
    // read whole and refused with a reason (1009), not a bare error.
    let cap = limit.saturating_mul(2).max(limit + 1024);
    Ok(upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(cap)
        .max_frame_size(cap)
        .on_upgrade(move |socket| connection::run(ws, socket, start)))
}
