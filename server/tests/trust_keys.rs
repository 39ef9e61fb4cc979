//! The trust store through MagUI's server functions, on both engines: admins
//! add and remove publisher keys (a tampered or malformed key is refused with
//! a message naming the field), only owners trust first-party keys or allow
//! unsigned packages, and every change is in the audit log.

mod support;

use magflock_app::AppError;
use magflock_app::api::trust::{ALLOW_UNSIGNED, KeyLevel, TrustOverview, TrustedKeyInfo};
use magflock_package::KeyPair;
use magflock_types::{AuditEntry, AuditFilter, Outcome, Role};
use support::TestServer;

const OWNER: &str = "owner@example.com";
const ADMIN: &str = "admin@example.com";
const AUDITOR: &str = "auditor@example.com";

fn key_text(pair: &KeyPair) -> String {
    serde_json::to_string_pretty(&pair.public_file()).unwrap()
}

async fn add(
    server: &TestServer,
    client: &reqwest::Client,
    key: String,
    level: KeyLevel,
) -> reqwest::Response {
    server
        .call(
            client,
            "/api/add_trusted_key",
            &[("key", key), ("level", level.as_str().to_string())],
        )
        .await
}

async fn overview(server: &TestServer, client: &reqwest::Client) -> TrustOverview {
    server.ok(client, "/api/list_trusted_keys", &[]).await
}

async fn refused(res: reqwest::Response, status: u16) -> AppError {
    assert_eq!(res.status(), status);
    res.json().await.unwrap()
}

