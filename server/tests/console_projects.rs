//! The Projects page and the Schema Explorer through the real server, with
//! MagDS on embedded SQLite and on PostgreSQL, and the Naming Policy
//! extension (built from source) handling MagUI's hooks:
//! * `before_project_create`: a name it refuses comes back as an error on the
//!   `name` field with its reason; no project is created and MagDS's own
//!   `before_db_create` never runs;
//! * `after_schema_change`: a migration run from MagUI is reported to it (its
//!   run is audited, and its explorer tab lists the change it checked);
//! * `extend_schema_explorer`: its tab is returned while it holds
//!   `ui.modify_schema`, and not once that capability is revoked.
//!
//! Also: roles (auditors read, admins act), one audit entry per action with
//! the user as actor, the introspection of columns, indexes and (PostgreSQL)
//! row-level-security policies, typed confirmation for deletion.
//!
//! MagDS reads `MAGDS_URL` when the server starts, so both engines run in
//! one test, one after the other, with no other server running meanwhile.

mod support;

use futures_util::FutureExt;
use magflock_kernel::Capability;
use magflock_kernel::audit::Actor;
use magflock_store::Engine;
use magflock_store::testing::{drop_pg_database, fresh_pg_database, pg_url_for};
use magflock_types::{AuditEntry, Outcome, Role};
use serde_json::{Value, json};
use std::panic::AssertUnwindSafe;
use std::time::Duration;
use support::{TestServer, install_guest};

const OWNER: &str = "owner@example.com";
const AUDITOR: &str = "auditor@example.com";
const NAMING: &str = "magflock/naming-policy";

/// A unique suffix: PostgreSQL database names are server-wide.
fn suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", std::process::id(), nanos & 0xffff_ffff)
}

/// The `Invalid` error's (field, message).
fn invalid(body: &Value) -> (String, String) {
    let e = &body["Invalid"];
    (
        e["field"].as_str().unwrap_or_default().to_string(),
        e["message"].as_str().unwrap_or_default().to_string(),
    )
}

/// Entries of `action` about `target`.
async fn audit_of(server: &TestServer, action: &str, target: &str) -> Vec<AuditEntry> {
    server
        .audit(action)
        .await
        .into_iter()
        .filter(|e| e.action == action && e.target.as_deref() == Some(target))
        .collect()
}

