//! MagGate's platform API in the real server: MagUI sessions and project API
//! keys against the projects routes (each role allowed exactly what it may,
//! every change audited), and the gatekeeper test extension's MagGate hooks
//! (`transform_response`, `rbac_resolver` refining but never widening,
//! `rate_limit_strategy`, `usage_analytics_emitter`, `register_endpoint`,
//! `add_version` with an endpoint served in API v1 and v2 side by side).

mod support;

use magflock_kernel::Capability;
use magflock_kernel::audit::Actor;
use magflock_types::{AuditFilter, Role};
use serde_json::{Value, json};
use std::time::Duration;
use support::TestServer;

const GATEKEEPER: &str = "test/gatekeeper";

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Sends `request` and reads the answer as `(status, JSON)`.
async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    json_of(request.send().await.unwrap()).await
}

async fn with_users(server: TestServer) -> TestServer {
    server.add_user("owner@example.test", Role::Owner).await;
    server.add_user("admin@example.test", Role::Admin).await;
    server.add_user("auditor@example.test", Role::Auditor).await;
    server
}

impl Gw for TestServer {
    fn gw(&self, path: &str) -> String {
        format!("{}/gateway{path}", self.base)
    }
}

trait Gw {
    fn gw(&self, path: &str) -> String;
}

