//! Upgrades: the capability diff and its approval, health check #3 and the
//! rollback when it fails, zero failed calls under load during the switch,
//! the kept version and the one-click rollback.

mod support;

use magflock_kernel::lifecycle_store::LifecycleStore;
use magflock_lifecycle::{ExtensionState, UpgradeSubmitted};
use magflock_store::Engine;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use support::*;

const V1_MIGRATIONS: &[(&str, &str, Option<&str>)] = &[(
    "0001_notes",
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
    Some("DROP TABLE notes;"),
)];

const V2_MIGRATIONS: &[(&str, &str, Option<&str>)] = &[
    V1_MIGRATIONS[0],
    (
        "0002_tags",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
        Some("DROP TABLE tags;"),
    ),
];

const READS: &str = r#"[[capabilities]]
name = "database.read"
justification = "Reads its notes."
"#;

async fn installed_enabled(h: &Harness, id: &str) {
    h.install(h.package(&steady_manifest(id, "1.0.0", ""), V1_MIGRATIONS))
        .await
        .unwrap();
    h.lifecycle.enable(id, &admin()).await.unwrap();
}

async fn new_capabilities_wait_for_approval(engine: Engine) {
    let h = Harness::new(engine).await;
    let id = "up/diff";
    installed_enabled(&h, id).await;
    let v2 = h.package(&steady_manifest(id, "2.0.0", READS), V2_MIGRATIONS);
    let UpgradeSubmitted::Waiting(request) =
        h.lifecycle.request_upgrade(&v2, &admin()).await.unwrap()
    else {
        panic!("a new capability must wait for approval");
    };
    let plan: magflock_lifecycle::Plan = serde_json::from_str(&request.plan).unwrap();
    let item = &plan.items[0];
    assert_eq!(item.action, "upgrade");
    assert_eq!(item.from_version.as_deref(), Some("1.0.0"));
    let diff: Vec<(&str, bool)> = item
        .capabilities
        .iter()
        .map(|c| (c.name.as_str(), c.new))
        .collect();
    assert!(diff.contains(&("database.read", true)), "{diff:?}");
    assert_eq!(diff.iter().filter(|(_, new)| *new).count(), 1, "{diff:?}");
    // Nothing changed while it waits.
    assert_eq!(h.lifecycle.extension(id).await.unwrap().version, "1.0.0");
    assert_eq!(h.applied(id).await, ["0001_notes"]);

    h.approve_all(&request).await.unwrap();
    let view = h.lifecycle.extension(id).await.unwrap();
    assert_eq!(view.version, "2.0.0");
    assert_eq!(view.state, ExtensionState::Enabled);
    assert!(
        view.granted.contains(&"database.read".to_string()),
        "{:?}",
        view.granted
    );
    assert_eq!(view.previous_version.as_deref(), Some("1.0.0"));
    assert_eq!(h.applied(id).await, ["0001_notes", "0002_tags"]);
    assert_eq!(
        h.sandbox.get(id).unwrap().manifest().version.to_string(),
        "2.0.0"
    );
    assert!(
        h.installed_file(id, "1.0.0").is_file(),
        "the old version is kept"
    );

    // A version asking for nothing new goes ahead at once; one dropping a
    // capability loses its grant at the switch.
    let v3 = h.package(&steady_manifest(id, "3.0.0", ""), V2_MIGRATIONS);
    assert!(matches!(
        h.lifecycle.request_upgrade(&v3, &admin()).await.unwrap(),
        UpgradeSubmitted::Done
    ));
    let view = h.lifecycle.extension(id).await.unwrap();
    assert_eq!(view.version, "3.0.0");
    assert!(
        !view.granted.contains(&"database.read".to_string()),
        "dropped at the switch"
    );
    assert!(view.granted.contains(&"system.metrics".to_string()));

    // Downgrades are refused, naming both versions.
    let old = h.package(&steady_manifest(id, "2.5.0", ""), V2_MIGRATIONS);
    let error = h
        .lifecycle
        .request_upgrade(&old, &admin())
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("2.5.0 is older than the installed 3.0.0"),
        "{error}"
    );
    let actions = h.audit_actions(id).await;
    assert!(
        actions.contains(&"extension.upgrade_requested".to_string()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"extension.upgraded".to_string()),
        "{actions:?}"
    );
    assert!(
        h.event_types(id)
            .await
            .contains(&"extension.upgraded".to_string())
    );
    h.cleanup().await;
}

