//! The health monitor: thresholds disable an extension with an alert; a
//! failing health check restarts it with back-off, then gives up and
//! disables it; a quarantine raises one alert.

mod support;

use magflock_kernel::lifecycle_store::LifecycleStore;
use magflock_kernel::{Capability, Grant};
use magflock_lifecycle::ExtensionState;
use magflock_store::Engine;
use std::time::Duration;
use support::*;

async fn enabled(h: &Harness, id: &str) {
    h.install(h.package(&steady_manifest(id, "1.0.0", ""), &[]))
        .await
        .unwrap();
    h.lifecycle.enable(id, &admin()).await.unwrap();
}

async fn a_high_error_rate_disables_with_an_alert(engine: Engine) {
    let h = Harness::new(engine).await;
    let id = "mon/errors";
    enabled(&h, id).await;
    let quiet = h.lifecycle.monitor_round().await;
    assert_eq!(quiet.checked, 1);
    assert!(quiet.disabled.is_empty());
    for _ in 0..30 {
        assert!(h.run(id, "no-such-command").await.is_err());
    }
    let report = h.lifecycle.monitor_round().await;
    assert_eq!(report.disabled.len(), 1, "{report:?}");
    assert!(
        report.disabled[0]
            .1
            .contains("error rate 97% over 31 calls exceeds 50%"),
        "{report:?}"
    );
    assert_eq!(
        h.lifecycle.extension(id).await.unwrap().state,
        ExtensionState::Disabled
    );
    assert!(h.run(id, "ping").await.is_err());
    let alerts = h.store.alerts(false).await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.extension == id && a.kind == "auto_disabled"),
        "{alerts:?}"
    );
    let events = h.event_types(id).await;
    assert!(
        events.contains(&"extension.health_check.failed".to_string()),
        "{events:?}"
    );
    assert!(
        events.contains(&"extension.disabled".to_string()),
        "{events:?}"
    );
    assert!(
        h.audit_actions(id)
            .await
            .contains(&"extension.auto_disabled".to_string())
    );

    // An admin re-enables after looking; the old figures do not count again.
    h.lifecycle.enable(id, &admin()).await.unwrap();
    assert!(h.lifecycle.monitor_round().await.disabled.is_empty());
    h.cleanup().await;
}

async fn a_flapping_extension_is_restarted_with_back_off_then_disabled(engine: Engine) {
    let h = Harness::with(engine, |c| {
        c.health_interval = Duration::from_millis(300);
        c.thresholds.max_restarts = 3;
    })
    .await;
    let id = "mon/flaps";
    enabled(&h, id).await;
    h.set_kv(id, "health", "unhealthy").await;
    let pause = || tokio::time::sleep(Duration::from_millis(350));

    let round = h.lifecycle.monitor_round().await;
    assert_eq!(
        round.restarted,
        [id],
        "first failure: restart at once: {round:?}"
    );
    let round = h.lifecycle.monitor_round().await;
    assert_eq!(round.backing_off, [id], "then wait one interval: {round:?}");
    pause().await;
    let round = h.lifecycle.monitor_round().await;
    assert_eq!(round.restarted, [id], "{round:?}");
    pause().await;
    let round = h.lifecycle.monitor_round().await;
    assert_eq!(
        round.backing_off,
        [id],
        "the second wait is two intervals: {round:?}"
    );
    pause().await;
    let round = h.lifecycle.monitor_round().await;
    assert_eq!(round.restarted, [id], "{round:?}");
    let round = h.lifecycle.monitor_round().await;
    assert_eq!(round.disabled.len(), 1, "restarts exhausted: {round:?}");
    assert!(
        round.disabled[0].1.contains("after 3 restarts"),
        "{round:?}"
    );
    assert_eq!(
        h.lifecycle.extension(id).await.unwrap().state,
        ExtensionState::Disabled
    );
    let restarts = h
        .audit_actions(id)
        .await
        .into_iter()
        .filter(|a| a == "extension.restarted")
        .count();
    assert_eq!(restarts, 3);
    h.cleanup().await;
}

async fn a_quarantine_raises_one_alert(engine: Engine) {
    let h = Harness::new(engine).await;
    let id = "mon/trapped";
    enabled(&h, id).await;
    h.lifecycle
        .revoke(id, Capability::SystemMetrics, &admin())
        .await
        .unwrap();
    assert!(
        h.run(id, "metric").await.is_err(),
        "the call without a grant traps"
    );
    assert_eq!(
        h.lifecycle.extension(id).await.unwrap().state,
        ExtensionState::Quarantined
    );
    h.lifecycle.monitor_round().await;
    h.lifecycle.monitor_round().await;
    let alerts: Vec<_> = h
        .store
        .alerts(false)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.extension == id && a.kind == "quarantined")
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].message.contains("system.metrics"), "{alerts:?}");

    // The admin looks, grants again and re-enables: it runs.
    h.lifecycle
        .grant(id, Grant::new(Capability::SystemMetrics), &admin())
        .await
        .unwrap();
    h.lifecycle.enable(id, &admin()).await.unwrap();
    assert_eq!(
        h.lifecycle.extension(id).await.unwrap().state,
        ExtensionState::Enabled
    );
    assert_eq!(h.run(id, "metric").await.unwrap(), "counted");
    h.cleanup().await;
}

on_both!(
    a_high_error_rate_disables_with_an_alert,
    a_flapping_extension_is_restarted_with_back_off_then_disabled,
    a_quarantine_raises_one_alert,
);
