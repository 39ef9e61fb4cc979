//! Install, approval, enable, disable and uninstall, every step and every
//! failure path, on SQLite and PostgreSQL.

mod support;

use magflock_kernel::lifecycle_store::{LifecycleStore, RequestStatus};
use magflock_kernel::{Capability, Grant};
use magflock_lifecycle::{Decision, ExtensionState, LifecycleError, Offered};
use magflock_store::Engine;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use support::*;

const TABLES: &[(&str, &str, Option<&str>)] = &[
    (
        "0001_notes",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
        Some("DROP TABLE notes;"),
    ),
    (
        "0002_tags",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
        Some("DROP TABLE tags;"),
    ),
];

fn offer(bytes: Vec<u8>) -> Vec<Offered> {
    vec![Offered {
        bytes,
        required_by: Vec::new(),
    }]
}

/// Nothing of `id` is left but audit entries.
async fn assert_no_trace(h: &Harness, id: &str) {
    assert!(
        h.store.installation(id).await.unwrap().is_none(),
        "row left"
    );
    assert!(!h.extension_dir(id).exists(), "files left");
    assert!(h.applied(id).await.is_empty(), "migrations left");
    assert!(h.gate.status(id).is_none(), "gate entry left");
    assert!(h.sandbox.get(id).is_err(), "still loaded");
    assert_eq!(h.kv(id, "installed").await, None, "kv data left");
    use magflock_kernel::policy_store::PolicyStore;
    assert!(
        h.store
            .load_policies()
            .await
            .unwrap()
            .iter()
            .all(|p| p.extension != id),
        "stored grants left"
    );
}

async fn install_waits_for_approval_and_grants_a_subset(engine: Engine) {
    let h = Harness::new(engine).await;
    let id = "lc/approved";
    let bytes = h.package(&steady_manifest(id, "1.0.0", ""), TABLES);
    let request = h
        .lifecycle
        .request_install(offer(bytes), false, &admin())
        .await
        .unwrap();
    // Waiting: nothing installed, nothing runs.
    assert_eq!(request.status, RequestStatus::Pending);
    assert!(h.store.installation(id).await.unwrap().is_none());
    assert!(h.gate.status(id).is_none());
    let plan: magflock_lifecycle::Plan = serde_json::from_str(&request.plan).unwrap();
    assert_eq!(plan.items.len(), 1);
    let names: Vec<&str> = plan.items[0]
        .capabilities
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "system.metrics",
            "api.emit_events",
            "api.intercept_request",
            "filesystem.temp_only",
            "network.outbound",
            "realtime.subscribe_events",
            "ui.register_widget"
        ]
    );
    assert_eq!(
        plan.items[0].capabilities[0].justification,
        "Counts the commands it answers."
    );
    assert_eq!(plan.items[0].signature_level, "first_party");

    // A subset: metrics, and outbound to one of the two hosts only.
    let mut grants = BTreeMap::new();
    grants.insert(
        id.to_string(),
        vec![
            Grant::new(Capability::SystemMetrics),
            Grant::with_hosts(Capability::NetworkOutbound, &["127.0.0.1"]),
        ],
    );
    let decided = h
        .lifecycle
        .decide(
            &request.id,
            Decision::Approve {
                grants: Some(grants),
                comment: Some("no events for now".into()),
            },
            &admin(),
        )
        .await
        .unwrap();
    assert_eq!(decided.status, RequestStatus::Completed);
    assert_eq!(decided.decided_by.as_deref(), Some("u-1"));

    let view = h.lifecycle.extension(id).await.unwrap();
    assert_eq!(view.state, ExtensionState::Disabled);
    assert_eq!(view.version, "1.0.0");
    assert_eq!(view.granted, ["network.outbound", "system.metrics"]);
    assert_eq!(
        h.kv(id, "installed").await.as_deref(),
        Some("yes"),
        "Install() ran"
    );
    assert_eq!(h.applied(id).await, ["0001_notes", "0002_tags"]);
    assert!(h.installed_file(id, "1.0.0").is_file());
    assert!(h.sandbox.get(id).is_err(), "installed is not running");

    // A second decision is refused.
    let again = h
        .lifecycle
        .decide(&request.id, Decision::Deny { comment: None }, &admin())
        .await
        .unwrap_err();
    assert!(again.to_string().contains("already decided"), "{again}");

    h.lifecycle.enable(id, &admin()).await.unwrap();
    assert_eq!(
        h.lifecycle.extension(id).await.unwrap().state,
        ExtensionState::Enabled
    );
    assert_eq!(h.run(id, "metric").await.unwrap(), "counted");
    assert_eq!(
        h.kv(id, "running").await.as_deref(),
        Some("yes"),
        "Start() ran"
    );
    assert!(
        h.kv(id, "config").await.is_some(),
        "Init() got its configuration"
    );
    assert_eq!(
        h.registry.read().unwrap().handlers("wrap_request").len(),
        1,
        "its hook is registered"
    );
    let actions = h.audit_actions(id).await;
    for wanted in [
        "extension.install_requested",
        "extension.install_approved",
        "extension.capability_granted",
        "extension.installed",
        "extension.enabled",
    ] {
        assert!(
            actions.iter().any(|a| a == wanted),
            "{wanted} missing in {actions:?}"
        );
    }
    let events = h.event_types(id).await;
    assert!(
        events.contains(&"extension.installed".to_string()),
        "{events:?}"
    );
    assert!(
        events.contains(&"extension.enabled".to_string()),
        "{events:?}"
    );
    h.cleanup().await;
}

