//! MagAuth's hooks in the real server, with the warden test extension:
//! `permission_resolver` narrowing MagUI's role check (never widening it, and
//! never offered a platform refusal), `audit_emitter` offered every entry
//! MagUI records (and not the hook runs' own), and `role_template` fired by
//! the `auth-roles.define-role` host call, whose templates admins can list;
//! and the warden's contributed sign-in providers, validated when admins list
//! them, each valid one announced by the `register_*_provider` hook of its
//! protocol.

mod support;

use magflock_kernel::kv::KeyValueStore;
use magflock_types::{AuditFilter, Role};
use serde_json::{Value, json};
use std::time::Duration;
use support::{TestServer, install_guest};

const WARDEN: &str = "test/warden";

async fn with_warden(server: TestServer) -> TestServer {
    server.add_user("owner@example.test", Role::Owner).await;
    server.add_user("admin@example.test", Role::Admin).await;
    server.add_user("auditor@example.test", Role::Auditor).await;
    install_guest(server.running(), "warden", true).await;
    server
}

/// What the warden kept under `key` in its key-value store.
async fn kept(server: &TestServer, key: &str) -> Vec<Value> {
    server
        .running()
        .kernel
        .store
        .kv_get(WARDEN, key)
        .await
        .unwrap()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Waits (up to 5 s) until what the warden kept under `key` satisfies `done`.
async fn kept_until(server: &TestServer, key: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..50 {
        let list = kept(server, key).await;
        if done(&list) {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    kept(server, key).await
}

async fn status_of(server: &TestServer, client: &reqwest::Client, path: &str) -> (u16, Value) {
    let response = server.call(client, path, &[]).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn define_role(server: &TestServer, args: &[&str]) -> Result<String, String> {
    warden_command(server, "define-role", args).await
}

async fn warden_command(
    server: &TestServer,
    command: &str,
    args: &[&str],
) -> Result<String, String> {
    let loaded = server
        .running()
        .kernel
        .sandbox
        .get(WARDEN)
        .map_err(|e| e.to_string())?;
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let command = command.to_string();
    tokio::task::spawn_blocking(move || {
        loaded
            .run_command(&command, &args, magflock_sandbox::CallMode::Warm)
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap()
}

on_both_engines!(
    permission_resolver_narrows_but_never_widens,
    audit_emitter_hears_each_recorded_entry_once,
    role_templates_are_stored_listed_and_announced,
    sign_in_providers_are_checked_listed_and_registered,
);

async fn permission_resolver_narrows_but_never_widens(server: TestServer) -> TestServer {
    let server = with_warden(server).await;
    let owner = server.signed_in("owner@example.test").await;
    let auditor = server.signed_in("auditor@example.test").await;

    // The platform allows it; the warden denies it: refused and audited.
    let (status, _) = status_of(&server, &auditor, "/api/verify_audit_chain").await;
    assert_eq!(status, 403);
    let denied = server
        .running()
        .store
        .audit_list(&AuditFilter {
            action: Some("auth.permission_denied".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .entries;
    assert_eq!(denied.len(), 1, "{denied:?}");
    let detail: Value = serde_json::from_str(&denied[0].detail).unwrap();
    assert_eq!(detail["extension"], WARDEN);
    assert_eq!(denied[0].target.as_deref(), Some("/api/verify_audit_chain"));

    // Others are still allowed (the warden's try to widen changes nothing).
    assert_eq!(
        status_of(&server, &owner, "/api/verify_audit_chain")
            .await
            .0,
        200
    );
    assert_eq!(
        status_of(&server, &auditor, "/api/dashboard_summary")
            .await
            .0,
        200
    );

    // A platform refusal stands and is never offered to the resolver.
    assert_eq!(status_of(&server, &auditor, "/api/list_users").await.0, 403);
    let seen = kept(&server, "resolver_seen").await;
    assert!(seen.contains(&json!("/api/dashboard_summary")), "{seen:?}");
    assert!(!seen.contains(&json!("/api/list_users")), "{seen:?}");
    server
}

async fn audit_emitter_hears_each_recorded_entry_once(server: TestServer) -> TestServer {
    let server = with_warden(server).await;
    let owner = server.signed_in("owner@example.test").await;
    assert_eq!(
        status_of(&server, &owner, "/api/verify_audit_chain")
            .await
            .0,
        200
    );

    let seen = kept_until(&server, "audit_seen", |list| {
        list.contains(&json!("audit.chain_verified"))
    })
    .await;
    assert!(seen.contains(&json!("audit.chain_verified")), "{seen:?}");
    // Offered once each, and never the hook runs it caused.
    let verified = seen
        .iter()
        .filter(|a| **a == json!("audit.chain_verified"))
        .count();
    assert_eq!(verified, 1, "{seen:?}");
    assert!(
        !seen
            .iter()
            .any(|a| a.as_str().is_some_and(|a| a.starts_with("extension."))),
        "{seen:?}"
    );
    server
}

async fn role_templates_are_stored_listed_and_announced(server: TestServer) -> TestServer {
    let server = with_warden(server).await;
    define_role(&server, &["reviewer", "audit.read", "dashboard.read"])
        .await
        .unwrap();
    // A template cannot take a platform role's name.
    let err = define_role(&server, &["owner", "everything"])
        .await
        .unwrap_err();
    assert!(err.contains("platform role"), "{err}");

    let admin = server.signed_in("admin@example.test").await;
    let (status, list) = status_of(&server, &admin, "/api/list_role_templates").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list,
        json!([{"extension": WARDEN, "name": "reviewer", "permissions": ["audit.read", "dashboard.read"]}])
    );
    let auditor = server.signed_in("auditor@example.test").await;
    assert_eq!(
        status_of(&server, &auditor, "/api/list_role_templates")
            .await
            .0,
        403
    );

    // role_template told the handlers what was defined.
    let heard = kept_until(&server, "templates_heard", |list| !list.is_empty()).await;
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert_eq!(heard[0]["project_id"], Value::Null);
    assert_eq!(heard[0]["roles"][0]["name"], "reviewer");
    assert_eq!(heard[0]["roles"][0]["extension"], WARDEN);
    server
}

async fn sign_in_providers_are_checked_listed_and_registered(server: TestServer) -> TestServer {
    let server = with_warden(server).await;
    let admin = server.signed_in("admin@example.test").await;
    let (status, list) = status_of(&server, &admin, "/api/list_sign_in_providers").await;
    assert_eq!(status, 200, "{list}");
    // The configuration's secret is never shown.
    assert!(!list.to_string().contains("warden-secret"), "{list}");
    let list = list.as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["broken", "corp-oidc", "corp-saml", "corp-sso"]);
    let by_id = |id: &str| list.iter().find(|p| p["id"] == id).unwrap().clone();

    let broken = by_id("broken");
    assert_eq!(broken["valid"], false);
    assert_eq!(
        broken["status"],
        "invalid: issuer must be an https or http URL"
    );
    let oidc = by_id("corp-oidc");
    assert_eq!(oidc["valid"], true);
    assert_eq!(oidc["extension"], WARDEN);
    assert_eq!(oidc["title"], "Corp OIDC");
    assert_eq!(oidc["protocol"], "oidc");
    assert_eq!(oidc["issuer"], "https://id.corp.example");
    assert_eq!(oidc["client_id"], "magflock");
    assert!(
        oidc["status"].as_str().unwrap().contains("MAGFLOCK_OIDC_"),
        "{oidc}"
    );
    let saml = by_id("corp-saml");
    assert_eq!(saml["valid"], true);
    assert!(
        saml["status"]
            .as_str()
            .unwrap()
            .contains("SAML sign-in is not available in this build"),
        "{saml}"
    );
    let sso = by_id("corp-sso");
    assert_eq!(sso["valid"], true);
    assert!(
        sso["status"].as_str().unwrap().contains("not available"),
        "{sso}"
    );

    // Each valid provider was announced once, by its protocol's hook.
    let heard: Value = serde_json::from_str(
        &warden_command(&server, "providers-heard", &[])
            .await
            .unwrap(),
    )
    .unwrap();
    let mut heard: Vec<Value> = heard.as_array().unwrap().clone();
    heard.sort_by_key(|h| h["realm"].as_str().unwrap_or_default().to_string());
    assert_eq!(
        heard,
        vec![
            json!({"hook": "register_oidc_provider", "realm": "corp-oidc", "extension": WARDEN, "protocol": "oidc"}),
            json!({"hook": "register_saml_provider", "realm": "corp-saml", "extension": WARDEN, "protocol": "saml"}),
            json!({"hook": "register_sso_provider", "realm": "corp-sso", "extension": WARDEN, "protocol": "sso"}),
        ]
    );

    let auditor = server.signed_in("auditor@example.test").await;
    assert_eq!(
        status_of(&server, &auditor, "/api/list_sign_in_providers")
            .await
            .0,
        403
    );
    // Refused before anything was asked of the extensions.
    assert_eq!(kept(&server, "providers_heard").await.len(), 3);
    server
}