/// Waits (up to 10 s) for an audit entry of `extension` running `hook`.
async fn hook_ran(server: &TestServer, extension: &str, hook: &str) -> bool {
    for _ in 0..100 {
        let found =
            server.audit("extension.hook_run").await.iter().any(|e| {
                e.actor_id.as_deref() == Some(extension) && e.target.as_deref() == Some(hook)
            });
        if found {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Everything the console does with projects, on the server's MagDS engine.
async fn exercise(server: &TestServer, postgres: bool) {
    server.add_user(OWNER, Role::Owner).await;
    server.add_user(AUDITOR, Role::Auditor).await;
    install_guest(server.running(), "naming-policy", true).await;
    let owner = server.signed_in(OWNER).await;
    let auditor = server.signed_in(AUDITOR).await;
    let anonymous = server.client();
    let engine = if postgres { "postgres" } else { "sqlite" };

    let (status, list) = server
        .status_json(&auditor, "/api/list_projects", &[])
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["engine"], engine);
    assert_eq!(list["projects"], json!([]));
    let (status, _) = server
        .status_json(&anonymous, "/api/list_projects", &[])
        .await;
    assert_eq!(status, 401);

    // The extension's filter denies: the reason is on the name field, and
    // nothing was created (MagDS's own before_db_create never ran).
    let refused = format!("magflock_{}", suffix());
    let (status, body) = server
        .status_json(
            &owner,
            "/api/create_project",
            &[("name", &refused), ("region", "")],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (field, message) = invalid(&body);
    assert_eq!(field, "name", "{body}");
    assert!(
        message.starts_with("Naming Policy refused this name:")
            && message.contains("magflock_")
            && message.contains("forbidden_prefixes"),
        "{message}"
    );
    let (_, list) = server.status_json(&owner, "/api/list_projects", &[]).await;
    assert_eq!(
        list["projects"],
        json!([]),
        "a denied project must not exist"
    );
    assert!(hook_ran(server, NAMING, "before_project_create").await);
    assert!(
        !server
            .audit("extension.hook_run")
            .await
            .iter()
            .any(|e| e.target.as_deref() == Some("before_db_create")),
        "creation must not be attempted after a denial"
    );
    let denied = audit_of(server, "project.created", &refused).await;
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0].outcome, Outcome::Denied);
    assert_eq!(denied[0].actor_label, OWNER);
    assert!(denied[0].detail.contains(NAMING), "{}", denied[0].detail);

    // MagUI's own checks come first; auditors may not create.
    let (status, body) = server
        .status_json(
            &owner,
            "/api/create_project",
            &[("name", "Shop"), ("region", "")],
        )
        .await;
    assert_eq!((status, invalid(&body).0.as_str()), (400, "name"), "{body}");
    let (status, body) = server
        .status_json(
            &owner,
            "/api/create_project",
            &[("name", "fine_name"), ("region", "eu west")],
        )
        .await;
    assert_eq!(
        (status, invalid(&body).0.as_str()),
        (400, "region"),
        "{body}"
    );
    let name = format!("shop_{}", suffix());
    let (status, _) = server
        .status_json(
            &auditor,
            "/api/create_project",
            &[("name", &name), ("region", "")],
        )
        .await;
    assert_eq!(status, 403);

    let (status, created) = server
        .status_json(
            &owner,
            "/api/create_project",
            &[("name", &name), ("region", "eu-west-1")],
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["name"], name.as_str());
    assert_eq!(created["owner"], OWNER);
    let project_id = created["id"].as_str().unwrap().to_string();
    let (_, list) = server
        .status_json(&auditor, "/api/list_projects", &[])
        .await;
    assert_eq!(list["projects"][0]["name"], name.as_str(), "{list}");
    let entries = audit_of(server, "project.created", &name).await;
    assert_eq!(
        entries.len(),
        1,
        "one audit entry per creation: {entries:?}"
    );
    assert_eq!(entries[0].outcome, Outcome::Success);
    assert_eq!(entries[0].actor_label, OWNER);
    assert!(entries[0].detail.contains("eu-west-1"));
    let (status, body) = server
        .status_json(
            &owner,
            "/api/create_project",
            &[("name", &name), ("region", "")],
        )
        .await;
    assert_eq!((status, invalid(&body).0.as_str()), (400, "name"), "{body}");
    assert!(invalid(&body).1.contains("already exists"), "{body}");

    let (status, detail) = server
        .status_json(&auditor, "/api/get_project", &[("name", &name)])
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["engine"], engine);
    assert_eq!(detail["migrations"], json!([]));
    assert_eq!(detail["live_keys"], 0);
    assert!(detail["size_bytes"].as_i64().is_some(), "{detail}");
    assert_eq!(detail["health_error"], Value::Null);

    // A migration run from MagUI: recorded, audited, told to the extension.
    let mut sql = "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, \
                   note TEXT DEFAULT 'none'); \
                   CREATE UNIQUE INDEX orders_customer ON orders (customer);"
        .to_string();
    if postgres {
        sql.push_str(
            " ALTER TABLE orders ENABLE ROW LEVEL SECURITY; \
             CREATE POLICY own_orders ON orders FOR SELECT USING (customer = current_user);",
        );
    }
    let migrate = [
        ("project", name.as_str()),
        ("migration", "001_orders"),
        ("sql", sql.as_str()),
    ];
    let (status, _) = server
        .status_json(&auditor, "/api/run_migration", &migrate)
        .await;
    assert_eq!(status, 403);
    let (status, outcome) = server
        .status_json(&owner, "/api/run_migration", &migrate)
        .await;
    assert_eq!(status, 200, "{outcome}");
    let schema = if postgres { "public" } else { "main" };
    assert_eq!(
        outcome["changes"],
        json!([{"schema": schema, "table": "orders", "change": "created"}])
    );
    assert!(
        hook_ran(server, NAMING, "after_schema_change").await,
        "after_schema_change must reach the extension"
    );
    let applied = audit_of(server, "project.migration_applied", &name).await;
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert_eq!(applied[0].outcome, Outcome::Success);
    assert_eq!(applied[0].actor_label, OWNER);
    assert!(applied[0].detail.contains("001_orders"));

    let (status, body) = server
        .status_json(&owner, "/api/run_migration", &migrate)
        .await;
    assert_eq!(
        (status, invalid(&body).0.as_str()),
        (400, "migration"),
        "{body}"
    );
    let broken = [
        ("project", name.as_str()),
        ("migration", "002_broken"),
        ("sql", "CREATE TABLE orders (id INTEGER)"),
    ];
    let (status, body) = server
        .status_json(&owner, "/api/run_migration", &broken)
        .await;
    assert_eq!((status, invalid(&body).0.as_str()), (400, "sql"), "{body}");
    assert!(invalid(&body).1.contains("orders"), "{body}");
    let failed = audit_of(server, "project.migration_applied", &name).await;
    assert_eq!(
        failed.len(),
        3,
        "every attempt that reached MagDS: {failed:?}"
    );
    assert!(failed.iter().any(|e| e.outcome == Outcome::Failure));

    // The explorer shows the table, its columns and index, and on
    // PostgreSQL its policy.
    let (status, described) = server
        .status_json(&auditor, "/api/describe_schema", &[("name", &name)])
        .await;
    assert_eq!(status, 200, "{described}");
    let tables = described["tables"].as_array().unwrap();
    assert_eq!(
        tables.len(),
        1,
        "only the table, not MagDS's ledger: {described}"
    );
    let orders = &tables[0];
    assert_eq!(orders["name"], "orders");
    assert_eq!(orders["schema"], schema);
    let columns: Vec<(&str, bool)> = orders["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["nullable"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        columns,
        [("id", false), ("customer", false), ("note", true)]
    );
    assert!(
        orders["columns"][2]["default"]
            .as_str()
            .is_some_and(|d| d.contains("none"))
    );
    assert!(
        orders["indexes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "orders_customer" && i["unique"] == true),
        "{orders}"
    );
    if postgres {
        let security = &orders["row_security"];
        assert_eq!(security["enabled"], true, "{orders}");
        assert_eq!(security["policies"][0]["name"], "own_orders");
        assert_eq!(security["policies"][0]["command"], "SELECT");
    } else {
        assert_eq!(orders["row_security"], Value::Null, "SQLite has no RLS");
    }

    // The extension's tab, while it holds ui.modify_schema; it lists the
    // change after_schema_change told it about.
    let explore = [
        ("project", name.as_str()),
        ("schema", schema),
        ("table", "orders"),
    ];
    let (status, views) = server
        .status_json(&auditor, "/api/schema_explorer_views", &explore)
        .await;
    assert_eq!(status, 200, "{views}");
    let views = views.as_array().unwrap().clone();
    assert_eq!(views.len(), 1, "{views:?}");
    assert_eq!(views[0]["extension"], NAMING);
    assert_eq!(views[0]["title"], "Naming Policy");
    let view = views[0]["view"]["Ok"].to_string();
    assert!(view.contains("Naming: orders"), "{view}");
    assert!(view.contains("follows the rule"), "{view}");
    assert!(
        view.contains("customer"),
        "the columns are annotated: {view}"
    );
    assert!(
        view.contains(r#"["orders","created","follows the rule"]"#),
        "the schema change it was told of: {view}"
    );
    assert!(hook_ran(server, NAMING, "extend_schema_explorer").await);
    let missing = [
        ("project", name.as_str()),
        ("schema", schema),
        ("table", "nothing"),
    ];
    let (status, _) = server
        .status_json(&auditor, "/api/schema_explorer_views", &missing)
        .await;
    assert_eq!(status, 404);

    // The pages render on the server for an auditor, with the tab.
    let page = server
        .get(
            &auditor,
            &format!("/projects/{name}/schema?table={schema}.orders"),
        )
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("customer") && html.contains("Naming Policy"),
        "{html}"
    );
    let page = server.get(&auditor, &format!("/projects/{name}")).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("001_orders"));
    let page = server.get(&auditor, "/projects/no_such_project").await;
    assert_eq!(page.status(), 404);

    // Without ui.modify_schema, no tab (revoked live, no restart).
    server
        .running()
        .kernel
        .lifecycle
        .revoke(
            NAMING,
            Capability::UiModifySchema,
            &Actor::user("u-1", OWNER),
        )
        .await
        .unwrap();
    let (status, views) = server
        .status_json(&auditor, "/api/schema_explorer_views", &explore)
        .await;
    assert_eq!(status, 200, "{views}");
    assert_eq!(views, json!([]), "no tab without ui.modify_schema");

    // Deleting needs the name typed again, and an admin.
    let (status, body) = server
        .status_json(
            &owner,
            "/api/delete_project",
            &[("name", &name), ("confirm", "shop")],
        )
        .await;
    assert_eq!(
        (status, invalid(&body).0.as_str()),
        (400, "confirm"),
        "{body}"
    );
    let confirm = [("name", name.as_str()), ("confirm", name.as_str())];
    let (status, _) = server
        .status_json(&auditor, "/api/delete_project", &confirm)
        .await;
    assert_eq!(status, 403);
    let (status, body) = server
        .status_json(&owner, "/api/delete_project", &confirm)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!(name));
    let (_, list) = server.status_json(&owner, "/api/list_projects", &[]).await;
    assert_eq!(list["projects"], json!([]));
    let deleted = audit_of(server, "project.deleted", &name).await;
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert_eq!(deleted[0].outcome, Outcome::Success);
    assert_eq!(deleted[0].actor_label, OWNER);
    assert!(deleted[0].detail.contains(&project_id));
    let (status, _) = server
        .status_json(&owner, "/api/get_project", &[("name", &name)])
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_schema_explorer_and_hooks_on_sqlite_and_postgres() {
    // SAFETY (both `set_var`/`remove_var`): this test binary runs this one
    // test, and no server (nor any other thread reading the environment) is
    // running while the variable changes.
    unsafe { std::env::remove_var("MAGDS_URL") };
    let server = TestServer::start(Engine::Sqlite).await;
    exercise(&server, false).await;
    server.stop().await;

    let magds_admin = fresh_pg_database().await;
    unsafe { std::env::set_var("MAGDS_URL", pg_url_for(&magds_admin)) };
    let server = TestServer::start(Engine::Postgres).await;
    unsafe { std::env::remove_var("MAGDS_URL") };
    let magds = server.running().kernel.magds.clone();
    let outcome = AssertUnwindSafe(exercise(&server, true))
        .catch_unwind()
        .await;
    // Nothing left behind on the PostgreSQL server, whatever happened.
    for project in magds.list_projects().await.unwrap_or_default() {
        let _ = magds.drop_project(&project.name).await;
    }
    magds.close().await;
    server.stop().await;
    drop_pg_database(&magds_admin).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