async fn a_denied_request_leaves_nothing(engine: Engine) {
    let h = Harness::new(engine).await;
    let id = "lc/denied";
    let bytes = h.package(&steady_manifest(id, "1.0.0", ""), TABLES);
    let request = h
        .lifecycle
        .request_install(offer(bytes), true, &admin())
        .await
        .unwrap();
    let decided = h
        .lifecycle
        .decide(
            &request.id,
            Decision::Deny {
                comment: Some("not needed".into()),
            },
            &admin(),
        )
        .await
        .unwrap();
    assert_eq!(decided.status, RequestStatus::Denied);
    assert_eq!(decided.comment.as_deref(), Some("not needed"));
    assert_no_trace(&h, id).await;
    assert!(
        !h.root
            .path()
            .join("extensions/staging")
            .join(&request.id)
            .exists()
    );
    assert!(
        h.audit_actions(id)
            .await
            .contains(&"extension.install_denied".to_string())
    );
    h.cleanup().await;
}

async fn approvals_cannot_exceed_the_request(engine: Engine) {
    let h = Harness::new(engine).await;
    let id = "lc/greedy";
    let bytes = h.package(&steady_manifest(id, "1.0.0", ""), &[]);
    let request = h
        .lifecycle
        .request_install(offer(bytes), false, &admin())
        .await
        .unwrap();
    for (grant, complaint) in [
        (Grant::new(Capability::DatabaseAdmin), "does not request it"),
        (
            Grant::with_hosts(Capability::NetworkOutbound, &["evil.example"]),
            "for host 'evil.example'",
        ),
    ] {
        let mut grants = BTreeMap::new();
        grants.insert(id.to_string(), vec![grant]);
        let error = h
            .lifecycle
            .decide(
                &request.id,
                Decision::Approve {
                    grants: Some(grants),
                    comment: None,
                },
                &admin(),
            )
            .await
            .unwrap_err();
        assert!(error.to_string().contains(complaint), "{error}");
    }
    assert_eq!(h.pending_requests().await, 1, "still waiting");
    assert_no_trace(&h, id).await;
    h.cleanup().await;
}

