//! MagUI's Extensions, Health and Events pages through their server
//! functions, on a real server with the test catalog
//! (`target/test-catalog`, made by scripts/build-catalog.sh): an admin lists,
//! inspects, disables and enables an extension, revokes a capability live
//! (its next call is refused, quarantined and audited) and grants it again,
//! upgrades to a version asking for more (an approval request with the
//! diff) and to one that does not (at once), rolls back and uninstalls; an
//! auditor sees everything and is refused every action (403, audited). The
//! health snapshot carries the sandbox's figures, the live feed reaches a
//! MagUI session over MagWS (and no API key), and the Events functions
//! count categories, report each subscriber's lag and replay dead letters.

mod support;

use futures_util::{SinkExt, StreamExt};
use magflock_app::AppError;
use magflock_app::api::alerts::AlertInfo;
use magflock_app::api::event_log::{DeadLetterInfo, EventsPage, Requeued, SubscriberInfo};
use magflock_app::api::extensions::{ActionDone, ExtensionDetail, ExtensionSummary};
use magflock_app::api::health::HealthFrame;
use magflock_kernel::audit::Actor;
use magflock_kernel::bus::{FailOutcome, StartAt};
use magflock_kernel::event::{Context, Source};
use magflock_kernel::lifecycle_store::RequestStatus;
use magflock_kernel::semver::VersionReq;
use magflock_kernel::{Capability, Event};
use magflock_lifecycle::Decision;
use magflock_sandbox::CallMode;
use magflock_types::{AuditFilter, Outcome, Role};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use support::TestServer;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const STEADY: &str = "magflock/steady";
const OWNER: &str = "owner@example.test";
const ADMIN: &str = "admin@example.test";
const AUDITOR: &str = "auditor@example.test";

fn test_catalog() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-catalog");
    assert!(
        dir.join("index.json").is_file(),
        "{} is missing: run scripts/build-catalog.sh",
        dir.display()
    );
    dir
}

/// A server on the test catalog with an owner, an admin and an auditor.
async fn server(dir: &tempfile::TempDir) -> TestServer {
    let mut config = support::config_for(&format!("sqlite://{}/magflock.db", dir.path().display()));
    config.catalog_dir = test_catalog();
    config.data_dir = dir.path().join("data");
    let server = TestServer::start_with(config).await;
    server.add_user(OWNER, Role::Owner).await;
    server.add_user(ADMIN, Role::Admin).await;
    server.add_user(AUDITOR, Role::Auditor).await;
    server
}

/// Installs `id` at exactly `version` from the catalog, every capability
/// granted, enabled.
async fn install(server: &TestServer, id: &str, version: &str) {
    let lifecycle = &server.running().kernel.lifecycle;
    let by = Actor::user("u-owner", OWNER);
    let wanted = VersionReq::parse(&format!("={version}")).unwrap();
    let request = lifecycle
        .request_install_from_catalog(id, Some(&wanted), true, &by)
        .await
        .unwrap();
    let approve = Decision::Approve {
        grants: None,
        comment: None,
    };
    let decided = lifecycle.decide(&request.id, approve, &by).await.unwrap();
    assert_eq!(decided.status, RequestStatus::Completed, "{decided:?}");
}

/// Calls a server function that must fail with `status`; returns its sentence.
async fn refused(
    server: &TestServer,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
    status: u16,
) -> String {
    let (got, body) = server.status_json(client, path, form).await;
    assert_eq!(got, status, "{path} {form:?}: {body}");
    serde_json::from_value::<AppError>(body)
        .unwrap()
        .to_string()
}

async fn summary(server: &TestServer, client: &reqwest::Client) -> ExtensionSummary {
    let list: Vec<ExtensionSummary> = server.ok(client, "/api/list_extensions", &[]).await;
    list.into_iter()
        .find(|e| e.id == STEADY)
        .expect("steady is listed")
}

fn names(list: &[magflock_app::api::extensions::CapabilityInfo]) -> Vec<&str> {
    list.iter().map(|c| c.name.as_str()).collect()
}

