//! Fan-out benchmark: 1000 WebSocket clients subscribed to one channel,
//! one publisher, against MagWS over loopback with a real kernel (SQLite
//! store, bus with MagWS's events, no extensions).
//!
//! Two figures:
//! * **Memory per idle connection**: the server's RSS (`/proc/self/status`)
//!   before and after the clients connect and subscribe, divided by their
//!   number. The clients run in a second process (this binary again, with
//!   `MAGWS_BENCH_ROLE=clients`), so their own memory is not counted.
//! * **Delivery latency**: the publisher (in the clients' process) stamps
//!   each message with the wall-clock time it sends it; every client notes
//!   when it receives it. p50 / p99 / max over all deliveries.
//!
//! Run: `cargo bench -p magflock-magws --bench fanout`. Settings:
//! `FANOUT_CLIENTS` (default 1000), `FANOUT_MESSAGES` (default 500),
//! `FANOUT_INTERVAL_MS` (default 20). Needs `ulimit -n` above 2 × clients.

#[path = "../tests/support/mod.rs"]
mod support;

use futures_util::{SinkExt, StreamExt};
use magflock_magws::WsConfig;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const CHANNEL: &str = "bench";

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or_default()
}

fn main() {
    if std::env::var("MAGWS_BENCH_ROLE").as_deref() == Ok("clients") {
        return clients();
    }
    server();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn server() {
    let clients = setting("FANOUT_CLIENTS", 1000);
    runtime().block_on(async move {
        let served = support::serve(WsConfig::default()).await;
        let key = served.key("bench").await;
        // Warm the server's own paths once (one client) before measuring.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = rss_kib();

        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("MAGWS_BENCH_ROLE", "clients")
            .env("MAGWS_BENCH_URL", &served.url)
            .env("MAGWS_BENCH_KEY", &key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the client process starts");
        let mut stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let connected = lines.recv().await.expect("the clients connect");
        assert!(connected.starts_with("connected"), "{connected}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let stats = served.ws.stats();
        let after = rss_kib();
        let per_connection = (after.saturating_sub(before) as f64) / clients as f64;

        writeln!(stdin, "go").unwrap();
        stdin.flush().unwrap();
        let report = lines.recv().await.expect("the clients report");
        let _ = child.wait();
        let report: Value = serde_json::from_str(&report).unwrap();
        println!(
            "\n{clients} clients on one channel, {} messages every {} ms, {} cores",
            report["messages"],
            setting("FANOUT_INTERVAL_MS", 20),
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        println!("| what | figure |");
        println!("| --- | --- |");
        println!(
            "| server RSS before / after {clients} idle subscribed clients | {:.1} MiB / {:.1} MiB |",
            before as f64 / 1024.0,
            after as f64 / 1024.0
        );
        println!("| memory per idle connection | {per_connection:.1} KiB |");
        println!(
            "| delivery latency p50 / p99 / max ({} deliveries, {} missing) | {:.2} / {:.2} / {:.2} ms |",
            report["deliveries"],
            report["missing"],
            report["p50_ms"].as_f64().unwrap_or(f64::NAN),
            report["p99_ms"].as_f64().unwrap_or(f64::NAN),
            report["max_ms"].as_f64().unwrap_or(f64::NAN),
        );
        println!(
            "| connections at the server / slow consumers dropped | {} / {} |",
            stats.connections, stats.slow_consumers_dropped
        );
    });
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, key: &str) -> Socket {
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    let config = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0);
    tokio_tungstenite::connect_async_with_config(request, Some(config), false)
        .await
        .expect("connect")
        .0
}

async fn next_json(socket: &mut Socket) -> Option<Value> {
    loop {
        match socket.next().await? {
            Ok(Message::Text(text)) => return serde_json::from_str(&text).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

fn clients() {
    let url = std::env::var("MAGWS_BENCH_URL").unwrap();
    let key = std::env::var("MAGWS_BENCH_KEY").unwrap();
    let clients = setting("FANOUT_CLIENTS", 1000) as usize;
    let messages = setting("FANOUT_MESSAGES", 500) as usize;
    let interval = Duration::from_millis(setting("FANOUT_INTERVAL_MS", 20));
    runtime().block_on(async move {
        let latencies: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(Vec::new()));
        let (subscribed_tx, mut subscribed) = tokio::sync::mpsc::channel::<()>(clients);
        let mut readers = Vec::new();
        for _ in 0..clients {
            let mut socket = connect(&url, &key).await;
            let subscribe = json!({"op": "subscribe", "channel": CHANNEL});
            socket
                .send(Message::text(subscribe.to_string()))
                .await
                .unwrap();
            let latencies = latencies.clone();
            let subscribed_tx = subscribed_tx.clone();
            readers.push(tokio::spawn(async move {
                let mut mine = Vec::with_capacity(messages);
                while let Some(frame) = next_json(&mut socket).await {
                    match frame["type"].as_str() {
                        Some("subscribed") => {
                            let _ = subscribed_tx.send(()).await;
                        }
                        Some("message") => {
                            let sent = frame["data"]["t"].as_u64().unwrap_or(0);
                            mine.push(now_micros().saturating_sub(sent));
                            if frame["data"]["last"] == true {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                latencies.lock().unwrap().extend(mine);
            }));
        }
        for _ in 0..clients {
            subscribed.recv().await.unwrap();
        }
        println!("connected {clients}");
        let mut line = String::new();
        tokio::task::spawn_blocking(move || {
            std::io::stdin().read_line(&mut line).unwrap();
        })
        .await
        .unwrap();

        let mut publisher = connect(&url, &key).await;
        let mut tick = tokio::time::interval(interval);
        for i in 0..messages {
            tick.tick().await;
            let data = json!({"i": i, "t": now_micros(), "last": i + 1 == messages});
            let frame = json!({"op": "publish", "channel": CHANNEL, "data": data});
            publisher
                .send(Message::text(frame.to_string()))
                .await
                .unwrap();
        }
        for reader in readers {
            let _ = tokio::time::timeout(Duration::from_secs(30), reader).await;
        }
        let mut all = latencies.lock().unwrap().clone();
        all.sort_unstable();
        let at = |q: f64| -> f64 {
            if all.is_empty() {
                return f64::NAN;
            }
            let index = ((all.len() as f64 - 1.0) * q).round() as usize;
            all[index] as f64 / 1000.0
        };
        let report = json!({
            "messages": messages,
            "deliveries": all.len(),
            "missing": clients * messages - all.len(),
            "p50_ms": at(0.50),
            "p99_ms": at(0.99),
            "max_ms": at(1.0),
        });
        println!("{report}");
    });
}
