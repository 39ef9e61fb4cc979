//! MagAuth's hooks in the real server, with the warden test extension:
//! `permission_resolver` narrowing MagUI's and the admin API's role checks
//! (never widening them, and never offered a platform refusal),
//! `audit_emitter` offered every stored entry once, MagUI's and the kernel
//! writer's alike, but never those its own work records (no loop), and
//! `role_template` fired by
//! the `auth-roles.define-role` host call, whose templates admins can list;
//! and the warden's contributed sign-in providers, validated when admins list
//! them, each valid one announced by the `register_*_provider` hook of its
//! protocol.

mod support;

use magflock_kernel::bus::ReplayFrom;
use magflock_kernel::kv::KeyValueStore;
use magflock_types::{AuditEntry, AuditFilter, Role};
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

/// A personal access token of `email` (made in a browser session), as `mag` uses.
async fn token_of(server: &TestServer, email: &str) -> String {
    let browser = server.signed_in(email).await;
    let made: Value = browser
        .post(format!("{}/gateway/v1/tokens", server.base))
        .json(&json!({"name": "script"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    made["token"].as_str().expect("a token").to_string()
}

/// Calls the admin API with `token`.
async fn admin_api(
    server: &TestServer,
    token: &str,
    method: reqwest::Method,
    path: &str,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method, format!("{}/gateway{path}", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Every audit entry after `after`, oldest first.
async fn entries_after(server: &TestServer, after: i64) -> Vec<AuditEntry> {
    let page = server
        .running()
        .store
        .audit_list(&AuditFilter {
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let mut entries: Vec<AuditEntry> = page.entries.into_iter().filter(|e| e.seq > after).collect();
    entries.reverse();
    entries
}

/// How many entries the warden was offered once they stop coming (the
/// count unchanged for 1.5 s; at most 20 s).
async fn offers_when_quiet(server: &TestServer) -> u64 {
    let count = || async {
        server
            .running()
            .kernel
            .store
            .kv_get(WARDEN, "audit_offers")
            .await
            .unwrap()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (mut last, mut same) = (count().await, 0);
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = count().await;
        same = if now == last { same + 1 } else { 0 };
        last = now;
        if same == 3 {
            return now;
        }
    }
    panic!("the warden is still being offered entries after 20 s ({last} so far): a loop?");
}

on_both_engines!(
    permission_resolver_narrows_but_never_widens,
    permission_resolver_narrows_admin_api_calls_too,
    audit_emitter_hears_every_entry_once_but_never_its_own_work,
    role_templates_are_stored_listed_and_announced,
    sign_in_providers_are_checked_listed_and_registered,
);

async fn permission_resolver_narrows_but_never_widens(server: TestServer) -> TestServer {
    let server = with_warden(server).await;
    let owner = server.signed_in("owner@example.test").await;
    let auditor = server.signed_in("auditor@example.test").await;

    // The platform allows it; the warden denies it: refused and audited.
    let (status, _) = server
        .status_json(&auditor, "/api/verify_audit_chain", &[])
        .await;
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
        server
            .status_json(&owner, "/api/verify_audit_chain", &[])
            .await
            .0,
        200
    );
    assert_eq!(
        server
            .status_json(&auditor, "/api/dashboard_summary", &[])
            .await
            .0,
        200
    );

    // A platform refusal stands and is never offered to the resolver.
    assert_eq!(
        server.status_json(&auditor, "/api/list_users", &[]).await.0,
        403
    );
    let seen = kept(&server, "resolver_seen").await;
    assert!(seen.contains(&json!("/api/dashboard_summary")), "{seen:?}");
    assert!(!seen.contains(&json!("/api/list_users")), "{seen:?}");
    server
}

async fn permission_resolver_narrows_admin_api_calls_too(server: TestServer) -> TestServer {
    let server = with_warden(server).await;
    let owner = token_of(&server, "owner@example.test").await;
    let auditor = token_of(&server, "auditor@example.test").await;
    let get = reqwest::Method::GET;

    // Any role may verify the chain; the warden refuses auditors: a 403 with its reason.
    let (status, body) = admin_api(&server, &auditor, get.clone(), "/v1/audit/verify").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "denied", "{body}");
    assert_eq!(body["extension"], WARDEN, "{body}");
    assert_eq!(
        body["reason"], "the warden keeps auditors from re-checking the chain",
        "{body}"
    );
    // Audited as a refusal naming the extension, and published.
    let mut denied = Vec::new();
    for _ in 0..50 {
        denied = entries_after(&server, 0)
            .await
            .into_iter()
            .filter(|e| e.action == "auth.permission_denied")
            .collect();
        if !denied.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0].actor_label, "auditor@example.test");
    assert_eq!(denied[0].target.as_deref(), Some("/v1/audit/verify"));
    let detail: Value = serde_json::from_str(&denied[0].detail).unwrap();
    assert_eq!(detail["extension"], WARDEN, "{detail}");
    assert_eq!(detail["via"], "maggate", "{detail}");
    let events = server
        .running()
        .kernel
        .bus
        .replay(ReplayFrom::Seq(0), 1000)
        .await
        .unwrap();
    let published: Vec<&Value> = events
        .iter()
        .filter(|l| l.event.event_type == "auth.permission.denied")
        .map(|l| &l.event.data)
        .collect();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0]["path"], "/v1/audit/verify");
    assert_eq!(published[0]["extension"], WARDEN);

    // Only that is narrowed: the owner verifies, the auditor reads the log.
    let (status, body) = admin_api(&server, &owner, get.clone(), "/v1/audit/verify").await;
    assert_eq!((status, &body["intact"]), (200, &json!(true)), "{body}");
    assert_eq!(
        admin_api(&server, &auditor, get.clone(), "/v1/audit")
            .await
            .0,
        200
    );

    // The warden's try to widen (roles: owner) changes nothing: an auditor's
    // change is still refused by the platform, and never offered to it.
    let (status, body) = admin_api(
        &server,
        &auditor,
        reqwest::Method::POST,
        "/v1/extensions/test/warden/disable",
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (403, &json!("forbidden")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("admin role"),
        "{body}"
    );
    let seen = kept(&server, "resolver_seen").await;
    for offered in ["/v1/audit/verify", "/v1/audit", "/v1/tokens"] {
        assert!(seen.contains(&json!(offered)), "{offered} in {seen:?}");
    }
    assert!(
        !seen.contains(&json!("/v1/extensions/test/warden/disable")),
        "{seen:?}"
    );
    server
}

async fn audit_emitter_hears_every_entry_once_but_never_its_own_work(
    server: TestServer,
) -> TestServer {
    let server = with_warden(server).await;
    // From here on, every entry is stored with the warden handling audit_emitter.
    let marker = entries_after(&server, 0).await.last().map_or(0, |e| e.seq);

    // MagUI's entries (a sign-in, a chain check) and the kernel's (the
    // permission_resolver run, the gateway's refusal of an auditor).
    let owner = server.signed_in("owner@example.test").await;
    assert_eq!(
        server
            .status_json(&owner, "/api/verify_audit_chain", &[])
            .await
            .0,
        200
    );
    let auditor = server.signed_in("auditor@example.test").await;
    let refused = auditor
        .post(format!(
            "{}/gateway/v1/extensions/test/warden/disable",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    let offers = offers_when_quiet(&server).await;
    let stored = entries_after(&server, marker).await;
    let own = |e: &AuditEntry| {
        e.actor_id.as_deref() == Some(WARDEN)
            && matches!(
                (e.action.as_str(), e.target.as_deref()),
                ("extension.hook_run", Some("audit_emitter"))
                    | ("extension.host_call", Some("auth.audit_access"))
            )
    };
    // The handler's own work was recorded (its runs and its audit reads)...
    assert!(stored.iter().filter(|e| own(e)).count() >= 2, "{stored:?}");
    // ...and every other entry was offered exactly once.
    let expected: Vec<i64> = stored.iter().filter(|e| !own(e)).map(|e| e.seq).collect();
    let seen = kept(&server, "audit_seen").await;
    assert!(
        seen.len() < 200,
        "the warden keeps only 200: {}",
        seen.len()
    );
    let mut offered: Vec<i64> = seen
        .iter()
        .filter_map(|s| s["seq"].as_i64())
        .filter(|seq| *seq > marker)
        .collect();
    offered.sort_unstable();
    assert_eq!(offered, expected, "offered {seen:?}\nstored {stored:?}");
    let heard = |action: &str, target: Option<&str>| {
        seen.iter()
            .any(|s| s["action"] == action && s["target"].as_str() == target)
    };
    assert!(heard("audit.chain_verified", None), "{seen:?}");
    assert!(
        heard("extension.hook_run", Some("permission_resolver")),
        "{seen:?}"
    );
    assert!(
        heard(
            "auth.permission_denied",
            Some("/v1/extensions/test/warden/disable")
        ),
        "{seen:?}"
    );

    // Nothing more comes: the handler's work caused no further offers.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(offers_when_quiet(&server).await, offers);
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
    let (status, list) = server
        .status_json(&admin, "/api/list_role_templates", &[])
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list,
        json!([{"extension": WARDEN, "name": "reviewer", "permissions": ["audit.read", "dashboard.read"]}])
    );
    let auditor = server.signed_in("auditor@example.test").await;
    assert_eq!(
        server
            .status_json(&auditor, "/api/list_role_templates", &[])
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
    let (status, list) = server
        .status_json(&admin, "/api/list_sign_in_providers", &[])
        .await;
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
        server
            .status_json(&auditor, "/api/list_sign_in_providers", &[])
            .await
            .0,
        403
    );
    // Refused before anything was asked of the extensions.
    assert_eq!(kept(&server, "providers_heard").await.len(), 3);
    server
}
