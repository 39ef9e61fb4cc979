//! OpenID Connect sign-in refusals that need no browser: a callback whose
//! state does not match the session's, and a callback with no sign-in in
//! progress, are refused, audited, and send the browser back to the sign-in
//! page. (The full flow against a real provider is end2end/tests/oidc-sign-in.spec.ts.)

mod support;

use axum::Json;
use axum::routing::get;
use magflock_server::config::OidcConfig;
use magflock_types::{AuditFilter, Outcome, Role};
use support::{TestServer, config_for};

/// Serves a discovery document (and an empty key set) at a local issuer.
async fn fake_issuer() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let doc = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let doc = doc.clone();
                async move { Json(doc) }
            }),
        )
        .route(
            "/jwks",
            get(|| async { Json(serde_json::json!({"keys": []})) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    issuer
}

async fn oidc_denials(server: &TestServer) -> Vec<String> {
    let page = server
        .running()
        .store
        .audit_list(&AuditFilter {
            action: Some("auth.login".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    page.entries
        .iter()
        .filter(|e| e.outcome == Outcome::Denied)
        .map(|e| {
            let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
            assert_eq!(detail["method"], "oidc");
            detail["reason"].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test]
async fn callbacks_with_a_wrong_or_no_state_are_refused_and_audited() {
    let issuer = fake_issuer().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(&format!("sqlite://{}/magflock.db", dir.path().display()));
    config.oidc = Some(OidcConfig {
        issuer: issuer.clone(),
        client_id: "magflock".into(),
        client_secret: Some("secret".into()),
        name: "Test ID".into(),
        default_role: Role::Auditor,
    });
    let server = TestServer::start_with(config).await;
    server.add_user("owner@example.com", Role::Owner).await;

    // Start: to the provider with state, nonce and a PKCE challenge; the
    // browser is given nothing but its session cookie.
    let browser = server.client();
    let res = server.get(&browser, "/auth/oidc/start?next=/users").await;
    assert!(res.status().is_redirection(), "{}", res.status());
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{issuer}/auth?")),
        "{location}"
    );
    let url = url::Url::parse(&location).unwrap();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_string())
    };
    let state = param("state").expect("state");
    assert!(param("nonce").is_some());
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(
        param("redirect_uri").as_deref(),
        Some(format!("{}/auth/oidc/callback", server.base).as_str())
    );

    // A wrong state is refused before any request to the provider.
    let res = server
        .get(&browser, "/auth/oidc/callback?code=abc&state=forged")
        .await;
    assert!(res.status().is_redirection());
    assert_eq!(res.headers()["location"], "/login?sso=failed");
    assert_eq!(oidc_denials(&server).await, ["state mismatch"]);

    // The state was for one use: the right state now finds nothing in progress.
    let res = server
        .get(
            &browser,
            &format!("/auth/oidc/callback?code=abc&state={state}"),
        )
        .await;
    assert_eq!(res.headers()["location"], "/login?sso=failed");

    // A browser that never started a sign-in.
    let stranger = server.client();
    let res = server
        .get(
            &stranger,
            &format!("/auth/oidc/callback?code=abc&state={state}"),
        )
        .await;
    assert_eq!(res.headers()["location"], "/login?sso=failed");
    let denials = oidc_denials(&server).await;
    assert_eq!(
        denials,
        [
            "no sign-in in progress in this session",
            "no sign-in in progress in this session",
            "state mismatch"
        ]
    );

    // Nobody was signed in by any of this.
    let session = server.call(&stranger, "/api/current_session", &[]).await;
    let body: serde_json::Value = session.json().await.unwrap();
    assert!(body["user"].is_null(), "{body}");
    assert_eq!(body["sign_in_provider"], "Test ID");
    server.stop().await;
}