async fn audited(server: &TestServer, action: &str) -> Vec<AuditEntry> {
    server
        .running()
        .store
        .audit_list(&AuditFilter {
            action: Some(action.into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .entries
}

async fn admins_manage_publisher_keys_and_only_owners_trust_first_party(
    server: TestServer,
) -> TestServer {
    server.add_user(OWNER, Role::Owner).await;
    server.add_user(ADMIN, Role::Admin).await;
    server.add_user(AUDITOR, Role::Auditor).await;
    let owner = server.signed_in(OWNER).await;
    let admin = server.signed_in(ADMIN).await;
    let auditor = server.signed_in(AUDITOR).await;
    let before = overview(&server, &admin).await.keys.len();

    // An admin trusts a publisher's key, pasted as `mag keys:generate` wrote it.
    let acme = KeyPair::generate("acme");
    let res = add(
        &server,
        &admin,
        key_text(&acme),
        KeyLevel::VerifiedPublisher,
    )
    .await;
    assert_eq!(res.status(), 200);
    let added: TrustedKeyInfo = res.json().await.unwrap();
    assert_eq!(added.key_id, acme.key_id());
    assert_eq!(added.publisher, "acme");
    assert_eq!(added.level, KeyLevel::VerifiedPublisher);
    assert_eq!(added.added_by.as_deref(), Some(ADMIN));

    // Everyone who may open Settings sees it; an auditor cannot add one.
    let listed = overview(&server, &auditor).await;
    assert_eq!(listed.keys.len(), before + 1);
    assert!(listed.keys.contains(&added), "{listed:?}");
    let other = KeyPair::generate("other");
    let res = add(
        &server,
        &auditor,
        key_text(&other),
        KeyLevel::VerifiedPublisher,
    )
    .await;
    assert_eq!(refused(res, 403).await, AppError::Forbidden);

    // The same key again says so.
    let res = add(
        &server,
        &admin,
        key_text(&acme),
        KeyLevel::VerifiedPublisher,
    )
    .await;
    let again = refused(res, 409).await;
    assert!(again.to_string().contains("already trusted"), "{again}");

    // A key id that is not the key's fingerprint is refused, naming the field.
    let mut tampered = other.public_file();
    tampered.key_id = acme.key_id();
    let res = add(
        &server,
        &admin,
        serde_json::to_string(&tampered).unwrap(),
        KeyLevel::VerifiedPublisher,
    )
    .await;
    assert_eq!(
        refused(res, 400).await,
        AppError::invalid("key", "key: key_id does not match the key")
    );
    let res = add(
        &server,
        &admin,
        "{\n  \"kind\": oops".into(),
        KeyLevel::VerifiedPublisher,
    )
    .await;
    let malformed = refused(res, 400).await;
    assert_eq!(malformed.field(), Some("key"));
    assert!(
        malformed
            .to_string()
            .starts_with("key: not valid JSON at line 2 column"),
        "{malformed}"
    );

    // First-party trust needs an owner.
    let first = KeyPair::generate("magflock");
    let res = add(&server, &admin, key_text(&first), KeyLevel::FirstParty).await;
    assert_eq!(refused(res, 403).await, AppError::Forbidden);
    let denied = audited(&server, "auth.permission_denied").await;
    assert!(
        denied
            .iter()
            .any(|e| e.actor_label == ADMIN && e.detail.contains("\"required_role\":\"owner\"")),
        "{denied:?}"
    );
    let res = add(&server, &owner, key_text(&first), KeyLevel::FirstParty).await;
    assert_eq!(res.status(), 200);
    let first_party: TrustedKeyInfo = res.json().await.unwrap();
    assert_eq!(first_party.level, KeyLevel::FirstParty);
    assert_eq!(overview(&server, &admin).await.keys.len(), before + 2);

    // The page lists both; only an owner is offered the first-party level.
    for (client, role) in [
        (&owner, Role::Owner),
        (&admin, Role::Admin),
        (&auditor, Role::Auditor),
    ] {
        let res = server.get(client, "/settings/keys").await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        for text in [
            "acme",
            acme.key_id().as_str(),
            first.key_id().as_str(),
            "Verified publisher",
            "First-party",
            ADMIN,
            "Allow unsigned packages (development only)",
        ] {
            assert!(html.contains(text), "{text} missing from the page");
        }
        assert_eq!(
            html.contains("value=\"first_party\""),
            role == Role::Owner,
            "first-party option for {role}"
        );
        assert_eq!(
            html.contains("Add a publisher key"),
            role.can_manage(),
            "add form for {role}"
        );
    }

    // Removing takes the key out of the trust store; a second removal finds nothing.
    let res = server
        .call(
            &admin,
            "/api/remove_trusted_key",
            &[("key_id", acme.key_id())],
        )
        .await;
    assert_eq!(res.status(), 200);
    let removed: TrustedKeyInfo = res.json().await.unwrap();
    assert_eq!(removed.key_id, acme.key_id());
    let listed = overview(&server, &admin).await;
    assert!(listed.keys.iter().all(|k| k.key_id != acme.key_id()));
    assert_eq!(listed.keys.len(), before + 1);
    let stored = server.running().store.trusted_keys().await.unwrap();
    assert!(stored.iter().all(|k| k.key_id != acme.key_id()));
    let res = server
        .call(
            &admin,
            "/api/remove_trusted_key",
            &[("key_id", acme.key_id())],
        )
        .await;
    assert_eq!(res.status(), 404);

    // The audit log has who did what, and nothing else of what was pasted.
    let added_entries = audited(&server, "trust.key_added").await;
    let by = |entries: &[AuditEntry], key_id: &str| {
        entries
            .iter()
            .filter(|e| e.target.as_deref() == Some(key_id))
            .map(|e| (e.actor_label.clone(), e.outcome, e.detail.clone()))
            .collect::<Vec<_>>()
    };
    let acme_added = by(&added_entries, &acme.key_id());
    assert_eq!(acme_added.len(), 1, "{added_entries:?}");
    assert_eq!(acme_added[0].0, ADMIN);
    assert_eq!(acme_added[0].1, Outcome::Success);
    let detail: serde_json::Value = serde_json::from_str(&acme_added[0].2).unwrap();
    assert_eq!(detail["publisher"], "acme");
    assert_eq!(detail["level"], "verified_publisher");
    let first_added = by(&added_entries, &first.key_id());
    assert_eq!(first_added.len(), 1, "{added_entries:?}");
    assert_eq!(first_added[0].0, OWNER);
    assert!(first_added[0].2.contains("\"level\":\"first_party\""));
    let removed_entries = audited(&server, "trust.key_removed").await;
    let acme_removed = by(&removed_entries, &acme.key_id());
    assert_eq!(acme_removed.len(), 1, "{removed_entries:?}");
    assert_eq!(acme_removed[0].0, ADMIN);
    assert!(acme_removed[0].2.contains("\"publisher\":\"acme\""));
    assert!(
        by(&added_entries, &other.key_id()).is_empty(),
        "refusals add nothing"
    );
    server
}

async fn set(server: &TestServer, client: &reqwest::Client, allow: bool) -> reqwest::Response {
    server
        .call(
            client,
            "/api/set_allow_unsigned",
            &[("allow", allow.to_string())],
        )
        .await
}

async fn only_owners_allow_unsigned_packages(server: TestServer) -> TestServer {
    // The page writes the very setting the lifecycle manager reads.
    assert_eq!(ALLOW_UNSIGNED, magflock_server::trust::ALLOW_UNSIGNED);
    server.add_user(OWNER, Role::Owner).await;
    server.add_user(ADMIN, Role::Admin).await;
    let owner = server.signed_in(OWNER).await;
    let admin = server.signed_in(ADMIN).await;
    let stored = || async {
        server
            .running()
            .store
            .settings_all()
            .await
            .unwrap()
            .into_iter()
            .find(|(key, _)| key == ALLOW_UNSIGNED)
            .map(|(_, value)| value)
    };

    assert!(!overview(&server, &admin).await.allow_unsigned);
    assert_eq!(
        refused(set(&server, &admin, true).await, 403).await,
        AppError::Forbidden
    );
    assert!(!overview(&server, &admin).await.allow_unsigned);
    assert_ne!(stored().await.as_deref(), Some("true"));

    let res = set(&server, &owner, true).await;
    assert_eq!(res.status(), 200);
    assert!(res.json::<bool>().await.unwrap());
    assert!(overview(&server, &admin).await.allow_unsigned);
    assert_eq!(stored().await.as_deref(), Some("true"));
    let page = server
        .get(&admin, "/settings/keys")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("data-state=\"on\"") && page.contains("Unsigned packages can be installed")
    );
    // An admin cannot turn it off either; the owner can.
    assert_eq!(
        refused(set(&server, &admin, false).await, 403).await,
        AppError::Forbidden
    );
    let res = set(&server, &owner, false).await;
    assert_eq!(res.status(), 200);
    assert!(!overview(&server, &admin).await.allow_unsigned);
    assert_eq!(stored().await.as_deref(), Some("false"));

    let changes: Vec<serde_json::Value> = audited(&server, "settings.updated")
        .await
        .into_iter()
        .filter(|e| e.actor_label == OWNER && e.outcome == Outcome::Success)
        .map(|e| serde_json::from_str(&e.detail).unwrap())
        .collect();
    let on = serde_json::json!({ALLOW_UNSIGNED: {"from": false, "to": true}});
    let off = serde_json::json!({ALLOW_UNSIGNED: {"from": true, "to": false}});
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(
        changes.contains(&on) && changes.contains(&off),
        "{changes:?}"
    );
    server
}

on_both_engines!(
    admins_manage_publisher_keys_and_only_owners_trust_first_party,
    only_owners_allow_unsigned_packages,
);
