//! The admin API (`/gateway/v1/...`, what `mag` drives) on a real server with
//! the build's signed local catalog, called with personal access tokens as a
//! script would: search, install request, approval of a subset, live revoke,
//! disable and enable, the refusals of an auditor and of impossible steps,
//! uninstall, then audit, chain verification, events and health.

mod support;

use magflock_types::Role;
use serde_json::{Value, json};
use std::path::PathBuf;
use support::TestServer;

const NAMING: &str = "magflock/naming-policy";

struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}/gateway{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }
}

/// A personal access token of `email`, made in a browser session.
async fn api_for(server: &TestServer, email: &str) -> Api {
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
    Api {
        base: server.base.clone(),
        token: made["token"].as_str().expect("a token").to_string(),
        http: reqwest::Client::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_drives_the_lifecycle_over_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config_for(&format!("sqlite://{}/magflock.db", dir.path().display()));
    config.catalog_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/catalog");
    config.data_dir = dir.path().join("data");
    let server = TestServer::start_with(config).await;
    server.add_user("owner@example.test", Role::Owner).await;
    server.add_user("auditor@example.test", Role::Auditor).await;
    let owner = api_for(&server, "owner@example.test").await;
    let auditor = api_for(&server, "auditor@example.test").await;

    // Search the catalog.
    let (status, found) = owner
        .get("/v1/catalog?q=naming&capability=api.register_endpoint")
        .await;
    assert_eq!(status, 200, "{found}");
    let ids: Vec<&str> = found["listings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["entry"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [NAMING], "{found}");
    let (_, none) = owner.get("/v1/catalog?q=naming&edition=pro").await;
    assert_eq!(none["listings"], json!([]));
    let (status, bad) = owner.get("/v1/catalog?edition=gold").await;
    assert_eq!(
        (status, bad["message"].as_str().unwrap()),
        (400, "edition 'gold' is not ce or pro")
    );

    // Install: a request waits for a person; the auditor may look, not decide.
    let (status, asked) = owner.post("/v1/extensions", json!({"id": NAMING})).await;
    assert_eq!(status, 202, "{asked}");
    let request = asked["request"]["id"].as_str().unwrap().to_string();
    assert_eq!(asked["request"]["status"], "pending");
    let asked_for: Vec<&str> = asked["request"]["plan"]["items"][0]["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        asked_for,
        [
            "database.admin",
            "api.register_endpoint",
            "database.read",
            "ui.modify_schema"
        ]
    );
    let (status, pending) = auditor.get("/v1/approvals?status=pending").await;
    assert_eq!(
        (status, pending["requests"][0]["id"].as_str()),
        (200, Some(request.as_str()))
    );
    let (status, refused) = auditor
        .post(
            &format!("/v1/approvals/{request}"),
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!((status, &refused["error"]), (403, &json!("forbidden")));
    let (status, bad) = owner
        .post(
            &format!("/v1/approvals/{request}"),
            json!({"decision": "approve", "only": ["database.sudo"]}),
        )
        .await;
    assert_eq!(
        (status, bad["message"].as_str().unwrap()),
        (409, "unknown capability 'database.sudo'")
    );

    // Approve a subset: only the endpoint capability.
    let (status, decided) = owner
        .post(&format!("/v1/approvals/{request}"), json!({"decision": "approve", "only": ["api.register_endpoint"], "comment": "no admin rights"}))
        .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["request"]["status"], "completed");
    let (_, info) = owner.get(&format!("/v1/extensions/{NAMING}")).await;
    assert_eq!(info["extension"]["state"], "enabled", "{info}");
    assert_eq!(
        info["extension"]["granted"],
        json!(["api.register_endpoint"])
    );
    let (status, again) = owner
        .post(
            &format!("/v1/approvals/{request}"),
            json!({"decision": "deny"}),
        )
        .await;
    assert_eq!(status, 409, "decided once: {again}");

    // Revoke live, disable, enable.
    let (status, revoked) = owner
        .delete(&format!(
            "/v1/extensions/{NAMING}/grants/api.register_endpoint"
        ))
        .await;
    assert_eq!(
        (status, &revoked["extension"]["granted"]),
        (200, &json!([])),
        "{revoked}"
    );
    let (status, disabled) = owner
        .post(&format!("/v1/extensions/{NAMING}/disable"), json!({}))
        .await;
    assert_eq!(
        (status, &disabled["extension"]["state"]),
        (200, &json!("disabled")),
        "{disabled}"
    );
    let (status, enabled) = owner
        .post(&format!("/v1/extensions/{NAMING}/enable"), json!({}))
        .await;
    assert_eq!(
        (status, &enabled["extension"]["state"]),
        (200, &json!("enabled")),
        "{enabled}"
    );
    let (status, _) = auditor
        .post(&format!("/v1/extensions/{NAMING}/disable"), json!({}))
        .await;
    assert_eq!(status, 403);

    // Impossible steps say why.
    let (status, no_upgrade) = owner
        .post(&format!("/v1/extensions/{NAMING}/upgrade"), json!({}))
        .await;
    assert_eq!(status, 404, "{no_upgrade}");
    assert!(
        no_upgrade["message"]
            .as_str()
            .unwrap()
            .contains("no newer version of magflock/naming-policy than 1.0.0")
    );
    let (status, no_rollback) = owner
        .post(&format!("/v1/extensions/{NAMING}/rollback"), json!({}))
        .await;
    assert_eq!(status, 409, "{no_rollback}");
    let (status, enabled_uninstall) = owner.delete(&format!("/v1/extensions/{NAMING}")).await;
    assert_eq!(
        status, 409,
        "an enabled extension is not uninstalled: {enabled_uninstall}"
    );
    let (status, _) = owner.get("/v1/extensions/acme/nothing").await;
    assert_eq!(status, 404);

    // Its CLI command, listed for `mag help` and run in the sandbox.
    let (status, commands) = auditor.get("/v1/commands?cli_version=0.1.0").await;
    assert_eq!(status, 200, "{commands}");
    let invokes: Vec<&str> = commands["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["invoke"].as_str().unwrap())
        .collect();
    assert_eq!(invokes, ["naming-policy:check"], "{commands}");
    let check = format!("/v1/extensions/{NAMING}/commands/check");
    let (status, ran) = owner
        .post(&check, json!({"args": ["pg_secrets", "sales_eu"]}))
        .await;
    assert_eq!(status, 200, "{ran}");
    let output = ran["output"].as_str().unwrap();
    assert!(
        output.contains("'pg_secrets' is NOT allowed") && output.contains("'sales_eu' is allowed"),
        "{output}"
    );
    let (status, _) = auditor.post(&check, json!({"args": ["x"]})).await;
    assert_eq!(status, 403);
    let (status, _) = owner
        .post(&format!("/v1/extensions/{NAMING}/commands/nope"), json!({}))
        .await;
    assert_eq!(status, 404);

    // Uninstall.
    owner
        .post(&format!("/v1/extensions/{NAMING}/disable"), json!({}))
        .await;
    let (status, gone) = owner.delete(&format!("/v1/extensions/{NAMING}")).await;
    assert_eq!(
        (status, &gone["uninstalled"]),
        (200, &json!(NAMING)),
        "{gone}"
    );
    let (_, listed) = owner.get("/v1/extensions").await;
    assert_eq!(listed["extensions"], json!([]));

    // What happened, as the auditor sees it.
    let (status, audit) = auditor
        .get("/v1/audit?actor=owner@example.test&limit=200")
        .await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for wanted in [
        "extension.install_requested",
        "extension.install_approved",
        "extension.capability_revoked",
        "extension.disabled",
        "extension.enabled",
        "extension.uninstalled",
        "extension.command_run",
    ] {
        assert!(actions.contains(&wanted), "{wanted} in {actions:?}");
    }
    let (_, verified) = auditor.get("/v1/audit/verify").await;
    assert_eq!(verified["intact"], true, "{verified}");
    let (_, events) = auditor.get("/v1/events?type=extension.*&limit=1000").await;
    let types: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["event_type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"extension.installed") && types.contains(&"extension.uninstalled"),
        "{types:?}"
    );
    let (status, health) = auditor.get("/v1/health").await;
    assert_eq!(
        (status, &health["healthy"]),
        (200, &json!(true)),
        "{health}"
    );
    assert_eq!(health["magds"]["engine"], "sqlite");
    server.stop().await;
}