/// The audit entries of `action`, waiting (up to 3 s) for the audit writer
/// to store the ones recorded without a flush (refusals).
async fn audited(server: &TestServer, action: &str) -> Vec<magflock_types::AuditEntry> {
    let filter = AuditFilter {
        action: Some(action.into()),
        limit: 50,
        ..AuditFilter::default()
    };
    let store = &server.running().store;
    for _ in 0..30 {
        let entries = store.audit_list(&filter).await.unwrap().entries;
        if !entries.is_empty() {
            return entries;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Vec::new()
}

on_both_engines!(projects_and_keys_over_the_api_by_role);

async fn projects_and_keys_over_the_api_by_role(server: TestServer) -> TestServer {
    let server = with_users(server).await;
    let owner = server.signed_in("owner@example.test").await;
    let auditor = server.signed_in("auditor@example.test").await;
    let nobody = reqwest::Client::new();

    // A session authenticates the gateway like a key does.
    let (status, me) = send(owner.get(server.gw("/v1/whoami"))).await;
    assert_eq!(
        (status, &me["kind"], &me["role"]),
        (200, &json!("session"), &json!("owner")),
        "{me}"
    );
    let (status, refused) = send(nobody.get(server.gw("/v1/projects"))).await;
    assert_eq!(
        (status, &refused["error"]),
        (401, &json!("missing_api_key"))
    );

    // Create: admins and owners; the auditor is refused and that is audited.
    let create = |client: &reqwest::Client, name: &str| {
        client
            .post(server.gw("/v1/projects"))
            .json(&json!({"name": name}))
    };
    let (status, project) = send(create(&owner, "sales_eu")).await;
    assert_eq!(status, 201, "{project}");
    assert_eq!(project["name"], "sales_eu");
    assert_eq!(project["owner"], "owner@example.test");
    let (status, _) = send(create(&owner, "hr")).await;
    assert_eq!(status, 201);
    let (status, dup) = send(create(&owner, "sales_eu")).await;
    assert_eq!((status, &dup["error"]), (409, &json!("conflict")), "{dup}");
    let (status, bad) = send(create(&owner, "Bad Name!")).await;
    assert_eq!(status, 400, "{bad}");
    assert!(
        bad["message"].as_str().unwrap().contains("'Bad Name!'"),
        "{bad}"
    );
    let (status, malformed) =
        send(owner.post(server.gw("/v1/projects")).body("{\"nom\": 1}")).await;
    assert_eq!(status, 400);
    assert!(
        malformed["message"].as_str().unwrap().contains("nom"),
        "{malformed}"
    );
    let (status, forbidden) = send(create(&auditor, "audit_made")).await;
    assert_eq!(
        (status, &forbidden["error"]),
        (403, &json!("forbidden")),
        "{forbidden}"
    );
    assert!(
        forbidden["message"]
            .as_str()
            .unwrap()
            .contains("admin role"),
        "{forbidden}"
    );
    let denials = audited(&server, "auth.permission_denied").await;
    assert!(
        denials
            .iter()
            .any(|e| e.actor_label == "auditor@example.test"),
        "{denials:?}"
    );

    // Another site cannot use the owner's cookie to change anything.
    let (status, _) = send(
        owner
            .post(server.gw("/v1/projects"))
            .header("origin", "https://evil.example")
            .json(&json!({"name": "csrf"})),
    )
    .await;
    assert_eq!(status, 403);

    // Reading: every role sees every project.
    let (status, listed) = send(auditor.get(server.gw("/v1/projects"))).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = listed["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hr", "sales_eu"], "{listed}");

    // A key: issued once by an admin, scoped to its project.
    let (status, issued) = send(
        owner
            .post(server.gw("/v1/projects/sales_eu/keys"))
            .json(&json!({"name": "ci"})),
    )
    .await;
    assert_eq!(status, 201, "{issued}");
    let key = issued["key"].as_str().unwrap().to_string();
    assert!(key.starts_with(issued["prefix"].as_str().unwrap()));
    let (status, _) = send(
        auditor
            .post(server.gw("/v1/projects/sales_eu/keys"))
            .json(&json!({"name": "x"})),
    )
    .await;
    assert_eq!(status, 403, "auditors cannot issue keys");
    let (_, keys) = send(auditor.get(server.gw("/v1/projects/sales_eu/keys"))).await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1, "{keys}");
    assert!(
        keys["keys"][0].get("key_hash").is_none() && !keys.to_string().contains(&key),
        "{keys}"
    );

    let keyed = |path: &str| nobody.get(server.gw(path)).bearer_auth(&key);
    let (_, mine) = send(keyed("/v1/projects")).await;
    assert_eq!(mine["projects"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["projects"][0]["name"], "sales_eu");
    let (status, health) = send(keyed("/v1/projects/sales_eu/health")).await;
    assert_eq!(status, 200, "{health}");
    assert!(
        health["health"]["size_bytes"].as_i64().unwrap() >= 0,
        "{health}"
    );
    assert_eq!(health["engine"], "sqlite", "{health}");
    let (status, other) = send(keyed("/v1/projects/hr")).await;
    assert_eq!(status, 403, "{other}");
    assert!(
        other["message"]
            .as_str()
            .unwrap()
            .contains("belongs to project 'sales_eu'")
    );
    let (status, _) = send(
        nobody
            .post(server.gw("/v1/projects"))
            .bearer_auth(&key)
            .json(&json!({"name": "by_key"})),
    )
    .await;
    assert_eq!(status, 403, "a key cannot create projects");

    // Revoke: the key stops at once.
    let key_id = issued["id"].as_str().unwrap();
    let (status, revoked) =
        send(owner.delete(server.gw(&format!("/v1/projects/sales_eu/keys/{key_id}")))).await;
    assert_eq!(
        (status, &revoked["was_live"]),
        (200, &json!(true)),
        "{revoked}"
    );
    let (status, _) = send(keyed("/v1/projects")).await;
    assert_eq!(status, 401);

    // Delete a project: its database goes and its live keys are revoked.
    let (_, second) = send(
        owner
            .post(server.gw("/v1/projects/sales_eu/keys"))
            .json(&json!({"name": "app"})),
    )
    .await;
    let (status, _) = send(auditor.delete(server.gw("/v1/projects/sales_eu"))).await;
    assert_eq!(status, 403);
    let (status, deleted) = send(owner.delete(server.gw("/v1/projects/sales_eu"))).await;
    assert_eq!(
        (status, &deleted["keys_revoked"]),
        (200, &json!(1)),
        "{deleted}"
    );
    let second_key = second["key"].as_str().unwrap();
    let status = nobody
        .get(server.gw("/v1/whoami"))
        .bearer_auth(second_key)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    let (status, _) = send(owner.get(server.gw("/v1/projects/sales_eu"))).await;
    assert_eq!(status, 404);

    // Personal access tokens: made in the session, act with the user's role.
    let (status, made) = send(
        owner
            .post(server.gw("/v1/tokens"))
            .json(&json!({"name": "laptop", "days": 7})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let token = made["token"].as_str().unwrap().to_string();
    let (status, _) = send(
        auditor
            .post(server.gw("/v1/tokens"))
            .json(&json!({"name": "ro"})),
    )
    .await;
    assert_eq!(status, 201, "every role may make its own token");
    let by_token = |request: reqwest::RequestBuilder| request.bearer_auth(&token);
    let (status, me) = send(by_token(nobody.get(server.gw("/v1/whoami")))).await;
    assert_eq!(
        (status, &me["kind"], &me["role"]),
        (200, &json!("personal_token"), &json!("owner")),
        "{me}"
    );
    let (status, _) = send(by_token(
        nobody
            .post(server.gw("/v1/projects"))
            .json(&json!({"name": "by_token"})),
    ))
    .await;
    assert_eq!(status, 201, "the owner's token creates projects");
    let (status, refused) = send(by_token(
        nobody
            .post(server.gw("/v1/tokens"))
            .json(&json!({"name": "more"})),
    ))
    .await;
    assert_eq!(
        (status, &refused["error"]),
        (403, &json!("forbidden")),
        "a token cannot make tokens: {refused}"
    );
    let (_, listed) = send(by_token(nobody.get(server.gw("/v1/tokens")))).await;
    assert_eq!(
        listed["tokens"].as_array().unwrap().len(),
        2,
        "the owner sees every token: {listed}"
    );
    assert!(!listed.to_string().contains(&token));
    let (_, projects_seen) = send(by_token(
        nobody.get(server.gw("/v1/projects/by_token/keys")),
    ))
    .await;
    assert_eq!(
        projects_seen["keys"],
        json!([]),
        "personal tokens are not project keys"
    );
    let (status, _) =
        send(owner.delete(server.gw(&format!("/v1/tokens/{}", made["id"].as_str().unwrap()))))
            .await;
    assert_eq!(status, 200);
    let (status, gone) = send(by_token(nobody.get(server.gw("/v1/whoami")))).await;
    assert_eq!((status, &gone["error"]), (401, &json!("revoked_api_key")));

    // Every change is in the audit log under the owner's name, without secrets.
    for action in [
        "project.created",
        "project.deleted",
        "api_key.issued",
        "api_key.revoked",
    ] {
        let entries = audited(&server, action).await;
        assert!(
            entries
                .iter()
                .any(|e| e.actor_label == "owner@example.test"),
            "{action}: {entries:?}"
        );
        assert!(entries.iter().all(|e| !e.detail.contains(&key)), "{action}");
    }
    let refused = audited(&server, "project.created").await;
    assert!(
        refused
            .iter()
            .any(|e| e.outcome == magflock_types::Outcome::Failure
                && e.target.as_deref() == Some("sales_eu"))
    );
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gatekeeper_refines_shapes_limits_and_hears_versions() {
    let server = with_users(TestServer::start(magflock_store::Engine::Sqlite).await).await;
    support::install_guest(server.running(), "gatekeeper", true).await;
    let gateway = &server.running().kernel.gateway;
    let owner = server.signed_in("owner@example.test").await;
    let auditor = server.signed_in("auditor@example.test").await;

    // register_endpoint and add_version: the watcher tells the extension
    // within a second; report v2 shows what it heard.
    let mut report = Value::Null;
    for _ in 0..50 {
        let (_, seen) = send(owner.get(server.gw("/v2/ext/test/gatekeeper/report"))).await;
        if seen["versions"].is_array() && seen["mounts"].as_array().is_some_and(|m| m.len() == 2) {
            report = seen;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(report["api_version"], "v2", "{report}");
    assert_eq!(
        report["versions"][0]["current_versions"],
        json!(["v1", "v2"]),
        "{report}"
    );
    assert_eq!(report["versions"][0]["version"], "v2");
    assert_eq!(report["versions"][0]["extension"], GATEKEEPER);
    let prefixes: Vec<&str> = report["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["prefix"].as_str().unwrap())
        .collect();
    assert_eq!(
        prefixes,
        ["/v1/ext/test/gatekeeper", "/v2/ext/test/gatekeeper"]
    );
    assert_eq!(
        report["mounts"][0]["endpoints"],
        json!(["report", "limited"])
    );
    assert_eq!(report["mounts"][1]["endpoints"], json!(["report"]));
    assert_eq!(
        gateway.sync_routes().await.unwrap(),
        0,
        "each change is told once"
    );

    // v1 side by side: unversioned and /v1 paths get the v1 shape; v3 does not exist.
    for path in [
        "/ext/test/gatekeeper/report",
        "/v1/ext/test/gatekeeper/report",
    ] {
        let (status, v1) = send(owner.get(server.gw(path))).await;
        assert_eq!(status, 200);
        assert!(
            v1.get("usage").is_some() && v1.get("versions").is_none(),
            "{path}: {v1}"
        );
    }
    let (status, _) = send(owner.get(server.gw("/v3/ext/test/gatekeeper/report"))).await;
    assert_eq!(status, 404);
    let (status, _) = send(owner.get(server.gw("/v2/ext/test/gatekeeper/limited"))).await;
    assert_eq!(status, 404, "limited is served in v1 only");
    let doc: Value = reqwest::get(server.gw("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["paths"]["/v2/ext/test/gatekeeper/report"]["x-magflock-extension"]["api_version"],
        "v2"
    );
    assert!(doc["paths"]["/v1/projects"]["post"].is_object());

    // transform_response: every answer is marked, whoami's body is shaped.
    let response = owner.get(server.gw("/v1/whoami")).send().await.unwrap();
    assert_eq!(response.headers()["x-gatekeeper"], "shaped");
    let (_, me) = json_of(response).await;
    assert_eq!(me["shaped_by"], GATEKEEPER, "{me}");

    // rbac_resolver refines: keep_* projects cannot be deleted, even by the owner.
    for name in ["keep_me", "scratch"] {
        let response = owner
            .post(server.gw("/v1/projects"))
            .json(&json!({"name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let (status, denied) = send(owner.delete(server.gw("/v1/projects/keep_me"))).await;
    assert_eq!(
        (status, &denied["extension"]),
        (403, &json!(GATEKEEPER)),
        "{denied}"
    );
    assert!(
        denied["reason"].as_str().unwrap().contains("protected"),
        "{denied}"
    );
    let (status, _) = send(owner.get(server.gw("/v1/projects/keep_me"))).await;
    assert_eq!(status, 200, "the project is still there");
    let (status, _) = send(owner.delete(server.gw("/v1/projects/scratch"))).await;
    assert_eq!(status, 200);
    // ... but never widens: it answers "owner, allow" for everyone, and the auditor is still refused.
    let (status, refused) = send(auditor.delete(server.gw("/v1/projects/keep_me"))).await;
    assert_eq!(status, 403, "{refused}");
    let (status, refused) = send(
        auditor
            .post(server.gw("/v1/projects"))
            .json(&json!({"name": "widened"})),
    )
    .await;
    assert_eq!(
        (status, &refused["error"]),
        (403, &json!("forbidden")),
        "{refused}"
    );

    // rate_limit_strategy: 2 a minute on `limited` (the platform allows 600);
    // its attempt to loosen other routes changes nothing.
    let issued = gateway
        .keys()
        .issue_key("keep_me", "ci", None)
        .await
        .unwrap();
    let limited = server.gw("/ext/test/gatekeeper/limited");
    let http = reqwest::Client::new();
    for _ in 0..2 {
        let status = http
            .get(&limited)
            .bearer_auth(&issued.plaintext)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    let response = http
        .get(&limited)
        .bearer_auth(&issued.plaintext)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let status = http
        .get(server.gw("/ext/test/gatekeeper/report"))
        .bearer_auth(&issued.plaintext)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200, "other routes keep the platform's limit");

    // A key works from another site's page (no ambient credentials); the
    // owner's cookie from there does not (checked in the projects test).
    let response = http
        .post(server.gw("/ext/test/gatekeeper/report"))
        .header("origin", "https://app.example")
        .bearer_auth(&issued.plaintext)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // usage_analytics_emitter: the extension receives per-route counts.
    assert!(gateway.emit_usage().await.unwrap() > 0);
    let (_, v1) = send(owner.get(server.gw("/ext/test/gatekeeper/report"))).await;
    assert_eq!(
        v1["usage"]["/ext/test/gatekeeper/limited"]["count"], 2,
        "{v1}"
    );
    assert_eq!(
        v1["usage"]["/v2/ext/test/gatekeeper/report"]["status"], 200,
        "{v1}"
    );

    // A live revoke of api.register_endpoint unmounts the endpoints at the next request.
    let admin = Actor::user("u-1", "owner@example.test");
    server
        .running()
        .kernel
        .policy
        .revoke(GATEKEEPER, Capability::ApiRegisterEndpoint, &admin)
        .await
        .unwrap();
    let (status, _) = send(owner.get(server.gw("/v2/ext/test/gatekeeper/report"))).await;
    assert_eq!(status, 404);
    server.stop().await;
}
