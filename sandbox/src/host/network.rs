//! `network.outbound`: HTTP(S) to the granted hosts only. The host of every
//! request is checked against the live grant; redirects are not followed (a
//! redirect could leave the allowlist); bodies and time are bounded.

use std::io::Read;
use std::sync::OnceLock;
use std::time::Duration;

use crate::bindings::magflock::extension::network_outbound::{self, OutboundRequest};
use crate::bindings::magflock::extension::types::{Header, HttpResponse};
use crate::state::HostState;

const MAX_RESPONSE: u64 = 4 << 20;
const MAX_TIMEOUT_MS: u32 = 10_000;

impl network_outbound::Host for HostState {
    fn fetch(
        &mut self,
        request: OutboundRequest,
    ) -> wasmtime::Result<Result<HttpResponse, String>> {
        let url = match url::Url::parse(&request.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            Ok(url) => {
                return Ok(Err(format!(
                    "scheme '{}' is not allowed (http or https only)",
                    url.scheme()
                )));
            }
            Err(e) => return Ok(Err(format!("'{}' is not a URL: {e}", request.url))),
        };
        let Some(host) = url.host_str().map(str::to_string) else {
            return Ok(Err(format!("'{}' has no host", request.url)));
        };
        self.allow_host("network-outbound.fetch", &host)?;
        Ok(send(url, request))
    }
}

/// One client for every extension (its connection pool and worker thread
/// are made once); redirects off, the timeout set per request.
fn client() -> Result<&'static reqwest::blocking::Client, String> {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
    Ok(CLIENT.get_or_init(|| client))
}

fn send(url: url::Url, request: OutboundRequest) -> Result<HttpResponse, String> {
    let timeout = Duration::from_millis(u64::from(request.timeout_ms.clamp(1, MAX_TIMEOUT_MS)));
    let client = client()?;
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|_| format!("'{}' is not an HTTP method", request.method))?;
    let mut builder = client
        .request(method, url)
        .timeout(timeout)
        .body(request.body);
    for header in request.headers {
        builder = builder.header(header.name, header.value);
    }
    let response = builder.send().map_err(|e| format!("request failed: {e}"))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| Header {
            name: name.to_string(),
            value: value.to_str().unwrap_or_default().to_string(),
        })
        .collect();
    let mut body = Vec::new();
    response
        .take(MAX_RESPONSE + 1)
        .read_to_end(&mut body)
        .map_err(|e| format!("reading the response failed: {e}"))?;
    if body.len() as u64 > MAX_RESPONSE {
        return Err(format!(
            "the response is over the {MAX_RESPONSE}-byte limit"
        ));
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}
