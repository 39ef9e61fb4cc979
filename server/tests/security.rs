//! Sign-in throttling, cross-site refusal, session rotation and revocation, the
//! absolute session lifetime, sessions surviving a restart, and the headers
//! every response carries, on both engines.

mod support;

use magflock_types::Role;
use support::{PASSWORD, TestServer};

async fn login(
    server: &TestServer,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    server
        .call(
            client,
            "/api/login",
            &[("email", email.into()), ("password", password.into())],
        )
        .await
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.cookies()
        .find(|c| c.name() == "magflock_session")
        .map(|c| c.value().to_string())
}

async fn failed_sign_ins_are_throttled_without_revealing_accounts(
    server: TestServer,
) -> TestServer {
    server.add_user("owner@example.com", Role::Owner).await;
    let client = server.client();
    let known = login(&server, &client, "owner@example.com", "wrong-password-1").await;
    let unknown = login(&server, &client, "ghost@example.com", "wrong-password-1").await;
    assert_eq!(known.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert_eq!(
        known.text().await.unwrap(),
        unknown.text().await.unwrap(),
        "same answer for unknown emails"
    );

    for _ in 0..4 {
        assert_eq!(
            login(&server, &client, "owner@example.com", "wrong-password-1")
                .await
                .status(),
            401
        );
    }
    let throttled = login(&server, &client, "owner@example.com", PASSWORD).await;
    assert_eq!(
        throttled.status(),
        429,
        "even the right password waits once throttled"
    );
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let error: magflock_app::AppError = throttled.json().await.unwrap();
    assert_eq!(
        error,
        magflock_app::AppError::Throttled {
            retry_after_secs: retry_after
        }
    );
    assert!(
        error
            .to_string()
            .starts_with("Too many failed sign-in attempts. Try again in")
    );

    let audit = server
        .running()
        .store
        .audit_list(&magflock_types::AuditFilter {
            action: Some("auth.login".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    let outcomes: Vec<_> = audit.entries.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "failure").count(), 6);
    assert_eq!(outcomes.iter().filter(|o| **o == "denied").count(), 1);
    assert!(
        audit
            .entries
            .iter()
            .all(|e| !e.detail.contains("wrong-password")),
        "passwords never reach the audit log"
    );
    server
}

async fn cross_site_changes_are_refused(server: TestServer) -> TestServer {
    server.add_user("owner@example.com", Role::Owner).await;
    let client = server.signed_in("owner@example.com").await;
    let res = client
        .post(format!("{}/api/update_settings", server.base))
        .header("origin", "http://evil.example")
        .form(&[
            ("instance_name", "Pwned"),
            ("session_idle_minutes", "30"),
            ("session_max_hours", "12"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let settings = server.running().store.settings_all().await.unwrap();
    assert!(
        settings.iter().all(|(_, v)| v != "Pwned"),
        "nothing changed"
    );
    server
}

async fn sign_in_rotates_the_session_id(server: TestServer) -> TestServer {
    server.add_user("owner@example.com", Role::Owner).await;
    let client = server.client();
    let first = session_cookie(&login(&server, &client, "owner@example.com", PASSWORD).await)
        .expect("cookie set");
    let second_res = login(&server, &client, "owner@example.com", PASSWORD).await;
    let second = session_cookie(&second_res).expect("cookie set again");
    assert_ne!(first, second, "a new id at every sign-in");
    let header = second_res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|h| h.to_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Lax"),
        "{header}"
    );

    // The old id no longer signs anyone in.
    let stale = reqwest::Client::new();
    let res = stale
        .post(format!("{}/api/dashboard_summary", server.base))
        .header("cookie", format!("magflock_session={first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    server
}

async fn disabling_a_user_ends_their_session_at_once(server: TestServer) -> TestServer {
    server.add_user("owner@example.com", Role::Owner).await;
    let auditor = server.add_user("auditor@example.com", Role::Auditor).await;
    let owner = server.signed_in("owner@example.com").await;
    let victim = server.signed_in("auditor@example.com").await;
    assert_eq!(
        server
            .call(&victim, "/api/dashboard_summary", &[])
            .await
            .status(),
        200
    );
    let res = server
        .call(
            &owner,
            "/api/set_user_enabled",
            &[("user_id", auditor.id.clone()), ("enabled", "false".into())],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        server
            .call(&victim, "/api/dashboard_summary", &[])
            .await
            .status(),
        401
    );
    assert_eq!(
        login(&server, &server.client(), "auditor@example.com", PASSWORD)
            .await
            .status(),
        401,
        "disabled accounts cannot sign in"
    );
    server
}

async fn admins_cannot_touch_owners_and_nobody_demotes_themselves(
    server: TestServer,
) -> TestServer {
    let owner = server.add_user("owner@example.com", Role::Owner).await;
    let admin_user = server.add_user("admin@example.com", Role::Admin).await;
    let admin = server.signed_in("admin@example.com").await;
    let attempts = [
        (
            "/api/change_role",
            vec![
                ("user_id", owner.id.clone()),
                ("role", "auditor".to_string()),
            ],
        ),
        (
            "/api/set_user_enabled",
            vec![
                ("user_id", owner.id.clone()),
                ("enabled", "false".to_string()),
            ],
        ),
        (
            "/api/reset_password",
            vec![
                ("user_id", owner.id.clone()),
                ("new_password", "Brand-New-Pass-99".to_string()),
            ],
        ),
        (
            "/api/create_user",
            vec![
                ("email", "o2@example.com".to_string()),
                ("display_name", "O2".to_string()),
                ("role", "owner".to_string()),
                ("password", PASSWORD.to_string()),
            ],
        ),
    ];
    for (path, form) in attempts {
        assert_eq!(
            server.call(&admin, path, &form).await.status(),
            403,
            "{path}"
        );
    }
    let own = server
        .call(
            &admin,
            "/api/change_role",
            &[
                ("user_id", admin_user.id.clone()),
                ("role", "auditor".into()),
            ],
        )
        .await;
    assert_eq!(own.status(), 409);
    let owner_client = server.signed_in("owner@example.com").await;
    let last_owner = server
        .call(
            &owner_client,
            "/api/set_user_enabled",
            &[("user_id", owner.id.clone()), ("enabled", "false".into())],
        )
        .await;
    assert_eq!(last_owner.status(), 409);
    server
}

async fn sessions_survive_a_restart(mut server: TestServer) -> TestServer {
    server.add_user("owner@example.com", Role::Owner).await;
    let client = server.signed_in("owner@example.com").await;
    server.restart().await;
    assert_eq!(
        server
            .call(&client, "/api/dashboard_summary", &[])
            .await
            .status(),
        200
    );
    server
}

async fn sessions_end_after_their_maximum_length(server: TestServer) -> TestServer {
    server.add_user("owner@example.com", Role::Owner).await;
    let client = server.signed_in("owner@example.com").await;
    // Age the stored session past the 12-hour default by rewriting its login time.
    let store = &server.running().store;
    let aged = "UPDATE sessions SET data = REPLACE(data, '\"login_at\":', '\"login_at\":1,\"x\":')";
    let raw = magflock_store::SqlStore::open(&server.config.database_url)
        .await
        .unwrap();
    sqlx::Executor::execute(raw.pool(), aged).await.unwrap();
    raw.close().await;
    assert_eq!(
        server
            .call(&client, "/api/dashboard_summary", &[])
            .await
            .status(),
        401
    );
    let expired = store
        .audit_list(&magflock_types::AuditFilter {
            action: Some("auth.session_expired".into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(expired.total_matching, 1);
    server
}

async fn responses_carry_security_headers_and_site_files_are_revalidated(
    server: TestServer,
) -> TestServer {
    server.add_user("owner@example.com", Role::Owner).await;
    let client = server.client();
    let page = server.get(&client, "/login").await;
    assert_eq!(page.status(), 200);
    let header = |res: &reqwest::Response, name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(header(&page, "x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(
        header(&page, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(
        header(&page, "referrer-policy").as_deref(),
        Some("same-origin")
    );
    assert_ne!(header(&page, "cache-control").as_deref(), Some("no-cache"));
    // The site's files (present or not in this build of the site): always
    // revalidated, so an upgrade is never mixed with a cached older file.
    for path in [
        "/pkg/magflock.wasm",
        "/pkg/magflock.js",
        "/pkg/chunk_1.wasm",
    ] {
        let asset = server.get(&client, path).await;
        assert_eq!(
            header(&asset, "cache-control").as_deref(),
            Some("no-cache"),
            "{path}"
        );
        assert_eq!(
            header(&asset, "x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
    }
    server
}

on_both_engines!(
    responses_carry_security_headers_and_site_files_are_revalidated,
    failed_sign_ins_are_throttled_without_revealing_accounts,
    cross_site_changes_are_refused,
    sign_in_rotates_the_session_id,
    disabling_a_user_ends_their_session_at_once,
    admins_cannot_touch_owners_and_nobody_demotes_themselves,
    sessions_survive_a_restart,
    sessions_end_after_their_maximum_length,
);