async fn a_failed_health_check_3_rolls_back_to_the_serving_version(engine: Engine) {
    let h = Harness::new(engine).await;
    let id = "up/sick";
    installed_enabled(&h, id).await;
    let sick = steady_manifest(id, "2.0.0", "[config]\nhealthy = false\n");
    let error = h
        .lifecycle
        .request_upgrade(&h.package(&sick, V2_MIGRATIONS), &admin())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("health check #3"), "{error}");
    let view = h.lifecycle.extension(id).await.unwrap();
    assert_eq!(view.version, "1.0.0");
    assert_eq!(view.state, ExtensionState::Enabled);
    assert_eq!(view.previous_version, None);
    assert_eq!(
        h.applied(id).await,
        ["0001_notes"],
        "the new migration was reverted"
    );
    assert!(!h.installed_file(id, "2.0.0").exists());
    assert_eq!(
        h.sandbox.get(id).unwrap().manifest().version.to_string(),
        "1.0.0"
    );
    assert_eq!(
        h.run(id, "ping").await.unwrap(),
        "pong",
        "the old version serves"
    );
    assert!(
        h.event_types(id)
            .await
            .contains(&"extension.upgrade_rolled_back".to_string())
    );
    assert!(
        h.audit_actions(id)
            .await
            .contains(&"extension.upgrade_failed".to_string())
    );
    let alerts = h.store.alerts(false).await.unwrap();
    assert!(
        alerts.iter().any(|a| a.kind == "upgrade_rolled_back"),
        "{alerts:?}"
    );

    // An upgrade whose new migration has no down script is refused up front.
    let one_way = [
        V1_MIGRATIONS[0],
        ("0002_one_way", "CREATE TABLE x (a TEXT);", None),
    ];
    let error = h
        .lifecycle
        .request_upgrade(
            &h.package(&steady_manifest(id, "2.0.1", ""), &one_way),
            &admin(),
        )
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("0002_one_way has no down script"),
        "{error}"
    );
    h.cleanup().await;
}

async fn rollback_returns_to_the_kept_version(engine: Engine) {
    let h = Harness::new(engine).await;
    let id = "up/back";
    installed_enabled(&h, id).await;
    let v2 = h.package(&steady_manifest(id, "2.0.0", ""), V2_MIGRATIONS);
    h.lifecycle.request_upgrade(&v2, &admin()).await.unwrap();
    assert_eq!(h.applied(id).await, ["0001_notes", "0002_tags"]);

    h.lifecycle.rollback(id, &admin()).await.unwrap();
    let view = h.lifecycle.extension(id).await.unwrap();
    assert_eq!(view.version, "1.0.0");
    assert_eq!(view.previous_version, None);
    assert_eq!(view.state, ExtensionState::Enabled);
    assert_eq!(h.applied(id).await, ["0001_notes"]);
    assert!(!h.installed_file(id, "2.0.0").exists());
    assert_eq!(
        h.sandbox.get(id).unwrap().manifest().version.to_string(),
        "1.0.0"
    );
    assert_eq!(h.run(id, "ping").await.unwrap(), "pong");
    assert!(
        h.audit_actions(id)
            .await
            .contains(&"extension.rolled_back".to_string())
    );
    let error = h.lifecycle.rollback(id, &admin()).await.unwrap_err();
    assert!(error.to_string().contains("no previous version"), "{error}");
    h.cleanup().await;
}

async fn kept_versions_expire(engine: Engine) {
    let h = Harness::with(engine, |c| c.keep_previous = Duration::ZERO).await;
    let id = "up/expire";
    installed_enabled(&h, id).await;
    let v2 = h.package(&steady_manifest(id, "2.0.0", ""), V1_MIGRATIONS);
    h.lifecycle.request_upgrade(&v2, &admin()).await.unwrap();
    assert!(h.installed_file(id, "1.0.0").is_file());
    assert_eq!(h.lifecycle.prune_previous().await.unwrap(), 1);
    assert!(!h.installed_file(id, "1.0.0").exists());
    assert_eq!(
        h.lifecycle.extension(id).await.unwrap().previous_version,
        None
    );
    let error = h.lifecycle.rollback(id, &admin()).await.unwrap_err();
    assert!(error.to_string().contains("no previous version"), "{error}");
    h.cleanup().await;
}

async fn no_call_fails_during_an_upgrade_under_load(engine: Engine) {
    let h = Harness::new(engine).await;
    let id = "up/busy";
    installed_enabled(&h, id).await;
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let versions = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let mut workers = Vec::new();
    for _ in 0..2 {
        let (sandbox, stop, calls, failures, versions) = (
            h.sandbox.clone(),
            stop.clone(),
            calls.clone(),
            failures.clone(),
            versions.clone(),
        );
        workers.push(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let result = sandbox.get(id).map_err(|e| e.to_string()).and_then(|l| {
                    versions
                        .lock()
                        .unwrap()
                        .insert(l.manifest().version.to_string());
                    l.run_command("ping", &[], magflock_sandbox::CallMode::Warm)
                        .map_err(|e| e.to_string())
                });
                calls.fetch_add(1, Ordering::SeqCst);
                if result.as_deref() != Ok("pong") {
                    failures.fetch_add(1, Ordering::SeqCst);
                    eprintln!("failed call: {result:?}");
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for version in ["2.0.0", "3.0.0"] {
        let next = h.package(&steady_manifest(id, version, ""), V2_MIGRATIONS);
        h.lifecycle.request_upgrade(&next, &admin()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.join().unwrap();
    }
    let seen = versions.lock().unwrap().clone();
    assert_eq!(
        failures.load(Ordering::SeqCst),
        0,
        "of {} calls",
        calls.load(Ordering::SeqCst)
    );
    assert!(calls.load(Ordering::SeqCst) > 100, "the load was real");
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["1.0.0", "2.0.0", "3.0.0"],
        "calls reached every version in turn"
    );
    h.cleanup().await;
}

on_both!(
    new_capabilities_wait_for_approval,
    a_failed_health_check_3_rolls_back_to_the_serving_version,
    rollback_returns_to_the_kept_version,
    kept_versions_expire,
    no_call_fails_during_an_upgrade_under_load,
);
