//! OpenID Connect sign-in, driven over HTTP as a browser would (no browser:
//! the provider's development pages are plain forms). Refused, audited, and
//! back to the sign-in page with no session and no account made: a callback
//! whose state does not match the session's or with no sign-in in progress;
//! against the real provider (the npm `oidc-provider` of
//! end2end/oidc-provider.mjs, `npm ci` installs it), an ID token for another
//! audience or with a bad signature (the provider tampering with its own
//! answer), a linked user who was disabled, and an email the provider does
//! not say is verified. A verified email finds the existing password
//! account and links it. (Chromium clicks through the same flow in
//! end2end/tests/oidc-sign-in.spec.ts.)

mod support;

use axum::Json;
use axum::routing::get;
use magflock_server::config::OidcConfig;
use magflock_types::{AuditFilter, Outcome, Role};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::{TestServer, config_for};

const CLIENT_ID: &str = "magflock-tests";
const CLIENT_SECRET: &str = "tests-client-secret-not-for-production";

/// The real provider (end2end/oidc-provider.mjs under Node), stopped when dropped.
struct Provider {
    child: Child,
    issuer: String,
}

impl Provider {
    /// Starts it on `port` for `redirect_uri`, tampering as `tamper` says
    /// (`OIDC_TAMPER`: wrong-audience, bad-signature).
    async fn start(port: u16, redirect_uri: &str, tamper: Option<&str>) -> Provider {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        assert!(
            root.join("node_modules/oidc-provider").is_dir(),
            "node_modules/oidc-provider is missing: run ./scripts/setup-tools.sh (npm ci)"
        );
        let mut child = Command::new("node")
            .arg(root.join("end2end/oidc-provider.mjs"))
            .current_dir(&root)
            .env("OIDC_PORT", port.to_string())
            .env("OIDC_REDIRECT_URI", redirect_uri)
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("OIDC_TAMPER", tamper.unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs (Node.js is needed for the OpenID provider)");
        let stdout = child.stdout.take().unwrap();
        let (ready, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains("oidc-provider ready") {
                    let _ = ready.send(());
                }
            }
        });
        // Its warnings are kept for a failure's message, not printed.
        let errors = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (stderr, kept) = (child.stderr.take().unwrap(), errors.clone());
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                kept.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        for _ in 0..300 {
            if wait.try_recv().is_ok() {
                return Provider {
                    child,
                    issuer: format!("http://127.0.0.1:{port}"),
                };
            }
            if let Some(status) = child.try_wait().unwrap() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                panic!(
                    "oidc-provider exited with {status} before it was ready:\n{}",
                    errors.lock().unwrap()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "oidc-provider was not ready within 30 s:\n{}",
            errors.lock().unwrap()
        );
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A MagFlock server whose single sign-on is the real provider (tampering as
/// `tamper` says); the provider starts once the server's callback is known.
async fn with_provider(tamper: Option<&str>) -> (TestServer, Provider, tempfile::TempDir) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(&format!("sqlite://{}/magflock.db", dir.path().display()));
    config.oidc = Some(OidcConfig {
        issuer: format!("http://127.0.0.1:{port}"),
        client_id: CLIENT_ID.into(),
        client_secret: Some(CLIENT_SECRET.into()),
        name: "Flock ID".into(),
        default_role: Role::Auditor,
    });
    let server = TestServer::start_with(config).await;
    server.add_user("owner@example.com", Role::Owner).await;
    let callback = format!("{}/auth/oidc/callback", server.base);
    let provider = Provider::start(port, &callback, tamper).await;
    (server, provider, dir)
}

fn location(response: &reqwest::Response) -> String {
    assert!(
        response.status().is_redirection(),
        "expected a redirect, got {}",
        response.status()
    );
    response.headers()["location"].to_str().unwrap().to_string()
}

/// Signs in at the provider as `login` (any password; consent given), as
/// `browser` starting from MagFlock's "Sign in with ..."; returns where
/// MagFlock's callback then sends the browser.
async fn sign_in(
    server: &TestServer,
    browser: &reqwest::Client,
    provider: &Provider,
    login: &str,
) -> String {
    let absolute = |url: String| {
        if url.starts_with('/') {
            format!("{}{url}", provider.issuer)
        } else {
            url
        }
    };
    // The provider's cookies stay with the provider.
    let at_provider = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut url = location(&server.get(browser, "/auth/oidc/start?next=/users").await);
    for _ in 0..20 {
        if url.starts_with(&server.base) {
            let callback = browser.get(&url).send().await.unwrap();
            return location(&callback);
        }
        let response = at_provider.get(&url).send().await.unwrap();
        if response.status().is_redirection() {
            url = absolute(location(&response));
            continue;
        }
        // One of the provider's pages: sign in, or give consent.
        let page = response.text().await.unwrap();
        let action = page
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no form on the provider's page: {page}"))
            .to_string();
        let mut form = hidden_inputs(&page);
        if page.contains("name=\"login\"") {
            form.push(("login".into(), login.into()));
            form.push(("password".into(), "anything".into()));
        }
        let submitted = at_provider
            .post(absolute(action))
            .form(&form)
            .send()
            .await
            .unwrap();
        url = absolute(location(&submitted));
    }
    panic!("the sign-in did not come back to MagFlock");
}

/// The `(name, value)` of each hidden input of an HTML page.
fn hidden_inputs(page: &str) -> Vec<(String, String)> {
    let attribute = |tag: &str, name: &str| {
        tag.split(&format!("{name}=\""))
            .nth(1)?
            .split('"')
            .next()
            .map(str::to_string)
    };
    page.split("<input")
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
        .filter(|tag| tag.contains("type=\"hidden\""))
        .filter_map(|tag| Some((attribute(tag, "name")?, attribute(tag, "value")?)))
        .collect()
}

/// The signed-in user's email in `browser`'s session, if any.
async fn session_email(server: &TestServer, browser: &reqwest::Client) -> Option<String> {
    let session: serde_json::Value = server
        .call(browser, "/api/current_session", &[])
        .await
        .json()
        .await
        .unwrap();
    session["user"]["email"].as_str().map(str::to_string)
}

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

/// A tampered ID token is refused: no account, no session, an audited reason.
async fn a_tampered_id_token_is_refused(tamper: &str, reason: &str) {
    let (server, provider, _dir) = with_provider(Some(tamper)).await;
    let browser = server.client();
    let landed = sign_in(&server, &browser, &provider, "sam").await;
    // The sign-in page says "Single sign-on did not complete. Try again."
    assert_eq!(landed, "/login?sso=failed");
    assert_eq!(session_email(&server, &browser).await, None);
    let store = &server.running().store;
    assert_eq!(store.user_count().await.unwrap(), 1, "no account was made");
    assert_eq!(
        store.identity_user(&provider.issuer, "sam").await.unwrap(),
        None
    );
    let denials = oidc_denials(&server).await;
    assert_eq!(denials.len(), 1, "{denials:?}");
    assert!(
        denials[0].starts_with("ID token rejected: ") && denials[0].contains(reason),
        "{denials:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_for_another_audience_is_refused() {
    a_tampered_id_token_is_refused("wrong-audience", "another-client").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_with_a_bad_signature_is_refused() {
    a_tampered_id_token_is_refused("bad-signature", "ignature").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_linked_user_is_refused() {
    let (server, provider, _dir) = with_provider(None).await;
    let first = server.client();
    assert_eq!(sign_in(&server, &first, &provider, "sam").await, "/users");
    assert_eq!(
        session_email(&server, &first).await.as_deref(),
        Some("sam.sso@example.com")
    );
    let store = &server.running().store;
    let sam = store
        .identity_user(&provider.issuer, "sam")
        .await
        .unwrap()
        .expect("the first sign-in linked sam");
    store
        .set_user_disabled(&sam, Some(magflock_store::now_millis()))
        .await
        .unwrap();

    let again = server.client();
    // The sign-in page says "This account is disabled."
    assert_eq!(
        sign_in(&server, &again, &provider, "sam").await,
        "/login?sso=disabled"
    );
    assert_eq!(session_email(&server, &again).await, None);
    // The session the first sign-in started ends too.
    assert_eq!(session_email(&server, &first).await, None);
    assert_eq!(oidc_denials(&server).await, ["account disabled"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_email_links_the_password_account_and_an_unverified_one_is_refused() {
    let (server, provider, _dir) = with_provider(None).await;
    let sam = server.add_user("sam.sso@example.com", Role::Admin).await;
    let una = server.add_user("una@example.com", Role::Admin).await;
    let store = &server.running().store;

    // The provider vouches for sam's email: the existing account, linked.
    let browser = server.client();
    assert_eq!(sign_in(&server, &browser, &provider, "sam").await, "/users");
    let session: serde_json::Value = server
        .call(&browser, "/api/current_session", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(session["user"]["id"], sam.id.as_str(), "{session}");
    assert_eq!(session["user"]["role"], "admin", "{session}");
    assert_eq!(
        store.identity_user(&provider.issuer, "sam").await.unwrap(),
        Some(sam.id.clone())
    );
    let logins = store
        .audit_list(&AuditFilter {
            action: Some("auth.login".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let linked: serde_json::Value = serde_json::from_str(&logins.entries[0].detail).unwrap();
    assert_eq!(linked["linked_by"], "email", "{linked}");
    // Its password still signs in.
    server.signed_in("sam.sso@example.com").await;

    // Una's email is not verified: anyone could claim it. Refused, not
    // linked, and no second account.
    let stranger = server.client();
    assert_eq!(
        sign_in(&server, &stranger, &provider, "una").await,
        "/login?sso=failed"
    );
    assert_eq!(session_email(&server, &stranger).await, None);
    assert_eq!(
        store.identity_user(&provider.issuer, "una").await.unwrap(),
        None
    );
    assert_eq!(store.user_count().await.unwrap(), 3);
    assert_eq!(
        store.user_by_id(&una.id).await.unwrap().unwrap().role,
        Role::Admin
    );
    assert_eq!(
        oidc_denials(&server).await,
        ["no linked account and no verified email from the provider"]
    );
    server.stop().await;
}