async fn bad_packages_are_refused_before_the_queue(engine: Engine) {
    let h = Harness::new(engine).await;
    let id = "lc/bad";
    let manifest = steady_manifest(id, "1.0.0", "");
    // Unsigned: refused unless the development setting is on.
    let unsigned = unsigned(&manifest, &[]).to_bytes().unwrap();
    let error = h
        .lifecycle
        .request_install(offer(unsigned.clone()), false, &admin())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("unsigned"), "{error}");
    // Signed by a key nobody trusts.
    let stranger = magflock_package::KeyPair::generate("Stranger");
    let mut package = support::unsigned(&manifest, &[]);
    package.sign(&stranger);
    let error = h
        .lifecycle
        .request_install(offer(package.to_bytes().unwrap()), false, &admin())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("not in the trust store"),
        "{error}"
    );
    // A file changed after signing.
    let mut tampered = support::unsigned(&manifest, &[]);
    tampered.sign(&h.key);
    tampered
        .files
        .insert("README.md".into(), b"changed after signing".to_vec());
    let error = h
        .lifecycle
        .request_install(offer(tampered.to_bytes().unwrap()), false, &admin())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("changed after it was signed"),
        "{error}"
    );
    // A kernel API this kernel does not serve.
    let future = manifest.replace("kernel_api = \"^0.1\"", "kernel_api = \"^2.0\"");
    let error = h
        .lifecycle
        .request_install(offer(h.package(&future, &[])), false, &admin())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("needs kernel API ^2.0"),
        "{error}"
    );
    // A dependency that is not there.
    let needy = steady_manifest(id, "1.0.0", "[dependencies]\n\"lc/base\" = \"^1\"\n");
    let error = h
        .lifecycle
        .request_install(offer(h.package(&needy, &[])), false, &admin())
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("needs lc/base ^1, which is neither installed nor in the plan"),
        "{error}"
    );
    // A component importing more than its manifest requests.
    let narrow = steady_manifest(id, "1.0.0", "").replace(
        "[[capabilities]]\nname = \"filesystem.temp_only\"\njustification = \"Keeps a scratch file.\"\n",
        "",
    );
    let error = h
        .lifecycle
        .request_install(offer(h.package(&narrow, &[])), false, &admin())
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("needs capability 'filesystem.temp_only' that its manifest does not request"),
        "{error}"
    );
    assert_eq!(h.pending_requests().await, 0);

    // Development mode lets the unsigned package through (flagged as such).
    h.trust.allow_unsigned.store(true, Ordering::SeqCst);
    let request = h
        .lifecycle
        .request_install(offer(unsigned), false, &admin())
        .await
        .unwrap();
    let plan: magflock_lifecycle::Plan = serde_json::from_str(&request.plan).unwrap();
    assert_eq!(plan.items[0].signature_level, "unsigned");
    h.cleanup().await;
}

async fn a_failing_install_leaves_no_trace_but_the_audit(engine: Engine) {
    let h = Harness::new(engine).await;
    // 1. Install() fails.
    let id = "lc/install-fails";
    h.set_kv(id, "fail-install", "yes").await;
    let error = h
        .install(h.package(&steady_manifest(id, "1.0.0", ""), TABLES))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, LifecycleError::Failed { step, .. } if step == "install_called"),
        "{error}"
    );
    assert_no_trace(&h, id).await;

    // 2. The second migration fails: the first one is undone too.
    let id = "lc/migration-fails";
    let broken = [
        TABLES[0],
        (
            "0002_broken",
            "CREATE TABLE tags (id INTEGER PRIMARY KEY); CREAT TABLE oops;",
            None,
        ),
    ];
    let error = h
        .install(h.package(&steady_manifest(id, "1.0.0", ""), &broken))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, LifecycleError::Failed { step, .. } if step == "migrating"),
        "{error}"
    );
    assert!(
        error.to_string().contains("0002_broken"),
        "names the migration: {error}"
    );
    assert_no_trace(&h, id).await;

    // 3. Health check #1 fails.
    let id = "lc/sick";
    h.set_kv(id, "health", "unhealthy").await;
    let error = h
        .install(h.package(&steady_manifest(id, "1.0.0", ""), TABLES))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, LifecycleError::Failed { step, .. } if step == "health check #1"),
        "{error}"
    );
    assert_no_trace(&h, id).await;
    let actions = h.audit_actions(id).await;
    assert!(
        actions.contains(&"extension.install_failed".to_string()),
        "{actions:?}"
    );
    assert!(
        h.event_types(id)
            .await
            .contains(&"extension.install_failed".to_string())
    );
    let failed = h.store.requests(Some(RequestStatus::Failed)).await.unwrap();
    assert_eq!(
        failed.len(),
        3,
        "each request is marked failed with its reason"
    );
    assert!(failed.iter().all(|r| {
        r.comment
            .as_deref()
            .is_some_and(|c| c.contains("failed at"))
    }));
    h.cleanup().await;
}

