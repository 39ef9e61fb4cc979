//! Grants at run time, through the real kernel: each capability works only
//! once granted, a revocation is enforced on the very next call without
//! reloading anything, and a re-grant (after an admin re-enables the
//! quarantined extension) restores it. Grants are durable and audited.

mod support;

use magflock_kernel::policy_store::PolicyStore;
use magflock_kernel::{Capability, Denial, Grant, PolicyGate, Status};
use magflock_sandbox::{SandboxError, Stop};
use magflock_store::Store;
use magflock_types::{ActorKind, Outcome};
use std::io::{Read, Write};
use support::*;

fn violation(err: SandboxError) -> (Capability, Denial) {
    match err {
        SandboxError::Stopped {
            stop: Stop::CapabilityViolation {
                capability, denial, ..
            },
            ..
        } => (capability, denial),
        other => panic!("expected a capability violation, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_revoke_live_and_regrant() {
    let kernel = Kernel::new().await;
    kernel
        .install_enabled(parse(&manifest_text("steady")), "magflock-ext-steady")
        .await;

    // Requested, not yet granted: the call traps and quarantines.
    let (cap, denial) = violation(kernel.command(STEADY, "metric", &[]).await.unwrap_err());
    assert_eq!(
        (cap, denial),
        (Capability::SystemMetrics, Denial::NotGranted)
    );
    kernel.policy.enable(STEADY, &admin()).await.unwrap();

    kernel
        .policy
        .grant(STEADY, Grant::new(Capability::SystemMetrics), &admin())
        .await
        .unwrap();
    assert_eq!(
        kernel.command(STEADY, "metric", &[]).await.unwrap(),
        "counted"
    );
    assert_eq!(
        kernel.command(STEADY, "metric", &[]).await.unwrap(),
        "counted"
    );
    assert_eq!(kernel.metrics.counter(STEADY, "steady.pings"), 2);
    let loaded = kernel.sandbox.get(STEADY).unwrap();
    assert!(loaded.idle_instances() >= 1, "the instance stays warm");

    // Revoked while the warm instance is still there: the very next call traps.
    kernel
        .policy
        .revoke(STEADY, Capability::SystemMetrics, &admin())
        .await
        .unwrap();
    let (cap, denial) = violation(kernel.command(STEADY, "metric", &[]).await.unwrap_err());
    assert_eq!(
        (cap, denial),
        (Capability::SystemMetrics, Denial::NotGranted)
    );
    assert_eq!(
        kernel.metrics.counter(STEADY, "steady.pings"),
        2,
        "nothing happened"
    );
    assert!(matches!(
        kernel.gate.status(STEADY),
        Some(Status::Quarantined { .. })
    ));

    // An admin re-enables and re-grants: it works again.
    kernel.policy.enable(STEADY, &admin()).await.unwrap();
    kernel
        .policy
        .grant(STEADY, Grant::new(Capability::SystemMetrics), &admin())
        .await
        .unwrap();
    assert_eq!(
        kernel.command(STEADY, "metric", &[]).await.unwrap(),
        "counted"
    );
    assert_eq!(kernel.metrics.counter(STEADY, "steady.pings"), 3);

    // Every grant, revocation and host call is in the one audit log.
    let entries = kernel.audit_entries().await;
    let actions: Vec<(&str, ActorKind, Outcome)> = entries
        .iter()
        .map(|e| (e.action.as_str(), e.actor_kind, e.outcome))
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.0 == "extension.capability_granted")
            .count(),
        2
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.0 == "extension.capability_revoked")
            .count(),
        1
    );
    assert!(actions.contains(&(
        "extension.host_call",
        ActorKind::Extension,
        Outcome::Success
    )));
    assert!(actions.contains(&("extension.host_call", ActorKind::Extension, Outcome::Denied)));
    let granted = entries
        .iter()
        .find(|e| e.action == "extension.capability_granted")
        .unwrap();
    assert_eq!(granted.actor_kind, ActorKind::User);
    assert_eq!(granted.actor_label, "owner@example.test");
    assert!(granted.detail.contains("system.metrics"));
    let report = kernel.store.audit_verify().await.unwrap();
    assert!(
        report.first_broken.is_none(),
        "the chain verifies: {report:?}"
    );
    assert!(report.entries_checked >= 8);

    // The grant is durable: a fresh gate restored from the store has it.
    let stored = kernel.store.load_policies().await.unwrap();
    let fresh = PolicyGate::new();
    fresh.register(&parse(&manifest_text("steady")));
    for policy in &stored {
        fresh.restore(policy).unwrap();
    }
    assert_eq!(fresh.check(STEADY, Capability::SystemMetrics), Ok(()));
    assert_eq!(
        fresh.check(STEADY, Capability::ApiEmitEvents),
        Err(Denial::NotGranted)
    );
    kernel.db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_beyond_the_request_is_refused_and_changes_nothing() {
    let kernel = Kernel::new().await;
    kernel
        .install_enabled(parse(&manifest_text("steady")), "magflock-ext-steady")
        .await;
    let err = kernel
        .policy
        .grant(STEADY, Grant::new(Capability::DatabaseAdmin), &admin())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("database.admin"), "{err}");
    let err = kernel
        .policy
        .grant(
            STEADY,
            Grant::with_hosts(Capability::NetworkOutbound, &["evil.example"]),
            &admin(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("evil.example"), "{err}");
    assert!(kernel.gate.granted(STEADY).is_empty());
    let entries = kernel.audit_entries().await;
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.action == "extension.capability_granted" && e.outcome == Outcome::Failure)
            .count(),
        2
    );
    kernel.db.cleanup().await;
}

