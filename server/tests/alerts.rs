//! Alerts from the lifecycle manager in MagUI, on both engines: everyone signed
//! in sees the open ones (newest first) on the Dashboard and as a count in the
//! header; only owners and admins acknowledge them, once each, and each
//! acknowledgement is in the audit log.

mod support;

use magflock_app::AppError;
use magflock_app::api::alerts::AlertInfo;
use magflock_kernel::lifecycle_store::LifecycleStore;
use magflock_types::{AuditFilter, Outcome, Role};
use support::TestServer;

const OWNER: &str = "owner@example.com";
const ADMIN: &str = "admin@example.com";
const AUDITOR: &str = "auditor@example.com";

const DISABLED_MESSAGE: &str =
    "disabled automatically: error rate 80% over the 5% limit; enable it again after looking";
const QUARANTINED_MESSAGE: &str = "stopped by the kernel: ran out of fuel";

async fn list(server: &TestServer, client: &reqwest::Client, all: bool) -> Vec<AlertInfo> {
    server
        .ok(client, "/api/list_alerts", &[("all", &all.to_string())])
        .await
}

async fn acknowledge(server: &TestServer, client: &reqwest::Client, id: i64) -> reqwest::Response {
    server
        .call(client, "/api/acknowledge_alert", &[("id", id.to_string())])
        .await
}

