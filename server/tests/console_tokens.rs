//! MagUI's personal access tokens, role templates and sign-in providers
//! through their server functions on a real server, on both engines:
//! * a token made on the Account page works against the gateway's admin API
//!   as its user; revoked from MagUI, the very next gateway request with it
//!   is refused although the gateway had just remembered it (MagUI revokes
//!   through the gateway's own key cache), and the same holds for a
//!   project's keys when MagUI deletes the project;
//! * the rules are MagGate's (`/v1/tokens`): any role makes, lists and
//!   revokes its own; only an owner lists and revokes everyone's; names and
//!   lifetimes are checked the same way, with field-named refusals;
//! * every issue and revoke is audited with the REST route's actions, and
//!   the secret is in the create answer only (`no-store`), never in a list,
//!   a page or the audit log;
//! * with the warden test extension: its role templates on the Users page
//!   and its providers on `/settings/sign-in` (admins only), never a
//!   secret; the server's own OpenID Connect provider shown without its
//!   client secret.

mod support;

use magflock_types::{AuditEntry, Outcome, Role};
use serde_json::{Value, json};
use std::time::Duration;
use support::{TestServer, install_guest};

const OWNER: &str = "owner@example.test";
const ADMIN: &str = "admin@example.test";
const AUDITOR: &str = "auditor@example.test";
const WARDEN: &str = "test/warden";

on_both_engines!(
    a_token_made_in_magui_works_until_magui_revokes_it,
    token_rules_are_the_gateways,
    deleting_a_project_revokes_its_keys_at_once,
    warden_templates_and_providers_are_shown_to_admins,
);

fn s(v: &str) -> String {
    v.to_string()
}

