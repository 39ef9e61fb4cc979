//! Layers every request passes before a handler: the client address, the
//! cross-origin guard and security headers.
//!
//! Guarantees:
//! * A state-changing request (POST, PUT, PATCH, DELETE) that a browser marks as
//!   coming from another site is refused with 403 before any handler runs: its
//!   `Origin` must be this server's own origin (or `MAGFLOCK_PUBLIC_URL`'s), and
//!   without `Origin` its `Sec-Fetch-Site` must not be `cross-site`/`same-site`.
//!   Non-browser clients (no `Origin`, no `Sec-Fetch-Site`) carry no ambient
//!   cookies from a victim and pass; so does a request with an `Authorization`
//!   header (an API key a page of another site must know to send; MagGate then
//!   ignores any session cookie).
//! * The client address is the socket peer, or the first `X-Forwarded-For` hop
//!   only when `MAGFLOCK_TRUST_PROXY` is on.
//! * Pages may not be framed by other sites, and MIME types are not sniffed.
//! * The site's files (the JS, WASM and CSS under `/pkg`, the public files) are
//!   sent with `Cache-Control: no-cache` ([`revalidate_site_files`], on the
//!   handler that serves them): a browser revalidates them (a 304 when
//!   unchanged) before each use, so after an upgrade it never mixes a cached
//!   `magflock.wasm` with the new build's JS or the chunks of the pages loaded
//!   on demand (their names carry no content hash).

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use magflock_app::server::ClientIp;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct LayerConfig {
    pub trust_proxy: bool,
    /// Extra origin accepted besides the request's own (`MAGFLOCK_PUBLIC_URL`).
    pub public_origin: Option<String>,
}

pub async fn client_ip(
    State(cfg): State<Arc<LayerConfig>>,
    mut req: Request,
    next: Next,
) -> Response {
    let forwarded = cfg
        .trust_proxy
        .then(|| {
            req.headers()
                .get("x-forwarded-for")?
                .to_str()
                .ok()?
                .split(',')
                .next()
                .map(|s| s.trim().to_string())
        })
        .flatten()
        .filter(|s| !s.is_empty());
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    req.extensions_mut().insert(ClientIp(forwarded.or(peer)));
    next.run(req).await
}

/// Is this request a cross-site browser request that must not change anything?
pub fn is_cross_site(
    method: &Method,
    headers: &http::HeaderMap,
    public_origin: Option<&str>,
) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || headers.contains_key(header::AUTHORIZATION)
    {
        return false;
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let own = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|host| {
                origin
                    .strip_prefix("http://")
                    .or_else(|| origin.strip_prefix("https://"))
                    == Some(host)
            });
        return !(own || public_origin == Some(origin));
    }
    matches!(
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
        Some("cross-site") | Some("same-site")
    )
}

pub async fn cross_origin_guard(
    State(cfg): State<Arc<LayerConfig>>,
    req: Request,
    next: Next,
) -> Response {
    if is_cross_site(req.method(), req.headers(), cfg.public_origin.as_deref()) {
        tracing::warn!(path = %req.uri().path(), "refused a cross-site state-changing request");
        return (
            StatusCode::FORBIDDEN,
            "Cross-site request refused: MagFlock only accepts changes from its own pages.",
        )
            .into_response();
    }
    next.run(req).await
}

/// For the site's files, whose names carry no content hash.
pub async fn revalidate_site_files(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

pub async fn security_headers(req: Request<Body>, next: Next) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn cross_site_rules() {
        let post = Method::POST;
        assert!(!is_cross_site(
            &post,
            &headers(&[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:3000")
            ]),
            None
        ));
        assert!(is_cross_site(
            &post,
            &headers(&[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://evil.example")
            ]),
            None
        ));
        assert!(!is_cross_site(
            &post,
            &headers(&[("host", "10.0.0.2"), ("origin", "https://admin.example")]),
            Some("https://admin.example")
        ));
        assert!(is_cross_site(
            &post,
            &headers(&[("host", "127.0.0.1:3000"), ("sec-fetch-site", "cross-site")]),
            None
        ));
        assert!(!is_cross_site(
            &post,
            &headers(&[
                ("host", "127.0.0.1:3000"),
                ("sec-fetch-site", "same-origin")
            ]),
            None
        ));
        assert!(
            !is_cross_site(&post, &headers(&[("host", "127.0.0.1:3000")]), None),
            "non-browser clients pass"
        );
        assert!(
            !is_cross_site(
                &post,
                &headers(&[
                    ("host", "127.0.0.1:3000"),
                    ("origin", "http://app.example"),
                    ("authorization", "Bearer mf_x")
                ]),
                None
            ),
            "a request carrying its own credentials is no forgery"
        );
        assert!(!is_cross_site(
            &Method::GET,
            &headers(&[("origin", "http://evil.example")]),
            None
        ));
    }
}
