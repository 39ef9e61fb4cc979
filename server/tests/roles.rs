//! Every server function and every console page, called by each role (and by
//! nobody), on both engines: allowed calls pass the wall, the rest get 401 (not
//! signed in), 403 (role too low) or a redirect to sign-in (pages).
//!
//! The endpoint list comes from `magflock_app::api::endpoints()`; an endpoint
//! without arguments here fails the test, so none can be added untested.

mod support;

use magflock_app::api::{Access, endpoints};
use magflock_types::Role;
use support::{PASSWORD, TestServer};

const VICTIM: &str = "victim@example.com";

/// Well-formed arguments for each endpoint, and the status an allowed caller gets.
fn case(path: &str, victim_id: &str, n: usize) -> (Vec<(&'static str, String)>, u16) {
    let s = |v: &str| v.to_string();
    match path {
        "/api/current_session"
        | "/api/logout"
        | "/api/dashboard_summary"
        | "/api/verify_audit_chain"
        | "/api/get_settings"
        | "/api/list_users"
        | "/api/list_trusted_keys"
        | "/api/list_role_templates"
        | "/api/list_sign_in_providers"
        | "/api/builtin_sign_in_provider" => (vec![], 200),
        // Already set up: allowed through, refused by the rule.
        "/api/setup_owner" => (
            vec![
                ("email", s("late@example.com")),
                ("display_name", s("Late")),
                ("password", s(PASSWORD)),
                ("password_confirm", s(PASSWORD)),
            ],
            409,
        ),
        "/api/login" => (vec![("email", s(VICTIM)), ("password", s(PASSWORD))], 200),
        // A wrong current password: through the wall, refused as invalid input.
        "/api/change_own_password" => (
            vec![
                ("current_password", s("not-the-password")),
                ("new_password", s("Another-Password-77")),
                ("new_password_confirm", s("Another-Password-77")),
            ],
            400,
        ),
        "/api/audit_entries" => (
            vec![("filter[limit]", s("10")), ("filter[action]", s("auth."))],
            200,
        ),
        "/api/update_settings" => (
            vec![
                ("instance_name", s("MagFlock")),
                ("session_idle_minutes", s("30")),
                ("session_max_hours", s("12")),
            ],
            200,
        ),
        "/api/create_user" => (
            vec![
                ("email", format!("new{n}@example.com")),
                ("display_name", s("New")),
                ("role", s("auditor")),
                ("password", s(PASSWORD)),
            ],
            200,
        ),
        "/api/change_role" => (vec![("user_id", s(victim_id)), ("role", s("auditor"))], 200),
        "/api/set_user_enabled" => (vec![("user_id", s(victim_id)), ("enabled", s("true"))], 200),
        "/api/reset_password" => (
            vec![("user_id", s(victim_id)), ("new_password", s(PASSWORD))],
            200,
        ),
        // A fresh publisher key per call, at the level admins may grant.
        "/api/add_trusted_key" => (
            vec![
                (
                    "key",
                    serde_json::to_string(
                        &magflock_package::KeyPair::generate(&format!("publisher-{n}"))
                            .public_file(),
                    )
                    .unwrap(),
                ),
                ("level", s("verified_publisher")),
            ],
            200,
        ),
        // No such key: through the wall, refused by the rule.
        "/api/remove_trusted_key" => (vec![("key_id", s("00000000000000000000000000000000"))], 404),
        "/api/set_allow_unsigned" => (vec![("allow", s("false"))], 200),
        "/api/list_alerts" => (vec![("all", s("false"))], 200),
        // No such alert: through the wall, refused by the rule.
        "/api/acknowledge_alert" => (vec![("id", s("999999999"))], 404),
        other => marketplace_case(other)
            .or_else(|| extensions_case(other))
            .or_else(|| projects_case(other, n))
            .or_else(|| widgets_case(other))
            .or_else(|| tokens_case(other, n))
            .unwrap_or_else(|| {
                panic!("no test arguments for endpoint {other}: add it to this table")
            }),
    }
}

/// The Marketplace and Approvals pages' endpoints. The test server's
/// catalog folder does not exist, so the catalogs list nothing (reported as a
/// problem): a listing or an install is refused by the rule, behind the wall.
fn marketplace_case(path: &str) -> Option<(Vec<(&'static str, String)>, u16)> {
    let s = |v: &str| v.to_string();
    Some(match path {
        "/api/marketplace_search" => (vec![("q", s("naming")), ("edition", s("ce"))], 200),
        "/api/marketplace_listing" => (vec![("id", s("magflock/steady"))], 404),
        "/api/request_install" => (
            vec![("id", s("magflock/steady")), ("enable", s("true"))],
            400,
        ),
        "/api/list_approvals" => (vec![], 200),
        "/api/decide_approval" => (
            vec![
                ("request_id", s("no-such-request")),
                ("decision", s("approve_selected")),
                ("grants[]", s("magflock/steady#system.metrics")),
                ("comment", s("checked")),
            ],
            404,
        ),
        _ => return None,
    })
}

/// The Extensions, Health and Events pages' endpoints. Nothing is installed
/// and nobody subscribes here, so actions pass the wall and are refused by
/// the lifecycle (404: not installed) or the bus (404: no such subscriber).
fn extensions_case(path: &str) -> Option<(Vec<(&'static str, String)>, u16)> {
    let s = |v: &str| v.to_string();
    let id = || ("id", s("magflock/steady"));
    Some(match path {
        "/api/list_extensions"
        | "/api/health_snapshot"
        | "/api/health_incidents"
        | "/api/event_subscribers"
        | "/api/dead_letters" => (vec![], 200),
        "/api/extension_progress" => (vec![id()], 200),
        "/api/get_extension"
        | "/api/enable_extension"
        | "/api/disable_extension"
        | "/api/rollback_extension"
        | "/api/uninstall_extension" => (vec![id()], 404),
        "/api/upgrade_extension" => (vec![id(), ("version", s("2.0.0"))], 404),
        "/api/revoke_capability" | "/api/grant_capability" => {
            (vec![id(), ("capability", s("system.metrics"))], 404)
        }
        "/api/recent_events" => (vec![("query[category]", s("auth"))], 200),
        "/api/requeue_dead_letters" => (vec![("subscriber", s("ext:nobody/here"))], 404),
        _ => return None,
    })
}

/// The Projects and Schema Explorer pages' endpoints. A new project per
/// allowed call; the others name a project that does not exist: through the
/// wall, refused by the rule.
fn projects_case(path: &str, n: usize) -> Option<(Vec<(&'static str, String)>, u16)> {
    let s = |v: &str| v.to_string();
    let missing = || ("name", s("no_such_project"));
    Some(match path {
        "/api/list_projects" => (vec![], 200),
        "/api/create_project" => (vec![("name", format!("roles_{n}")), ("region", s(""))], 200),
        "/api/get_project" | "/api/describe_schema" => (vec![missing()], 404),
        "/api/delete_project" => (vec![missing(), ("confirm", s("no_such_project"))], 404),
        "/api/run_migration" => (
            vec![
                ("project", s("no_such_project")),
                ("migration", s("001_t")),
                ("sql", s("CREATE TABLE t (x integer)")),
            ],
            404,
        ),
        "/api/schema_explorer_views" => (
            vec![
                ("project", s("no_such_project")),
                ("schema", s("main")),
                ("table", s("t")),
            ],
            404,
        ),
        _ => return None,
    })
}

/// (page, least role).
const PAGES: &[(&str, Role)] = &[
    ("/", Role::Auditor),
    ("/projects", Role::Auditor),
    ("/marketplace", Role::Auditor),
    ("/extensions", Role::Auditor),
    ("/approvals", Role::Auditor),
    ("/health", Role::Auditor),
    ("/events", Role::Auditor),
    ("/marketplace/magflock/steady", Role::Auditor),
    ("/extensions/magflock/steady", Role::Auditor),
    ("/audit", Role::Auditor),
    ("/settings", Role::Auditor),
    ("/settings/keys", Role::Auditor),
    ("/settings/sign-in", Role::Admin),
    ("/account", Role::Auditor),
    ("/users", Role::Admin),
];

async fn every_endpoint_checks_the_role(server: TestServer) -> TestServer {
    server.add_user("owner@example.com", Role::Owner).await;
    server.add_user("admin@example.com", Role::Admin).await;
    server.add_user("auditor@example.com", Role::Auditor).await;
    let victim = server.add_user(VICTIM, Role::Auditor).await;
    let callers = [
        (Some("owner@example.com"), Some(Role::Owner)),
        (Some("admin@example.com"), Some(Role::Admin)),
        (Some("auditor@example.com"), Some(Role::Auditor)),
        (None, None),
    ];
    let mut n = 0;
    let mut failures = Vec::new();
    for (path, access) in endpoints() {
        for (email, role) in callers {
            n += 1;
            let client = match email {
                Some(e) => server.signed_in(e).await,
                None => server.client(),
            };
            let (form, allowed_status) = case(path, &victim.id, n);
            let expected = match (access, role) {
                (Access::Public, _) => allowed_status,
                (Access::AtLeast(_), None) => 401,
                (Access::AtLeast(min), Some(r)) if r.at_least(min) => allowed_status,
                (Access::AtLeast(_), Some(_)) => 403,
            };
            let res = server.call(&client, path, &form).await;
            let status = res.status().as_u16();
            if status != expected {
                failures.push(format!(
                    "{path} as {role:?}: expected {expected}, got {status}: {}",
                    res.text().await.unwrap_or_default()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    server
}

async fn every_page_checks_the_role(server: TestServer) -> TestServer {
    server.add_user("owner@example.com", Role::Owner).await;
    server.add_user("admin@example.com", Role::Admin).await;
    server.add_user("auditor@example.com", Role::Auditor).await;
    let mut failures = Vec::new();
    for (email, role) in [
        (Some("owner@example.com"), Some(Role::Owner)),
        (Some("admin@example.com"), Some(Role::Admin)),
        (Some("auditor@example.com"), Some(Role::Auditor)),
        (None, None),
    ] {
        let client = match email {
            Some(e) => server.signed_in(e).await,
            None => server.client(),
        };
        for (page, min) in PAGES {
            let res = server.get(&client, page).await;
            let status = res.status().as_u16();
            let location = res
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string());
            let ok = match role {
                None => {
                    status == 302 && location.as_deref().is_some_and(|l| l.starts_with("/login"))
                }
                Some(r) if r.at_least(*min) => status == 200,
                Some(_) => status == 403 && res.text().await.unwrap().contains("have access"),
            };
            if !ok {
                failures.push(format!(
                    "{page} as {role:?}: got {status} (location {location:?})"
                ));
            }
        }
    }
    let anon = server.client();
    let missing = server.get(&anon, "/no-such-page").await;
    assert_eq!(missing.status(), 404);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    server
}

on_both_engines!(every_endpoint_checks_the_role, every_page_checks_the_role);

/// The Dashboard widgets' and extension panels' endpoints.
fn widgets_case(path: &str) -> Option<(Vec<(&'static str, String)>, u16)> {
    let s = |v: &str| v.to_string();
    Some(match path {
        "/api/dashboard_widgets" | "/api/list_panels" => (vec![], 200),
        "/api/save_dashboard_layout" => (
            vec![(
                "layout",
                s(r#"{"order":["magflock/steady#pings"],"hidden":[]}"#),
            )],
            200,
        ),
        // No such panel: through the wall, refused by the rule.
        "/api/render_panel" => (
            vec![("extension", s("magflock/nothing")), ("panel", s("none"))],
            404,
        ),
        "/api/run_view_command" => (
            vec![
                ("extension", s("magflock/nothing")),
                ("command", s("none")),
                ("args", s("[]")),
            ],
            404,
        ),
        _ => return None,
    })
}

/// The personal access tokens' endpoints (Account and Users pages). A new
/// token per allowed call; revoking names a token that does not exist:
/// through the wall, refused by the rule.
fn tokens_case(path: &str, n: usize) -> Option<(Vec<(&'static str, String)>, u16)> {
    let s = |v: &str| v.to_string();
    Some(match path {
        "/api/list_my_tokens" | "/api/list_all_tokens" => (vec![], 200),
        "/api/create_token" => (vec![("name", format!("roles {n}")), ("days", s("7"))], 200),
        "/api/revoke_token" => (vec![("id", s("no-such-token"))], 404),
        _ => return None,
    })
}
