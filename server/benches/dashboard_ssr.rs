//! Load benchmark: server-side rendering of MagUI's Dashboard with ten
//! extensions installed and enabled, over HTTP, as a signed-in owner's
//! browser asks for it.
//!
//! The server is the real one (`magflock_server::start`, release build) on a
//! fresh SQLite control plane, with every guest in `extensions/` installed,
//! approved and enabled (ten, three of them contributing four Dashboard
//! widgets, two a navigation panel each). Each `GET /` checks the session, builds
//! the navigation (`register_panel` fires), the Dashboard's figures, alerts,
//! recent activity and every widget (`register_widget` fires; each widget is
//! a guest call rendered as a declarative view), and streams the whole HTML.
//! The login page, which reads no data, is measured beside it as the floor.
//!
//! Measured: one request at a time (latency percentiles over `SSR_REQUESTS`
//! requests after a warm-up), then `SSR_CONCURRENCY` clients at once for
//! `SSR_SECONDS` (throughput).
//!
//! Run: `scripts/build-extensions.sh && cargo bench -p magflock-server --bench dashboard_ssr`.

#[path = "../tests/support/mod.rs"]
mod support;

use magflock_store::Engine;
use magflock_types::Role;
use std::time::{Duration, Instant};
use support::{TestServer, install_guest};

const OWNER: &str = "owner@example.test";

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every guest under `extensions/` (each directory with a manifest).
fn guests() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../extensions");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .expect("extensions/ is readable")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("magflock.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// One page load: status and body length, or a panic naming what went wrong.
async fn load(server: &TestServer, client: &reqwest::Client, path: &str) -> usize {
    let res = server.get(client, path).await;
    let status = res.status();
    let body = res.text().await.expect("the page body arrives");
    assert_eq!(status, 200, "GET {path}: {body}");
    body.len()
}

struct Latencies {
    samples: Vec<Duration>,
    bytes: usize,
}

impl Latencies {
    fn percentile(&self, p: f64) -> Duration {
        let rank = ((self.samples.len() as f64 - 1.0) * p).round() as usize;
        self.samples[rank]
    }

    fn row(&self, name: &str) -> String {
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
        format!(
            "| {name} | {} | {} | {} | {} | {:.1} KiB |",
            ms(self.percentile(0.5)),
            ms(self.percentile(0.95)),
            ms(self.percentile(0.99)),
            ms(*self.samples.last().unwrap()),
            self.bytes as f64 / 1024.0
        )
    }
}

/// `requests` loads of `path` one after another, after `warm_up` untimed ones.
async fn sequential(
    server: &TestServer,
    client: &reqwest::Client,
    path: &str,
    warm_up: u64,
    requests: u64,
) -> Latencies {
    for _ in 0..warm_up {
        load(server, client, path).await;
    }
    let mut samples = Vec::with_capacity(requests as usize);
    let mut bytes = 0;
    for _ in 0..requests {
        let started = Instant::now();
        bytes = load(server, client, path).await;
        samples.push(started.elapsed());
    }
    samples.sort();
    Latencies { samples, bytes }
}

/// Pages per second with `clients` signed-in clients asking at once.
async fn concurrent(server: &TestServer, path: &str, clients: u64, seconds: u64) -> f64 {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = server.signed_in(OWNER).await;
        let (base, path) = (server.base.clone(), path.to_string());
        tasks.push(tokio::spawn(async move {
            let mut pages = 0u64;
            while Instant::now() < deadline {
                let res = client
                    .get(format!("{base}{path}"))
                    .header("accept", "text/html")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                res.bytes().await.unwrap();
                pages += 1;
            }
            pages
        }));
    }
    let mut pages = 0;
    for task in tasks {
        pages += task.await.unwrap();
    }
    pages as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let requests = setting("SSR_REQUESTS", 1000);
    let clients = setting("SSR_CONCURRENCY", 4);
    let seconds = setting("SSR_SECONDS", 10);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = TestServer::start(Engine::Sqlite).await;
        server.add_user(OWNER, Role::Owner).await;
        let guests = guests();
        for guest in &guests {
            install_guest(server.running(), guest, true).await;
        }
        let client = server.signed_in(OWNER).await;

        // The page really holds what is measured: every widget, the panel.
        let page = server.get(&client, "/").await.text().await.unwrap();
        for expected in [
            "Pings answered",
            "Recent admin actions",
            "Slowest queries",
            "A malformed widget",
        ] {
            assert!(page.contains(expected), "the Dashboard shows {expected:?}");
        }
        let widgets = page.matches("data-testid=\"widget\"").count();

        let dashboard = sequential(&server, &client, "/", 50, requests).await;
        let anonymous = server.client();
        let floor = sequential(&server, &anonymous, "/login", 50, requests).await;
        let per_second = concurrent(&server, "/", clients, seconds).await;

        println!(
            "\n{} extensions installed and enabled ({}); {widgets} widgets on the Dashboard; {} cores",
            guests.len(),
            guests.join(", "),
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        println!("{requests} requests one at a time, after 50 untimed:");
        println!("| page | p50 | p95 | p99 | max | HTML |");
        println!("| --- | --- | --- | --- | --- | --- |");
        println!("{}", dashboard.row("Dashboard `/` (signed in)"));
        println!("{}", floor.row("Login `/login`, signed out (floor: no data)"));
        println!("{clients} clients at once for {seconds} s: {per_second:.0} Dashboards/s");
        server.stop().await;
    });
}