async fn an_unhealthy_enable_stays_disabled_with_an_alert(engine: Engine) {
    let h = Harness::new(engine).await;
    let id = "lc/unwell";
    let manifest = steady_manifest(id, "1.0.0", "[config]\nhealthy = false\n");
    h.install(h.package(&manifest, &[])).await.unwrap();
    let error = h.lifecycle.enable(id, &admin()).await.unwrap_err();
    assert!(error.to_string().contains("health check #2"), "{error}");
    assert!(error.to_string().contains("unhealthy"), "{error}");
    assert_eq!(
        h.lifecycle.extension(id).await.unwrap().state,
        ExtensionState::Disabled
    );
    assert!(h.sandbox.get(id).is_err());
    assert!(h.run(id, "ping").await.is_err(), "no code of it runs");
    let alerts = h.store.alerts(false).await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.extension == id && a.kind == "enable_failed"),
        "{alerts:?}"
    );
    assert!(
        h.event_types(id)
            .await
            .contains(&"extension.health_check.failed".to_string())
    );
    assert!(
        h.audit_actions(id)
            .await
            .contains(&"extension.enable_failed".to_string())
    );
    h.cleanup().await;
}

async fn disable_stops_it_and_uninstall_removes_everything(engine: Engine) {
    let h = Harness::new(engine).await;
    let id = "lc/leaving";
    h.install(h.package(&steady_manifest(id, "1.0.0", ""), TABLES))
        .await
        .unwrap();
    h.lifecycle.enable(id, &admin()).await.unwrap();
    assert_eq!(h.run(id, "ping").await.unwrap(), "pong");

    let error = h.lifecycle.uninstall(id, &admin()).await.unwrap_err();
    assert!(
        error.to_string().contains("disable it before uninstalling"),
        "{error}"
    );

    h.lifecycle.disable(id, &admin()).await.unwrap();
    assert_eq!(
        h.kv(id, "running").await.as_deref(),
        Some("no"),
        "Stop() ran"
    );
    assert!(
        h.run(id, "ping").await.is_err(),
        "no code runs once disabled"
    );
    assert!(
        h.registry
            .read()
            .unwrap()
            .handlers("wrap_request")
            .is_empty(),
        "hooks unregistered"
    );
    let view = h.lifecycle.extension(id).await.unwrap();
    assert_eq!(view.state, ExtensionState::Disabled);
    assert_eq!(h.applied(id).await.len(), 2, "still installed, data kept");

    let kept = h.lifecycle.uninstall(id, &admin()).await.unwrap();
    assert_eq!(kept, None, "every migration had a down script");
    assert_no_trace(&h, id).await;
    let actions = h.audit_actions(id).await;
    assert!(actions.contains(&"extension.disabled".to_string()));
    assert!(actions.contains(&"extension.uninstalled".to_string()));
    let events = h.event_types(id).await;
    assert!(
        events.contains(&"extension.disabled".to_string()),
        "{events:?}"
    );
    assert!(
        events.contains(&"extension.uninstalled".to_string()),
        "{events:?}"
    );

    // Without a down script the data stays, and the answer says where.
    let id = "lc/keeper";
    let one_way = [("0001_log", "CREATE TABLE log (line TEXT);", None)];
    h.install(h.package(&steady_manifest(id, "1.0.0", ""), &one_way))
        .await
        .unwrap();
    let kept = h.lifecycle.uninstall(id, &admin()).await.unwrap().unwrap();
    assert!(kept.contains("0001_log has no down script"), "{kept}");
    assert!(h.store.installation(id).await.unwrap().is_none());
    assert_eq!(h.applied(id).await, ["0001_log"]);
    h.cleanup().await;
}

