//! Load benchmark: an extension endpoint through MagGate under `wrk`, beside
//! a plain axum handler as the floor, in one run on the same machine.
//!
//! The path measured: API-key authentication → rate limit → steady's
//! `wrap_request` filter (WebAssembly) → naming-policy's `check` endpoint
//! (WebAssembly `handle-request`) → steady's `transform_response` filter
//! (WebAssembly) → the events and usage analytics of every request. The
//! platform quota is raised so the load is not refused with 429s.
//!
//! Run: `cargo bench -p magflock-maggate --bench gateway_load` (needs `wrk`,
//! Debian's package, the built guests and the local catalog). Settings:
//! `LOAD_SECONDS` (default 15), `LOAD_CONNECTIONS` (default 8).

#[path = "../tests/support/mod.rs"]
mod support;

use axum::Json;
use axum::routing::get;
use magflock_maggate::{GateConfig, Gateway, Quota};
use serde_json::json;
use std::net::SocketAddr;
use std::process::Command;

struct Run {
    requests_per_s: f64,
    p50: String,
    p99: String,
    non_2xx: u64,
    errors: String,
}

/// Runs wrk against `url` and reads its summary.
fn wrk(url: &str, key: Option<&str>, seconds: u64, connections: u64) -> Run {
    let mut command = Command::new("wrk");
    command.args([
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
    ]);
    if let Some(key) = key {
        command.args(["-H", &format!("Authorization: Bearer {key}")]);
    }
    let output = command
        .arg(url)
        .output()
        .expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let line = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .map(|l| l.to_string())
            .unwrap_or_default()
    };
    let last = |l: String| l.split_whitespace().last().unwrap_or("?").to_string();
    Run {
        requests_per_s: last(line("Requests/sec:")).parse().unwrap_or(0.0),
        p50: last(line("50%")),
        p99: last(line("99%")),
        non_2xx: last(line("Non-2xx")).parse().unwrap_or(0),
        errors: line("Socket errors:"),
    }
}

async fn serve_floor() -> String {
    let app = axum::Router::new().route(
        "/check",
        get(|| async { Json(json!({"name": "sales_eu", "allowed": true})) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/check")
}

fn main() {
    let seconds: u64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let connections: u64 = std::env::var("LOAD_CONNECTIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let kernel = support::kernel().await;
        kernel.install_naming_policy().await;
        kernel.install_steady().await;
        let config = GateConfig {
            rate_limit: Quota::new(u32::MAX, 1),
            ..GateConfig::default()
        };
        let gateway = Gateway::new(kernel.parts.clone(), kernel.store.clone(), config);
        let key = gateway
            .keys()
            .issue_key("bench", "load", None)
            .await
            .unwrap()
            .plaintext;
        let base = support::serve(&gateway).await;
        let endpoint = format!("{base}/ext/magflock/naming-policy/check?name=sales_eu");
        let check = reqwest::Client::new()
            .get(&endpoint)
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(check.status(), 200);
        assert_eq!(
            check.headers()["x-steady"],
            "seen",
            "transform_response ran"
        );
        let floor = serve_floor().await;

        let (key_for_wrk, endpoint_for_wrk) = (key.clone(), endpoint.clone());
        let runs = tokio::task::spawn_blocking(move || {
            // A short warm-up fills the warm instance pools.
            wrk(&endpoint_for_wrk, Some(&key_for_wrk), 2, connections);
            let gate = wrk(&endpoint_for_wrk, Some(&key_for_wrk), seconds, connections);
            let floor = wrk(&floor, None, seconds, connections);
            (gate, floor)
        })
        .await
        .unwrap();
        let (gate, floor) = runs;
        println!(
            "\n{connections} connections, {seconds} s each, wrk -t2 on loopback, {} cores",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        println!("| path | requests/s | p50 | p99 | non-2xx |");
        println!("| --- | --- | --- | --- | --- |");
        for (name, run) in [
            (
                "MagGate: key + wrap_request + WebAssembly endpoint + transform_response",
                &gate,
            ),
            ("plain axum handler (floor)", &floor),
        ] {
            println!(
                "| {name} | {:.0} | {} | {} | {} |",
                run.requests_per_s, run.p50, run.p99, run.non_2xx
            );
            if !run.errors.is_empty() {
                println!("  {name}: {}", run.errors);
            }
        }
        drop(gateway);
        kernel.db.cleanup().await;
    });
}