async fn audit(server: &TestServer, action: &str) -> Vec<magflock_types::AuditEntry> {
    server
        .running()
        .store
        .audit_list(&AuditFilter {
            action: Some(action.into()),
            limit: 500,
            ..Default::default()
        })
        .await
        .unwrap()
        .entries
}

/// The audit entries of `action`, waiting (up to 10 s) until one matches
/// `found`: the kernel's audit writer stores entries in the background.
async fn audited(
    server: &TestServer,
    action: &str,
    found: impl Fn(&magflock_types::AuditEntry) -> bool,
) -> magflock_types::AuditEntry {
    for _ in 0..100 {
        if let Some(entry) = audit(server, action).await.into_iter().find(|e| found(e)) {
            return entry;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {action} entry as expected in the audit log");
}

/// Runs one of steady's commands in the sandbox, as its endpoint or `mag` would.
async fn run_steady(server: &TestServer, command: &str) -> Result<String, String> {
    let loaded = server
        .running()
        .kernel
        .sandbox
        .get(STEADY)
        .map_err(|e| e.to_string())?;
    let command = command.to_string();
    tokio::task::spawn_blocking(move || {
        loaded
            .run_command(&command, &[], CallMode::Warm)
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_manages_an_extension_and_an_auditor_only_looks() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&dir).await;
    let admin = server.signed_in(ADMIN).await;
    let auditor = server.signed_in(AUDITOR).await;
    let id = [("id", STEADY)];

    // Nothing installed: an empty list.
    let empty: Vec<ExtensionSummary> = server.ok(&auditor, "/api/list_extensions", &[]).await;
    assert!(empty.is_empty());
    install(&server, STEADY, "1.0.0").await;

    // The list and the detail, as an auditor sees them.
    let steady = summary(&server, &auditor).await;
    assert_eq!(
        (steady.version.as_str(), steady.state.as_str()),
        ("1.0.0", "enabled")
    );
    assert_eq!(steady.name, "Steady");
    assert_eq!(steady.signature_level, "first_party");
    assert!(steady.not_granted.is_empty(), "{steady:?}");
    let metrics = steady
        .granted
        .iter()
        .find(|c| c.name == "system.metrics")
        .expect("system.metrics is granted");
    assert_eq!(metrics.risk, "low");
    assert_eq!(metrics.description, Capability::SystemMetrics.describe());
    assert_eq!(metrics.justification, "Counts the commands it answers.");
    let outbound = steady
        .granted
        .iter()
        .find(|c| c.name == "network.outbound")
        .unwrap();
    assert_eq!(outbound.hosts, ["127.0.0.1", "localhost"]);
    assert_eq!(outbound.risk, "high");

    assert_eq!(run_steady(&server, "ping").await.unwrap(), "pong");
    let detail: ExtensionDetail = server.ok(&auditor, "/api/get_extension", &id).await;
    assert_eq!(detail.publisher, "MagFlock");
    assert!(detail.stats.as_ref().unwrap().calls >= 1, "{detail:?}");
    assert_eq!(detail.budgets.as_ref().unwrap().deadline_ms, 2000);
    let versions: Vec<&str> = detail.upgrades.iter().map(|u| u.version.as_str()).collect();
    assert_eq!(versions, ["1.1.0", "1.0.1"]);
    assert_eq!(
        names(&detail.upgrades[0].new_capabilities),
        ["system.background_jobs"]
    );
    assert_eq!(detail.upgrades[0].new_capabilities[0].risk, "medium");
    assert!(detail.upgrades[1].new_capabilities.is_empty());
    assert!(detail.dependents.is_empty() && detail.catalog_problems.is_empty());

    // An auditor is refused every action, and each refusal is audited.
    let denied_before = audit(&server, "auth.permission_denied").await.len();
    let actions: [(&str, Vec<(&str, &str)>); 7] = [
        ("/api/enable_extension", vec![("id", STEADY)]),
        ("/api/disable_extension", vec![("id", STEADY)]),
        (
            "/api/upgrade_extension",
            vec![("id", STEADY), ("version", "1.0.1")],
        ),
        ("/api/rollback_extension", vec![("id", STEADY)]),
        ("/api/uninstall_extension", vec![("id", STEADY)]),
        (
            "/api/revoke_capability",
            vec![("id", STEADY), ("capability", "system.metrics")],
        ),
        (
            "/api/grant_capability",
            vec![("id", STEADY), ("capability", "system.metrics")],
        ),
    ];
    for (path, form) in &actions {
        let sentence = refused(&server, &auditor, path, form, 403).await;
        assert_eq!(sentence, AppError::Forbidden.to_string());
    }
    let denied = audit(&server, "auth.permission_denied").await;
    assert_eq!(denied.len() - denied_before, actions.len());
    for (path, _) in &actions {
        assert!(
            denied.iter().any(|e| e.target.as_deref() == Some(*path)
                && e.actor_label == AUDITOR
                && e.outcome == Outcome::Denied),
            "{path} not audited"
        );
    }
    let unchanged = summary(&server, &auditor).await;
    assert_eq!(
        (unchanged.state.as_str(), unchanged.granted.len()),
        ("enabled", steady.granted.len())
    );

    // Disable and enable.
    let done: ActionDone = server.ok(&admin, "/api/disable_extension", &id).await;
    assert!(
        done.message.starts_with("Disabled magflock/steady"),
        "{done:?}"
    );
    assert_eq!(done.extension.as_ref().unwrap().state, "disabled");
    let off: ExtensionDetail = server.ok(&auditor, "/api/get_extension", &id).await;
    assert!(
        off.stats.is_none(),
        "a disabled extension has no running version"
    );
    assert_eq!(
        off.summary.granted.len(),
        steady.granted.len(),
        "grants stay while disabled"
    );
    let done: ActionDone = server.ok(&admin, "/api/enable_extension", &id).await;
    assert_eq!(done.extension.unwrap().state, "enabled");

    // Revoke live: the next call that needs it is refused, quarantined and audited.
    let metric = [("id", STEADY), ("capability", "system.metrics")];
    let done: ActionDone = server.ok(&admin, "/api/revoke_capability", &metric).await;
    let after = done.extension.unwrap();
    assert!(!names(&after.granted).contains(&"system.metrics"));
    assert_eq!(names(&after.not_granted), ["system.metrics"]);
    let refusal = run_steady(&server, "metric").await.unwrap_err();
    assert!(refusal.contains("quarantined"), "{refusal}");
    let entry = audited(&server, "extension.quarantined", |e| {
        e.target.as_deref() == Some(STEADY)
    })
    .await;
    assert_eq!(entry.outcome, Outcome::Denied);
    let detail: Value = serde_json::from_str(&entry.detail).unwrap();
    assert_eq!(detail["capability"], "system.metrics", "{detail}");
    let revoked = audit(&server, "extension.capability_revoked").await;
    assert_eq!(revoked[0].actor_label, ADMIN);
    let quarantined = summary(&server, &auditor).await;
    assert_eq!(quarantined.state, "quarantined");
    assert!(
        quarantined
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("system.metrics")),
        "{quarantined:?}"
    );
    let again = refused(&server, &admin, "/api/revoke_capability", &metric, 409).await;
    assert!(again.contains("does not hold system.metrics"), "{again}");

    // Grant it again; enabling lifts the quarantine; the call works.
    let done: ActionDone = server.ok(&admin, "/api/grant_capability", &metric).await;
    assert!(names(&done.extension.unwrap().granted).contains(&"system.metrics"));
    let beyond = refused(
        &server,
        &admin,
        "/api/grant_capability",
        &[("id", STEADY), ("capability", "database.admin")],
        409,
    )
    .await;
    assert!(
        beyond.contains("does not request database.admin"),
        "{beyond}"
    );
    let unknown = refused(
        &server,
        &admin,
        "/api/grant_capability",
        &[("id", STEADY), ("capability", "database.sudo")],
        400,
    )
    .await;
    assert!(
        unknown.contains("'database.sudo' is not a capability"),
        "{unknown}"
    );
    let _: ActionDone = server.ok(&admin, "/api/enable_extension", &id).await;
    assert_eq!(run_steady(&server, "metric").await.unwrap(), "counted");

    // An upgrade asking for more waits for an approval, with the diff.
    let done: ActionDone = server
        .ok(
            &admin,
            "/api/upgrade_extension",
            &[("id", STEADY), ("version", "1.1.0")],
        )
        .await;
    let request = done.request.clone().expect("an approval request");
    assert!(done.extension.is_none());
    assert!(
        done.message.contains("system.background_jobs") && done.message.contains("approval"),
        "{done:?}"
    );
    assert_eq!(summary(&server, &auditor).await.version, "1.0.0");
    let pending = server
        .running()
        .kernel
        .lifecycle
        .requests(Some(RequestStatus::Pending))
        .await
        .unwrap();
    let waiting = pending.iter().find(|r| r.id == request).unwrap();
    assert_eq!(
        (waiting.kind.as_str(), waiting.extension.as_str()),
        ("upgrade", STEADY)
    );
    let asker = server
        .running()
        .store
        .user_by_id(waiting.requested_by.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(asker.email, ADMIN, "the admin asked for it");
    let plan: magflock_lifecycle::Plan = serde_json::from_str(&waiting.plan).unwrap();
    let new: Vec<&str> = plan.items[0]
        .capabilities
        .iter()
        .filter(|c| c.new)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(new, ["system.background_jobs"]);

    // One asking for nothing new is carried out at once; then rolled back.
    let done: ActionDone = server
        .ok(
            &admin,
            "/api/upgrade_extension",
            &[("id", STEADY), ("version", "1.0.1")],
        )
        .await;
    let upgraded = done.extension.unwrap();
    assert_eq!(
        (
            upgraded.version.as_str(),
            upgraded.previous_version.as_deref()
        ),
        ("1.0.1", Some("1.0.0"))
    );
    assert!(upgraded.previous_until.is_some());
    assert_eq!(upgraded.state, "enabled");
    let missing = refused(
        &server,
        &admin,
        "/api/upgrade_extension",
        &[("id", STEADY), ("version", "9.9.9")],
        404,
    )
    .await;
    assert_eq!(
        missing,
        "No catalog lists version 9.9.9 of magflock/steady."
    );
    let bad = refused(
        &server,
        &admin,
        "/api/upgrade_extension",
        &[("id", STEADY), ("version", "latest")],
        400,
    )
    .await;
    assert!(bad.contains("is not a version"), "{bad}");
    let progress: Option<Value> = server.ok(&auditor, "/api/extension_progress", &id).await;
    assert!(progress.is_none(), "nothing in flight");
    let done: ActionDone = server.ok(&admin, "/api/rollback_extension", &id).await;
    assert!(done.message.contains("from 1.0.1 to 1.0.0"), "{done:?}");
    assert_eq!(done.extension.unwrap().version, "1.0.0");
    let none_left = refused(&server, &admin, "/api/rollback_extension", &id, 409).await;
    assert!(none_left.contains("no previous version"), "{none_left}");

    // Uninstall: refused while enabled (the lifecycle's sentence), then done.
    let enabled = refused(&server, &admin, "/api/uninstall_extension", &id, 409).await;
    assert_eq!(
        enabled,
        "Magflock/steady is enabled; disable it before uninstalling."
    );
    let _: ActionDone = server.ok(&admin, "/api/disable_extension", &id).await;
    let done: ActionDone = server.ok(&admin, "/api/uninstall_extension", &id).await;
    assert!(
        done.message.starts_with("Uninstalled magflock/steady"),
        "{done:?}"
    );
    let gone: Vec<ExtensionSummary> = server.ok(&auditor, "/api/list_extensions", &[]).await;
    assert!(gone.is_empty());
    let not_installed = refused(&server, &auditor, "/api/get_extension", &id, 404).await;
    assert!(not_installed.contains("not installed"), "{not_installed}");
    refused(
        &server,
        &auditor,
        "/api/get_extension",
        &[("id", "no-slash")],
        400,
    )
    .await;

    // The lifecycle audited each step with the admin as the actor.
    for action in [
        "extension.disabled",
        "extension.enabled",
        "extension.capability_granted",
        "extension.upgraded",
        "extension.rolled_back",
        "extension.uninstalled",
    ] {
        assert!(
            audit(&server, action)
                .await
                .iter()
                .any(|e| e.actor_label == ADMIN),
            "{action} by the admin is audited"
        );
    }
    server.stop().await;
}

/// A MagUI session's socket, past `ready`.
async fn live_socket(
    server: &TestServer,
    headers: &[(&str, &str)],
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let url = format!("{}/realtime/ws", server.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
}

async fn next_frame(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    kind: &str,
) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(15), socket.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("a good frame");
        if let Message::Text(text) = message {
            let frame: Value = serde_json::from_str(&text).unwrap();
            if frame["type"] == kind {
                return frame;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_figures_reach_the_page_and_the_live_feed() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&dir).await;
    let auditor = server.signed_in(AUDITOR).await;
    install(&server, STEADY, "1.0.0").await;
    for _ in 0..5 {
        assert_eq!(run_steady(&server, "ping").await.unwrap(), "pong");
    }

    let frame: HealthFrame = server.ok(&auditor, "/api/health_snapshot", &[]).await;
    let steady = frame.extensions.iter().find(|e| e.id == STEADY).unwrap();
    assert_eq!(steady.state, "enabled");
    assert!(steady.totals.calls >= 5, "{steady:?}");
    assert_eq!(steady.totals.errors, 0);
    assert!(steady.totals.fuel > 0 && steady.totals.fuel_per_call > 0);
    assert!(steady.totals.peak_memory_bytes > 0);
    assert!(steady.totals.p50_us.is_some() && steady.totals.p99_us.is_some());
    let budgets = steady.budgets.clone().unwrap();
    assert_eq!(
        (
            budgets.fuel_per_call,
            budgets.memory_mb,
            budgets.deadline_ms
        ),
        (50_000_000, 32, 2000)
    );
    assert!(frame.interval_ms.is_none() && steady.interval.is_none());
    assert!(steady.last_check.is_none(), "the monitor has not run yet");

    // A monitor round checks it; a revoked capability's refused call is a
    // quarantine the next round raises as an alert, in the health history.
    let lifecycle = server.running().kernel.lifecycle.clone();
    lifecycle.monitor_round().await;
    let frame: HealthFrame = server.ok(&auditor, "/api/health_snapshot", &[]).await;
    let check = frame.extensions[0].last_check.clone().unwrap();
    assert!(check.healthy && check.problem.is_none(), "{check:?}");
    let none: Vec<AlertInfo> = server.ok(&auditor, "/api/health_incidents", &[]).await;
    assert!(none.is_empty());

    // The live feed: a MagUI session (from this origin) subscribes to the
    // system channels; an API key may not; nobody publishes there.
    let cookie = server.session_cookie(AUDITOR).await;
    let own = [
        ("cookie", cookie.as_str()),
        ("origin", server.base.as_str()),
    ];
    let mut socket = live_socket(&server, &own).await;
    next_frame(&mut socket, "ready").await;
    for channel in ["health", "alerts"] {
        let op = json!({"op": "subscribe", "channel": channel, "project": "_magflock"});
        socket.send(Message::text(op.to_string())).await.unwrap();
        let subscribed = next_frame(&mut socket, "subscribed").await;
        assert_eq!(subscribed["channel"], channel);
    }
    let live = next_frame(&mut socket, "message").await;
    assert_eq!(live["project"], "_magflock");
    let live = if live["channel"] == "health" {
        live
    } else {
        next_frame(&mut socket, "message").await
    };
    let frame: HealthFrame = serde_json::from_value(live["data"].clone()).unwrap();
    assert!(frame.extensions.iter().any(|e| e.id == STEADY));
    let publish = json!({"op": "publish", "channel": "health", "project": "_magflock", "data": {}});
    socket
        .send(Message::text(publish.to_string()))
        .await
        .unwrap();
    let error = next_frame(&mut socket, "error").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("written by the server only")
            || error["code"] == "forbidden",
        "{error}"
    );

    // Then an alert arrives on `alerts` as it is raised.
    let admin = server.signed_in(ADMIN).await;
    let metric = [("id", STEADY), ("capability", "system.metrics")];
    let _: ActionDone = server.ok(&admin, "/api/revoke_capability", &metric).await;
    assert!(run_steady(&server, "metric").await.is_err());
    lifecycle.monitor_round().await;
    let alert = loop {
        let message = next_frame(&mut socket, "message").await;
        if message["channel"] == "alerts" {
            break message;
        }
    };
    let alert: AlertInfo = serde_json::from_value(alert["data"].clone()).unwrap();
    assert_eq!(
        (alert.extension.as_str(), alert.kind.as_str()),
        (STEADY, "quarantined")
    );
    let history: Vec<AlertInfo> = server
        .ok(&auditor, "/api/health_incidents", &[("extension", STEADY)])
        .await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].kind, "quarantined");
    let frame: HealthFrame = server.ok(&auditor, "/api/health_snapshot", &[]).await;
    assert_eq!(frame.extensions[0].state, "quarantined");
    assert!(frame.extensions[0].totals.stopped >= 1);

    // An API key is refused the system project.
    let key = server
        .running()
        .kernel
        .gateway
        .keys()
        .issue_key("_magflock", "sneaky", None)
        .await
        .unwrap()
        .plaintext;
    let bearer = format!("Bearer {key}");
    let mut keyed = live_socket(&server, &[("authorization", bearer.as_str())]).await;
    next_frame(&mut keyed, "ready").await;
    let op = json!({"op": "subscribe", "channel": "health"});
    keyed.send(Message::text(op.to_string())).await.unwrap();
    let error = next_frame(&mut keyed, "error").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("API keys cannot use it"),
        "{error}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_by_category_lag_and_dead_letter_replay() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&dir).await;
    let admin = server.signed_in(ADMIN).await;
    let auditor = server.signed_in(AUDITOR).await;
    install(&server, STEADY, "1.0.0").await;
    let bus = server.running().kernel.bus.clone();

    // Categories count the newest events; a filter keeps one category.
    let page: EventsPage = server
        .ok(&auditor, "/api/recent_events", &[("query[category]", "")])
        .await;
    let extension = page
        .categories
        .iter()
        .find(|c| c.name == "extension")
        .expect("the lifecycle's events are counted");
    assert!(extension.count >= 2, "{page:?}");
    assert!(page.types.iter().any(|t| t.name == "extension.enabled"));
    assert_eq!(page.counted, page.head.min(1000));
    let only: EventsPage = server
        .ok(
            &auditor,
            "/api/recent_events",
            &[("query[category]", "extension")],
        )
        .await;
    assert!(!only.events.is_empty());
    assert!(only.events.iter().all(|e| e.category == "extension"));
    assert!(
        only.events.windows(2).all(|w| w[0].seq > w[1].seq),
        "newest first"
    );
    let typed: EventsPage = server
        .ok(
            &auditor,
            "/api/recent_events",
            &[("query[event_type]", "extension.enabled")],
        )
        .await;
    assert!(
        typed
            .events
            .iter()
            .all(|e| e.event_type == "extension.enabled")
    );
    assert!(!typed.events.is_empty());

    // Paging: 60 events of our own, 50 a page, the rest on the next.
    let source = Source {
        component: "console-test".into(),
        extension: None,
    };
    for n in 0..60 {
        let event = Event::new(
            "api.console_test.tick",
            source.clone(),
            json!({"n": n}),
            Context::default(),
            Vec::new(),
        )
        .unwrap();
        bus.publish(&event).await.unwrap();
    }
    let first: EventsPage = server
        .ok(
            &auditor,
            "/api/recent_events",
            &[("query[event_type]", "api.console_test.tick")],
        )
        .await;
    assert_eq!(first.events.len(), 50);
    assert_eq!(first.events[0].data, r#"{"n":59}"#);
    let before = first.next_before.expect("an older page").to_string();
    let second: EventsPage = server
        .ok(
            &auditor,
            "/api/recent_events",
            &[
                ("query[event_type]", "api.console_test.tick"),
                ("query[before]", &before),
            ],
        )
        .await;
    assert_eq!(second.events.len(), 10);
    assert_eq!(second.events[9].data, r#"{"n":0}"#);
    assert!(second.next_before.is_none());

    // Lag per subscriber: a subscriber that read nothing is behind by all.
    bus.subscribe("console-test", &["api.*"], &[], StartAt::Earliest)
        .await
        .unwrap();
    // Steady's event delivery subscribes it shortly after it starts.
    let mut subscribers: Vec<SubscriberInfo> = Vec::new();
    for _ in 0..100 {
        subscribers = server.ok(&auditor, "/api/event_subscribers", &[]).await;
        if subscribers.iter().any(|s| s.id == "ext:magflock/steady") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let test = subscribers.iter().find(|s| s.id == "console-test").unwrap();
    let head = bus.head().await.unwrap();
    assert_eq!((test.acked_seq, test.lag), (0, head));
    assert_eq!(test.patterns, ["api.*"]);
    let steady = subscribers
        .iter()
        .find(|s| s.id == "ext:magflock/steady")
        .expect("steady subscribes to extension.*");
    assert_eq!(steady.extension.as_deref(), Some(STEADY));

    // Dead letters: the first event fails every attempt.
    let failed_seq = loop {
        let batch = bus.poll("console-test", 1).await.unwrap();
        let delivery = &batch[0];
        if let FailOutcome::DeadLettered { .. } =
            bus.fail(delivery, "handler exploded").await.unwrap()
        {
            break delivery.seq;
        }
    };
    let letters: Vec<DeadLetterInfo> = server
        .ok(
            &auditor,
            "/api/dead_letters",
            &[("subscriber", "console-test")],
        )
        .await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].seq, failed_seq);
    assert_eq!(letters[0].last_error, "handler exploded");
    assert_eq!(letters[0].attempts, 5);
    let subscribers: Vec<SubscriberInfo> = server.ok(&auditor, "/api/event_subscribers", &[]).await;
    assert_eq!(
        subscribers
            .iter()
            .find(|s| s.id == "console-test")
            .unwrap()
            .dead_letters,
        1
    );

    // An auditor may not replay; an admin replays it, audited.
    let seq = failed_seq.to_string();
    let replay = [("subscriber", "console-test"), ("seq", seq.as_str())];
    refused(&server, &auditor, "/api/requeue_dead_letters", &replay, 403).await;
    let done: Requeued = server
        .ok(&admin, "/api/requeue_dead_letters", &replay)
        .await;
    assert_eq!((done.count, done.seq), (1, Some(failed_seq)));
    let entry = &audit(&server, "event.dead_letters_requeued").await[0];
    assert_eq!(
        (
            entry.actor_label.as_str(),
            entry.target.as_deref(),
            entry.outcome
        ),
        (ADMIN, Some("console-test"), Outcome::Success)
    );
    let left: Vec<DeadLetterInfo> = server.ok(&auditor, "/api/dead_letters", &[]).await;
    assert!(left.iter().all(|d| d.subscriber != "console-test"));
    let again = refused(&server, &admin, "/api/requeue_dead_letters", &replay, 404).await;
    assert!(again.contains("no dead letter for event"), "{again}");
    let redelivered = bus.poll("console-test", 1).await.unwrap();
    assert_eq!(
        redelivered[0].seq, failed_seq,
        "the replayed event comes first"
    );
    let unknown = refused(
        &server,
        &admin,
        "/api/requeue_dead_letters",
        &[("subscriber", "nobody")],
        404,
    )
    .await;
    assert!(unknown.contains("nobody"), "{unknown}");
    server.stop().await;
}