/// A one-shot HTTP server on 127.0.0.1 answering `hello from <path>`.
fn local_http_server() -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let thread = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 2048];
        let n = stream.read(&mut buf).unwrap();
        let request = String::from_utf8_lossy(&buf[..n]).to_string();
        let path = request.split_whitespace().nth(1).unwrap_or("?").to_string();
        let body = format!("hello from {path}");
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    });
    (port, thread)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_http_reaches_granted_hosts_only() {
    let kernel = Kernel::new().await;
    kernel
        .install_enabled(parse(&manifest_text("steady")), "magflock-ext-steady")
        .await;
    kernel
        .policy
        .grant(
            STEADY,
            Grant::with_hosts(Capability::NetworkOutbound, &["127.0.0.1"]),
            &admin(),
        )
        .await
        .unwrap();
    let (port, server) = local_http_server();
    let answer = kernel
        .command(
            STEADY,
            "fetch",
            &[&format!("http://127.0.0.1:{port}/status")],
        )
        .await
        .unwrap();
    assert_eq!(answer, "200 hello from /status");
    server.join().unwrap();

    // `localhost` is requested by the manifest but not in this grant.
    let (cap, denial) = violation(
        kernel
            .command(STEADY, "fetch", &["http://localhost:9/"])
            .await
            .unwrap_err(),
    );
    assert_eq!(cap, Capability::NetworkOutbound);
    assert_eq!(denial, Denial::HostNotAllowed("localhost".into()));
    kernel.db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temp_files_events_and_key_value_work_within_the_grant() {
    let kernel = Kernel::new().await;
    kernel
        .install_enabled(parse(&manifest_text("steady")), "magflock-ext-steady")
        .await;
    for cap in [Capability::FilesystemTempOnly, Capability::ApiEmitEvents] {
        kernel
            .policy
            .grant(STEADY, Grant::new(cap), &admin())
            .await
            .unwrap();
    }
    assert_eq!(
        kernel.command(STEADY, "scratch", &["notes"]).await.unwrap(),
        "notes"
    );
    let file = kernel
        .temp_root
        .path()
        .join("extensions-tmp")
        .join("magflock__steady")
        .join("scratch.txt");
    assert_eq!(std::fs::read_to_string(file).unwrap(), "notes");

    let event_id = kernel.command(STEADY, "publish", &[]).await.unwrap();
    let events = kernel.events().await;
    let event = events
        .iter()
        .find(|e| e.event_id == event_id)
        .expect("the published event is in the log");
    assert_eq!(event.event_type, "extension.steady.pinged");
    assert_eq!(event.source.extension.as_deref(), Some(STEADY));
    assert_eq!(event.data["ok"], true);

    // The key-value store needs no grant and is the extension's own.
    assert_eq!(
        kernel.command(STEADY, "remember", &["blue"]).await.unwrap(),
        "blue"
    );
    kernel.db.cleanup().await;
}