async fn a_plan_installs_dependencies_first_and_guards_them(engine: Engine) {
    let h = Harness::new(engine).await;
    let base = h.package(&steady_manifest("lc/base", "1.2.0", ""), &[]);
    let app = h.package(
        &steady_manifest(
            "lc/app",
            "1.0.0",
            "[dependencies]\n\"lc/base\" = \"^1.1\"\n",
        ),
        &[],
    );
    let request = h
        .lifecycle
        .request_install(
            vec![
                Offered {
                    bytes: base,
                    required_by: vec!["lc/app".into()],
                },
                Offered {
                    bytes: app,
                    required_by: Vec::new(),
                },
            ],
            true,
            &admin(),
        )
        .await
        .unwrap();
    assert_eq!(request.extension, "lc/app");
    let plan: magflock_lifecycle::Plan = serde_json::from_str(&request.plan).unwrap();
    let order: Vec<&str> = plan.items.iter().map(|i| i.extension.as_str()).collect();
    assert_eq!(order, ["lc/base", "lc/app"]);
    assert_eq!(plan.items[0].required_by, ["lc/app"]);
    h.approve_all(&request).await.unwrap();
    for id in ["lc/base", "lc/app"] {
        assert_eq!(
            h.lifecycle.extension(id).await.unwrap().state,
            ExtensionState::Enabled,
            "{id}"
        );
    }
    h.lifecycle.disable("lc/base", &admin()).await.unwrap();
    let error = h
        .lifecycle
        .uninstall("lc/base", &admin())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("needed by lc/app"), "{error}");
    h.cleanup().await;
}

async fn restart_brings_enabled_extensions_back(engine: Engine) {
    let h = Harness::new(engine).await;
    let id = "lc/durable";
    h.install(h.package(&steady_manifest(id, "1.0.0", ""), &[]))
        .await
        .unwrap();
    h.lifecycle.enable(id, &admin()).await.unwrap();
    let other = "lc/resting";
    h.install(h.package(&steady_manifest(other, "1.0.0", ""), &[]))
        .await
        .unwrap();

    let h = h.restart().await;
    assert!(h.sandbox.get(id).is_err(), "nothing runs before boot");
    let boot = h.lifecycle.boot().await.unwrap();
    assert_eq!(boot.running, 1);
    assert!(boot.recovered.is_empty());
    assert_eq!(
        h.run(id, "metric").await.unwrap(),
        "counted",
        "grants restored"
    );
    assert_eq!(
        h.lifecycle.extension(other).await.unwrap().state,
        ExtensionState::Disabled
    );
    assert!(h.sandbox.get(other).is_err());
    h.cleanup().await;
}

on_both!(
    install_waits_for_approval_and_grants_a_subset,
    a_denied_request_leaves_nothing,
    approvals_cannot_exceed_the_request,
    bad_packages_are_refused_before_the_queue,
    a_failing_install_leaves_no_trace_but_the_audit,
    an_unhealthy_enable_stays_disabled_with_an_alert,
    disable_stops_it_and_uninstall_removes_everything,
    a_plan_installs_dependencies_first_and_guards_them,
    restart_brings_enabled_extensions_back,
);
