//! The first-party Community Edition extensions, as an admin gets them: from
//! the local catalog the build signed (`scripts/build-catalog.sh`), installed
//! and enabled through the lifecycle, then each doing its job through the
//! real kernel: naming-policy's filter on `before_db_create` and its `check`
//! endpoint, query-insights' event subscription and widget, webhook-relay's
//! outbound deliveries and panel.

mod support;

use magflock_kernel::audit::Actor;
use magflock_kernel::dispatch::Dispatched;
use magflock_kernel::event::{Context, Source};
use magflock_kernel::{Capability, Event};
use magflock_lifecycle::{Decision, ExtensionState};
use magflock_sandbox::{CallMode, HttpRequest};
use magflock_server::kernel_host::KernelHost;
use magflock_server::serve::open_store;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn admin() -> Actor {
    Actor::user("u-1", "owner@example.test")
}

async fn install(kernel: &KernelHost, id: &str) {
    let request = kernel
        .lifecycle
        .request_install_from_catalog(id, None, true, &admin())
        .await
        .unwrap_or_else(|e| panic!("{id}: {e}"));
    kernel
        .lifecycle
        .decide(
            &request.id,
            Decision::Approve {
                grants: None,
                comment: None,
            },
            &admin(),
        )
        .await
        .unwrap_or_else(|e| panic!("{id}: {e}"));
    let view = kernel.lifecycle.extension(id).await.unwrap();
    assert_eq!(view.state, ExtensionState::Enabled, "{id}");
    assert_eq!(view.signature_level, "first_party", "{id}");
}

async fn call<T: Send + 'static>(
    kernel: &KernelHost,
    id: &str,
    work: impl FnOnce(&magflock_sandbox::LoadedExtension) -> T + Send + 'static,
) -> T {
    let loaded = kernel.sandbox.get(id).unwrap();
    tokio::task::spawn_blocking(move || work(&loaded))
        .await
        .unwrap()
}

/// Dispatches a hook on a blocking thread (guest calls block), as adapters do.
async fn dispatch(kernel: &KernelHost, hook: &'static str, payload: &'static str) -> Dispatched {
    let dispatcher = kernel.dispatcher.clone();
    tokio::task::spawn_blocking(move || dispatcher.dispatch(hook, payload))
        .await
        .unwrap()
        .unwrap()
}

async fn wait_until(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A tiny HTTP receiver: records each request's first line and body, answers 200.
async fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    let text = String::from_utf8_lossy(&data).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            let first = head.lines().next().unwrap_or("").to_string();
                            log.lock().unwrap().push(format!("{first}\n{body}"));
                            break;
                        }
                    }
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => data.extend_from_slice(&buffer[..n]),
                    }
                }
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    (url, seen)
}

/// A MagDS event; subscribers see it only if they hold `required`.
fn database_event(event_type: &str, data: serde_json::Value, required: Vec<Capability>) -> Event {
    Event::new(
        event_type,
        Source {
            component: "magds".into(),
            extension: None,
        },
        data,
        Context::default(),
        required,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_community_extensions_install_from_the_local_catalog_and_work() {
    let catalog = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/catalog");
    assert!(
        catalog.join("index.json").is_file(),
        "build the local catalog first: scripts/build-catalog.sh"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config_for(&format!("sqlite://{}/magflock.db", dir.path().display()));
    config.catalog_dir = catalog;
    config.data_dir = dir.path().join("data");
    let store = open_store(&config.database_url).await.unwrap();
    let kernel = KernelHost::start(store, &config).await.unwrap();

    let view = kernel.lifecycle.catalog().await.unwrap();
    assert!(view.problems.is_empty(), "{:?}", view.problems);
    let mut ids: Vec<&str> = view.listings.iter().map(|l| l.entry.id.as_str()).collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "magflock/naming-policy",
            "magflock/query-insights",
            "magflock/webhook-relay"
        ]
    );
    for id in &ids {
        install(&kernel, id).await;
    }

    // naming-policy: a filter on before_db_create, and an endpoint.
    let denied = dispatch(
        &kernel,
        "before_db_create",
        r#"{"project_id":"p1","database":"SalesEU","owner":"u-1"}"#,
    )
    .await;
    match denied {
        Dispatched::Denied { extension, reason } => {
            assert_eq!(extension, "magflock/naming-policy");
            assert!(reason.contains("snake_case"), "{reason}");
        }
        other => panic!("a name breaking the rule must be denied: {other:?}"),
    }
    let allowed = dispatch(
        &kernel,
        "before_db_create",
        r#"{"project_id":"p1","database":"sales_eu","owner":"u-1"}"#,
    )
    .await;
    assert!(matches!(allowed, Dispatched::Proceed { .. }), "{allowed:?}");
    let response = call(&kernel, "magflock/naming-policy", |l| {
        l.handle_request(&HttpRequest {
            method: "GET".into(),
            path: "check?name=pg_secrets".into(),
            headers: Vec::new(),
            body: Vec::new(),
        })
    })
    .await
    .unwrap();
    assert_eq!(response.status, 200);
    let answer: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(answer["allowed"], false, "{answer}");

    // query-insights: events in, the slowest queries out as a widget.
    for (sql, ms) in [
        ("SELECT * FROM orders WHERE id = 42", 240),
        ("SELECT * FROM orders WHERE id = 7", 310),
        ("SELECT 1", 2),
    ] {
        kernel
            .bus
            .publish(&database_event(
                "database.query.executed",
                serde_json::json!({ "sql": sql, "duration_ms": ms, "rows": 1 }),
                vec![Capability::DatabaseRead],
            ))
            .await
            .unwrap();
    }
    let rendered = wait_until(async || {
        let widget = call(&kernel, "magflock/query-insights", |l| {
            l.render_widget("slowest-queries", "{}")
        })
        .await
        .unwrap_or_default();
        widget.contains("SELECT * FROM orders WHERE id = ?")
    })
    .await;
    assert!(rendered, "the widget shows the normalised slow query");
    let top = call(&kernel, "magflock/query-insights", |l| {
        l.run_command("top", &[], CallMode::Warm)
    })
    .await
    .unwrap();
    assert!(top.contains("310"), "{top}");

    // webhook-relay: a route to a local receiver, an event, a delivery.
    let (url, seen) = receiver().await;
    let relay = "magflock/webhook-relay";
    kernel
        .lifecycle
        .configure(
            relay,
            serde_json::json!({ "routes": [{ "events": "database.*", "url": url }] }),
            &admin(),
        )
        .await
        .unwrap();
    kernel.lifecycle.disable(relay, &admin()).await.unwrap();
    kernel.lifecycle.enable(relay, &admin()).await.unwrap();
    kernel
        .bus
        .publish(&database_event(
            "database.row.inserted",
            serde_json::json!({ "table": "orders" }),
            Vec::new(),
        ))
        .await
        .unwrap();
    let delivered = wait_until(async || !seen.lock().unwrap().is_empty()).await;
    assert!(delivered, "the relay POSTed the event");
    let first = seen.lock().unwrap()[0].clone();
    assert!(first.starts_with("POST /hook"), "{first}");
    assert!(first.contains("database.row.inserted"), "{first}");
    let panel = call(&kernel, relay, |l| l.render_widget("deliveries", "{}"))
        .await
        .unwrap();
    assert!(panel.contains("database.row.inserted"), "{panel}");
}