/// A server function's status and JSON answer.
async fn call(
    server: &TestServer,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, String)],
) -> (u16, Value) {
    let res = server.call(client, path, form).await;
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn ok(
    server: &TestServer,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, String)],
) -> Value {
    let (status, body) = call(server, client, path, form).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// The `Invalid` error's field.
fn field(body: &Value) -> &str {
    body["Invalid"]["field"].as_str().unwrap_or_default()
}

/// `GET /gateway<path>` with `Authorization: Bearer <token>`.
async fn gateway(server: &TestServer, token: &str, path: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .get(format!("{}/gateway{path}", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Makes a token through MagUI; (id, secret).
async fn make_token(
    server: &TestServer,
    client: &reqwest::Client,
    name: &str,
    days: &str,
) -> (String, String) {
    let made = ok(
        server,
        client,
        "/api/create_token",
        &[("name", s(name)), ("days", s(days))],
    )
    .await;
    (
        made["token"]["id"].as_str().unwrap().to_string(),
        made["secret"].as_str().unwrap().to_string(),
    )
}

/// Entries of exactly `action` (the store's filter matches a prefix).
async fn audit(server: &TestServer, action: &str) -> Vec<AuditEntry> {
    server
        .audit(action)
        .await
        .into_iter()
        .filter(|e| e.action == action)
        .collect()
}

async fn with_people(server: &TestServer) {
    server.add_user(OWNER, Role::Owner).await;
    server.add_user(ADMIN, Role::Admin).await;
    server.add_user(AUDITOR, Role::Auditor).await;
}

async fn a_token_made_in_magui_works_until_magui_revokes_it(server: TestServer) -> TestServer {
    with_people(&server).await;
    let owner = server.signed_in(OWNER).await;

    let res = server
        .call(
            &owner,
            "/api/create_token",
            &[("name", s("  laptop  ")), ("days", s("7"))],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "the secret must stay out of caches"
    );
    let made: Value = res.json().await.unwrap();
    let secret = made["secret"].as_str().unwrap().to_string();
    let id = made["token"]["id"].as_str().unwrap().to_string();
    assert!(secret.starts_with("mf_") && secret.len() > 40, "{made}");
    assert_eq!(made["token"]["name"], "laptop", "the name is trimmed");
    assert_eq!(made["token"]["prefix"], json!(&secret[..8]));
    assert_eq!(made["token"]["state"], "active");
    assert_eq!(made["token"]["user_email"], OWNER);
    let lifetime = made["token"]["expires_at"].as_i64().unwrap()
        - made["token"]["created_at"].as_i64().unwrap();
    assert_eq!(lifetime, 7 * 86_400_000);

    // The token acts as its owner at the gateway's admin API.
    let (status, me) = gateway(&server, &secret, "/v1/whoami").await;
    assert_eq!(
        (status, &me["kind"], &me["role"]),
        (200, &json!("personal_token"), &json!("owner")),
        "{me}"
    );
    let (status, extensions) = gateway(&server, &secret, "/v1/extensions").await;
    assert_eq!(status, 200, "{extensions}");

    // Lists show the prefix and when it was last used, never the secret.
    let list = ok(&server, &owner, "/api/list_my_tokens", &[]).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], id.as_str());
    assert!(list[0]["last_used_at"].is_i64(), "{list}");
    assert!(!list.to_string().contains(&secret[8..]), "{list}");
    let all = ok(&server, &owner, "/api/list_all_tokens", &[]).await;
    assert!(!all.to_string().contains(&secret[8..]), "{all}");
    let page = server.get(&owner, "/account").await.text().await.unwrap();
    assert!(page.contains("Personal access tokens"), "the Account page");
    assert!(page.contains("laptop") && !page.contains(&secret[8..]));

    // The gateway just remembered the token; MagUI's revoke makes it forget
    // at once, so the very next request is refused.
    let (status, _) = gateway(&server, &secret, "/v1/whoami").await;
    assert_eq!(status, 200);
    let revoked = ok(&server, &owner, "/api/revoke_token", &[("id", id.clone())]).await;
    assert_eq!(revoked["was_live"], true, "{revoked}");
    let (status, refused) = gateway(&server, &secret, "/v1/whoami").await;
    assert_eq!(
        (status, &refused["error"]),
        (401, &json!("revoked_api_key")),
        "{refused}"
    );
    let (status, _) = gateway(&server, &secret, "/v1/extensions").await;
    assert_eq!(status, 401);
    let list = ok(&server, &owner, "/api/list_my_tokens", &[]).await;
    assert_eq!(list[0]["state"], "revoked", "{list}");
    assert!(list[0]["revoked_at"].is_i64());
    let again = ok(&server, &owner, "/api/revoke_token", &[("id", id.clone())]).await;
    assert_eq!(again["was_live"], false);

    // Audited with the REST route's actions, the owner as actor, no secret.
    let issued = audit(&server, "api_token.issued").await;
    assert_eq!(issued.len(), 1, "{issued:?}");
    assert_eq!(issued[0].actor_label, OWNER);
    assert_eq!(issued[0].outcome, Outcome::Success);
    assert!(issued[0].detail.contains(&id) && issued[0].detail.contains("\"days\":7"));
    let revokes = audit(&server, "api_token.revoked").await;
    assert_eq!(revokes.len(), 2, "{revokes:?}");
    assert!(revokes.iter().all(|e| e.actor_label == OWNER));
    assert!(
        revokes
            .iter()
            .any(|e| e.detail.contains("\"was_live\":true"))
    );
    for entry in issued.iter().chain(&revokes) {
        assert!(!entry.detail.contains(&secret[8..]), "{entry:?}");
    }
    server
}

async fn token_rules_are_the_gateways(server: TestServer) -> TestServer {
    with_people(&server).await;
    let owner = server.signed_in(OWNER).await;
    let admin = server.signed_in(ADMIN).await;
    let auditor = server.signed_in(AUDITOR).await;

    // Every role makes its own tokens (an empty lifetime is 90 days).
    let (admin_id, admin_secret) = make_token(&server, &admin, "deploy", "").await;
    let (auditor_id, auditor_secret) = make_token(&server, &auditor, "reports", "30").await;
    let mine = ok(&server, &admin, "/api/list_my_tokens", &[]).await;
    let lifetime =
        mine[0]["expires_at"].as_i64().unwrap() - mine[0]["created_at"].as_i64().unwrap();
    assert_eq!(lifetime, 90 * 86_400_000);

    // An admin sees only their own; everyone's is for owners.
    let names: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["deploy"]);
    let (status, _) = call(&server, &admin, "/api/list_all_tokens", &[]).await;
    assert_eq!(status, 403);
    let (status, _) = call(&server, &auditor, "/api/list_all_tokens", &[]).await;
    assert_eq!(status, 403);

    // An auditor cannot revoke someone else's token: it stays usable.
    let (status, body) = call(
        &server,
        &auditor,
        "/api/revoke_token",
        &[("id", admin_id.clone())],
    )
    .await;
    assert_eq!(status, 404, "{body}");
    // Nor can an admin revoke an auditor's (only owners revoke others').
    let (status, _) = call(
        &server,
        &admin,
        "/api/revoke_token",
        &[("id", auditor_id.clone())],
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(gateway(&server, &admin_secret, "/v1/whoami").await.0, 200);
    assert_eq!(gateway(&server, &auditor_secret, "/v1/whoami").await.0, 200);

    // The owner sees everyone's, with their emails, and revokes any.
    let all = ok(&server, &owner, "/api/list_all_tokens", &[]).await;
    let mut seen: Vec<(String, String)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["user_email"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [(s("deploy"), s(ADMIN)), (s("reports"), s(AUDITOR))],
        "{all}"
    );
    assert!(!all.to_string().contains(&admin_secret[8..]));
    ok(&server, &owner, "/api/revoke_token", &[("id", admin_id)]).await;
    assert_eq!(gateway(&server, &admin_secret, "/v1/whoami").await.0, 401);
    // An auditor revokes their own.
    ok(
        &server,
        &auditor,
        "/api/revoke_token",
        &[("id", auditor_id)],
    )
    .await;
    assert_eq!(gateway(&server, &auditor_secret, "/v1/whoami").await.0, 401);
    let revokes = audit(&server, "api_token.revoked").await;
    let targets: Vec<&str> = revokes
        .iter()
        .map(|e| e.target.as_deref().unwrap_or_default())
        .collect();
    assert_eq!(targets.len(), 2, "{revokes:?}");
    assert!(
        revokes
            .iter()
            .any(|e| e.actor_label == OWNER && e.outcome == Outcome::Success)
    );

    // Bad input: refused on its field, nothing made, nothing audited.
    let issued_before = audit(&server, "api_token.issued").await.len();
    for (name, days, bad) in [
        (s("   "), s("30"), "name"),
        ("x".repeat(101), s("30"), "name"),
        (s("ci"), s("0"), "days"),
        (s("ci"), s("366"), "days"),
        (s("ci"), s("-1"), "days"),
        (s("ci"), s("soon"), "days"),
    ] {
        let (status, body) = call(
            &server,
            &admin,
            "/api/create_token",
            &[("name", name.clone()), ("days", days.clone())],
        )
        .await;
        assert_eq!(
            (status, field(&body)),
            (400, bad),
            "{name:?} {days}: {body}"
        );
    }
    assert!(
        ok(
            &server,
            &admin,
            "/api/create_token",
            &[("name", "y".repeat(100)), ("days", s("365"))]
        )
        .await["secret"]
            .is_string(),
        "100 characters and 365 days are allowed"
    );
    assert_eq!(
        audit(&server, "api_token.issued").await.len(),
        issued_before + 1
    );

    // The REST route applies the very same rule, naming the field too.
    let res = admin
        .post(format!("{}/gateway/v1/tokens", server.base))
        .json(&json!({"name": "ci", "days": 366}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["field"], "days", "{body}");
    let res = admin
        .post(format!("{}/gateway/v1/tokens", server.base))
        .json(&json!({"name": "  ", "days": 30}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["field"], "name", "{body}");

    // Signed out: nothing.
    let (status, _) = call(&server, &server.client(), "/api/list_my_tokens", &[]).await;
    assert_eq!(status, 401);
    server
}

async fn deleting_a_project_revokes_its_keys_at_once(server: TestServer) -> TestServer {
    with_people(&server).await;
    let owner = server.signed_in(OWNER).await;
    // Unique: on a PostgreSQL MagDS, database names are server-wide.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = &format!("tokens_{:x}_{nanos:x}", std::process::id());
    ok(
        &server,
        &owner,
        "/api/create_project",
        &[("name", s(name)), ("region", s(""))],
    )
    .await;
    let res = owner
        .post(format!("{}/gateway/v1/projects/{name}/keys", server.base))
        .json(&json!({"name": "web"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let key = res.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    // The gateway remembers the key now.
    let (status, body) = gateway(&server, &key, &format!("/v1/projects/{name}")).await;
    assert_eq!(status, 200, "{body}");
    ok(
        &server,
        &owner,
        "/api/delete_project",
        &[("name", s(name)), ("confirm", s(name))],
    )
    .await;
    // Refused as revoked (not merely "no such project"): the cache forgot it.
    let (status, body) = gateway(&server, &key, &format!("/v1/projects/{name}")).await;
    assert_eq!(
        (status, &body["error"]),
        (401, &json!("revoked_api_key")),
        "{body}"
    );
    server
}

async fn warden_templates_and_providers_are_shown_to_admins(server: TestServer) -> TestServer {
    with_people(&server).await;
    let admin = server.signed_in(ADMIN).await;
    let auditor = server.signed_in(AUDITOR).await;

    // Nothing installed: empty lists and their empty states.
    assert_eq!(
        ok(&server, &admin, "/api/list_role_templates", &[]).await,
        json!([])
    );
    assert_eq!(
        ok(&server, &admin, "/api/list_sign_in_providers", &[]).await,
        json!([])
    );
    assert_eq!(
        ok(&server, &admin, "/api/builtin_sign_in_provider", &[]).await,
        Value::Null,
        "no OpenID Connect provider is configured"
    );
    let users = server.get(&admin, "/users").await.text().await.unwrap();
    assert!(users.contains("Role templates from extensions") && users.contains("grants nothing"));
    assert!(users.contains("No installed extension defines a role template."));
    let page = server.get(&admin, "/settings/sign-in").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("No OpenID Connect provider is configured"));
    assert!(page.contains("No running extension contributes a sign-in provider."));

    install_guest(server.running(), "warden", true).await;
    let loaded = server.running().kernel.sandbox.get(WARDEN).unwrap();
    tokio::task::spawn_blocking(move || {
        loaded.run_command(
            "define-role",
            &[s("reviewer"), s("audit.read"), s("dashboard.read")],
            magflock_sandbox::CallMode::Warm,
        )
    })
    .await
    .unwrap()
    .unwrap();

    let templates = ok(&server, &admin, "/api/list_role_templates", &[]).await;
    assert_eq!(
        templates,
        json!([{"extension": WARDEN, "name": "reviewer", "permissions": ["audit.read", "dashboard.read"]}])
    );
    let users = server.get(&admin, "/users").await.text().await.unwrap();
    for shown in ["reviewer", "audit.read", "dashboard.read", WARDEN] {
        assert!(users.contains(shown), "the Users page shows {shown}");
    }

    // Each listing runs warden's provider commands; on a loaded machine one
    // may miss its deadline (the provider is then listed as refused), so the
    // page is asked again a few times before the check fails.
    let mut page = String::new();
    for _ in 0..10 {
        let res = server.get(&admin, "/settings/sign-in").await;
        assert_eq!(res.status(), 200);
        page = res.text().await.unwrap();
        if page.contains("Corp OIDC") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let main = page.find("<main").map_or(page.as_str(), |at| &page[at..]);
    for shown in [
        "Corp OIDC",
        "corp-saml",
        "https://id.corp.example",
        "https://sso.corp.example",
        "Invalid",
        "issuer must be an https or http URL",
    ] {
        assert!(
            page.contains(shown),
            "/settings/sign-in shows {shown}: {main}"
        );
    }
    assert!(!page.contains("warden-secret"), "never a secret");

    // Auditors may look at neither (the page answers 403).
    for path in [
        "/api/list_role_templates",
        "/api/list_sign_in_providers",
        "/api/builtin_sign_in_provider",
    ] {
        assert_eq!(call(&server, &auditor, path, &[]).await.0, 403, "{path}");
    }
    let page = server.get(&auditor, "/settings/sign-in").await;
    assert_eq!(page.status(), 403);
    // The auditor's Users page (403 too) asks for no templates: one refusal
    // for the page's user list, none for the templates or tokens.
    let before = audit(&server, "auth.permission_denied").await.len();
    assert_eq!(server.get(&auditor, "/users").await.status(), 403);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refusals = audit(&server, "auth.permission_denied").await;
    assert_eq!(refusals.len(), before + 1, "{refusals:?}");
    server
}

/// The server's own OpenID Connect provider, as the sign-in page shows it:
/// never its client secret. (Discovery is lazy, so no provider must run.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_oidc_provider_is_shown_without_its_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config_for(&format!("sqlite://{}/magflock.db", dir.path().display()));
    config.data_dir = dir.path().join("data");
    config.oidc = Some(magflock_server::config::OidcConfig {
        issuer: s("https://id.example.test/realms/ops"),
        client_id: s("magui-console"),
        client_secret: Some(s("very-secret-client-value")),
        name: s("Example SSO"),
        default_role: Role::Auditor,
    });
    let server = TestServer::start_with(config).await;
    server.add_user(OWNER, Role::Owner).await;
    server.add_user(AUDITOR, Role::Auditor).await;
    let owner = server.signed_in(OWNER).await;
    let shown = ok(&server, &owner, "/api/builtin_sign_in_provider", &[]).await;
    assert_eq!(
        shown,
        json!({
            "name": "Example SSO",
            "issuer": "https://id.example.test/realms/ops",
            "client_id": "magui-console",
            "redirect_uri": format!("{}/auth/oidc/callback", server.base),
            "confidential": true,
            "default_role": "auditor",
        })
    );
    let page = server
        .get(&owner, "/settings/sign-in")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("magui-console") && page.contains("/auth/oidc/callback"));
    assert!(!page.contains("very-secret-client-value"));
    let auditor = server.signed_in(AUDITOR).await;
    assert_eq!(
        call(&server, &auditor, "/api/builtin_sign_in_provider", &[])
            .await
            .0,
        403
    );
    server.stop().await;
}