async fn dashboard(server: &TestServer, client: &reqwest::Client) -> String {
    let res = server.get(client, "/").await;
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

async fn admins_acknowledge_the_alerts_everyone_sees(server: TestServer) -> TestServer {
    server.add_user(OWNER, Role::Owner).await;
    server.add_user(ADMIN, Role::Admin).await;
    server.add_user(AUDITOR, Role::Auditor).await;
    let admin = server.signed_in(ADMIN).await;
    let auditor = server.signed_in(AUDITOR).await;

    // Nothing raised yet: an empty state and no badge.
    assert!(list(&server, &auditor, false).await.is_empty());
    let page = dashboard(&server, &auditor).await;
    assert!(page.contains("data-testid=\"no-alerts\""), "{page}");
    assert!(!page.contains("data-testid=\"alert-badge\""));

    // The lifecycle manager raises alerts through its store.
    let lifecycle = server.running().kernel.store.clone();
    let disabled = lifecycle
        .alert_raise("acme.steady", "auto_disabled", DISABLED_MESSAGE)
        .await
        .unwrap();
    let quarantined = lifecycle
        .alert_raise("acme.hostile", "quarantined", QUARANTINED_MESSAGE)
        .await
        .unwrap();

    // An auditor sees both, newest first.
    let open = list(&server, &auditor, false).await;
    assert_eq!(
        open.iter().map(|a| a.id).collect::<Vec<_>>(),
        [quarantined, disabled]
    );
    assert_eq!(open[0].extension, "acme.hostile");
    assert_eq!(open[0].kind, "quarantined");
    assert_eq!(open[0].kind_label(), "Quarantined");
    assert_eq!(open[0].message, QUARANTINED_MESSAGE);
    assert_eq!(open[1].kind_label(), "Disabled automatically");
    assert!(open.iter().all(|a| a.acknowledged_by.is_none()));

    // The Dashboard and its header say so; an auditor gets no button.
    let page = dashboard(&server, &auditor).await;
    for text in [
        "id=\"alerts\"",
        "Disabled automatically",
        "Quarantined",
        "acme.steady",
        "acme.hostile",
        DISABLED_MESSAGE,
        QUARANTINED_MESSAGE,
        "data-testid=\"alert-badge\"",
        "data-count=\"2\"",
        "aria-label=\"2 unacknowledged alerts\"",
        "href=\"/#alerts\"",
    ] {
        assert!(page.contains(text), "{text} missing from the Dashboard");
    }
    // Rendered as rows (not only in the data sent along for hydration).
    for (id, kind, message) in [
        (quarantined, "quarantined", QUARANTINED_MESSAGE),
        (disabled, "auto_disabled", DISABLED_MESSAGE),
    ] {
        assert!(page.contains(&format!("data-alert-id=\"{id}\" data-kind=\"{kind}\"")));
        assert!(page.contains(&format!(">{message}<")));
    }
    assert!(page.find(QUARANTINED_MESSAGE) < page.find(DISABLED_MESSAGE));
    assert!(!page.contains("no-alerts"));
    assert!(!page.contains("Acknowledge alert:"));

    // An auditor cannot acknowledge; nothing changes.
    let res = acknowledge(&server, &auditor, disabled).await;
    assert_eq!(res.status(), 403);
    assert_eq!(res.json::<AppError>().await.unwrap(), AppError::Forbidden);
    assert_eq!(list(&server, &admin, false).await.len(), 2);

    // An admin sees the buttons and acknowledges one.
    let page = dashboard(&server, &admin).await;
    assert!(page.contains("Acknowledge alert: Disabled automatically for acme.steady"));
    assert!(page.contains("Acknowledge alert: Quarantined for acme.hostile"));
    let res = acknowledge(&server, &admin, disabled).await;
    assert_eq!(res.status(), 200);
    let done: AlertInfo = res.json().await.unwrap();
    assert_eq!(done.id, disabled);
    assert_eq!(done.extension, "acme.steady");
    assert_eq!(done.acknowledged_by.as_deref(), Some(ADMIN));

    // The list shrinks; the acknowledged one stays in the full list.
    let open = list(&server, &auditor, false).await;
    assert_eq!(open.iter().map(|a| a.id).collect::<Vec<_>>(), [quarantined]);
    let all = list(&server, &auditor, true).await;
    assert_eq!(all.len(), 2);
    let acknowledged = all.iter().find(|a| a.id == disabled).unwrap();
    assert_eq!(acknowledged.acknowledged_by.as_deref(), Some(ADMIN));

    // A second acknowledgement, or of an alert that never was, finds nothing.
    let res = acknowledge(&server, &admin, disabled).await;
    assert_eq!(res.status(), 404);
    let gone = res.json::<AppError>().await.unwrap();
    assert!(gone.to_string().contains("already acknowledged"), "{gone}");
    assert_eq!(
        acknowledge(&server, &admin, 987_654_321).await.status(),
        404
    );

    // The audit log has who acknowledged what.
    let entries = server
        .running()
        .store
        .audit_list(&AuditFilter {
            action: Some("extension.alert_acknowledged".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .entries;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(entry.action, "extension.alert_acknowledged");
    assert_eq!(entry.actor_label, ADMIN);
    assert_eq!(entry.target.as_deref(), Some("acme.steady"));
    assert_eq!(entry.outcome, Outcome::Success);
    let detail: serde_json::Value = serde_json::from_str(&entry.detail).unwrap();
    assert_eq!(detail["kind"], "auto_disabled");
    assert_eq!(detail["alert_id"], disabled);

    // The Dashboard now shows only the open one, and the badge counts one.
    let page = dashboard(&server, &auditor).await;
    assert!(page.contains(&format!(">{QUARANTINED_MESSAGE}<")));
    assert!(!page.contains(DISABLED_MESSAGE));
    assert!(!page.contains("Disabled automatically"));
    assert!(page.contains("data-count=\"1\""));
    assert!(page.contains("aria-label=\"1 unacknowledged alert\""));

    // An owner acknowledges the last; the empty state returns, the badge goes.
    let owner = server.signed_in(OWNER).await;
    assert_eq!(
        acknowledge(&server, &owner, quarantined).await.status(),
        200
    );
    assert!(list(&server, &auditor, false).await.is_empty());
    let page = dashboard(&server, &owner).await;
    assert!(page.contains("data-testid=\"no-alerts\""));
    assert!(!page.contains("data-testid=\"alert-badge\""));
    // Other pages carry the (hidden) badge without breaking.
    assert_eq!(server.get(&auditor, "/audit").await.status(), 200);
    server
}

on_both_engines!(admins_acknowledge_the_alerts_everyone_sees);
