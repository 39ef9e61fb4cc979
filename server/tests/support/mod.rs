//! A real `magflock` server for integration tests: started in-process on port
//! 0 against a fresh SQLite file or a fresh PostgreSQL database, with helpers to
//! add accounts and call server functions as a browser would (cookies, form
//! bodies, same-origin headers).

#![allow(dead_code)]

use leptos::config::LeptosOptions;
use magflock_app::server::passwords;
use magflock_server::{Config, Running, start};
use magflock_store::Engine;
use magflock_store::testing::{drop_pg_database, fresh_pg_database, pg_url_for};
use magflock_types::{NewUser, Role, User};
use reqwest::redirect::Policy;

pub const PASSWORD: &str = "Sturdy-Password-2026";

pub struct TestServer {
    pub engine: Engine,
    pub base: String,
    pub config: Config,
    running: Option<Running>,
    pg_database: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

pub fn config_for(database_url: &str) -> Config {
    Config {
        database_url: database_url.to_string(),
        leptos: LeptosOptions::builder()
            .output_name("magflock")
            .site_root("target/site")
            .site_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .build(),
        public_origin: None,
        trust_proxy: false,
        secure_cookies: false,
        data_dir: std::env::temp_dir().join(format!("magflock-test-{}", uuid_like())),
        event_retention_days: 7,
        catalog_dir: std::env::temp_dir().join(format!("magflock-test-catalog-{}", uuid_like())),
        health_interval_secs: 60,
        keep_previous_hours: 24,
        oidc: None,
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestServer {
    pub async fn start(engine: Engine) -> TestServer {
        let (url, pg_database, dir) = match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                (
                    format!("sqlite://{}/magflock.db", dir.path().display()),
                    None,
                    Some(dir),
                )
            }
            Engine::Postgres => {
                let name = fresh_pg_database().await;
                (pg_url_for(&name), Some(name), None)
            }
        };
        let config = config_for(&url);
        let running = start(config.clone()).await.expect("server starts");
        let base = format!("http://{}", running.addr);
        TestServer {
            engine,
            base,
            config,
            running: Some(running),
            pg_database,
            _dir: dir,
        }
    }

    /// A server on SQLite with `config` as given (its database URL, data and
    /// catalog folders); the caller keeps the folders.
    pub async fn start_with(config: Config) -> TestServer {
        let running = start(config.clone()).await.expect("server starts");
        TestServer {
            engine: Engine::Sqlite,
            base: format!("http://{}", running.addr),
            config,
            running: Some(running),
            pg_database: None,
            _dir: None,
        }
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("server is running")
    }

    /// Stops the server and starts it again on the same database and port.
    pub async fn restart(&mut self) {
        let addr = self.running().addr;
        self.running.take().unwrap().stop().await;
        let mut config = self.config.clone();
        config.leptos.site_addr = addr;
        self.running = Some(start(config).await.expect("server restarts"));
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
        if let Some(name) = self.pg_database.take() {
            drop_pg_database(&name).await;
        }
    }

    /// Creates an account directly in the store (the first one is the owner).
    pub async fn add_user(&self, email: &str, role: Role) -> User {
        let store = &self.running().store;
        let new = NewUser {
            email: email.into(),
            display_name: email.split('@').next().unwrap().into(),
            role,
            password_hash: passwords::hash(PASSWORD).unwrap(),
        };
        if store.user_count().await.unwrap() == 0 {
            store.create_first_owner(new).await.unwrap()
        } else {
            store.create_user(new).await.unwrap()
        }
    }

    /// A browser-like client: keeps cookies, does not follow redirects, and sends
    /// this server as its Origin.
    pub fn client(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("origin", self.base.parse().unwrap());
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .default_headers(headers)
            .build()
            .unwrap()
    }

    pub async fn call(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, String)],
    ) -> reqwest::Response {
        client
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Calls a server function; returns the status and the body as text.
    pub async fn status(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, String) {
        let form: Vec<(&str, String)> = form.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let res = self.call(client, path, &form).await;
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// Like [`TestServer::status`], with the body read as JSON (a body that
    /// is not JSON comes back as a JSON string).
    pub async fn status_json(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let (status, text) = self.status(client, path, form).await;
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, body)
    }

    /// Calls a server function that must answer 200 and decodes its JSON;
    /// a panic names the path (and the form, for a status other than 200).
    pub async fn ok<T: serde::de::DeserializeOwned>(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> T {
        let (status, body) = self.status(client, path, form).await;
        assert_eq!(status, 200, "{path} {form:?}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    /// Audit entries whose action starts with `action` (the store's filter),
    /// newest first, at most 200.
    pub async fn audit(&self, action: &str) -> Vec<magflock_types::AuditEntry> {
        let filter = magflock_types::AuditFilter {
            action: Some(action.to_string()),
            limit: 200,
            ..magflock_types::AuditFilter::default()
        };
        self.running()
            .store
            .audit_list(&filter)
            .await
            .unwrap()
            .entries
    }

    /// A client signed in as `email`.
    pub async fn signed_in(&self, email: &str) -> reqwest::Client {
        let client = self.client();
        let res = self
            .call(
                &client,
                "/api/login",
                &[("email", email.into()), ("password", PASSWORD.into())],
            )
            .await;
        assert_eq!(
            res.status(),
            200,
            "sign-in as {email}: {}",
            res.text().await.unwrap_or_default()
        );
        client
    }

    /// Signs in as `email` without a cookie store and returns the session
    /// cookie (`magflock_session=…`), for clients that set it by hand (such
    /// as a WebSocket handshake).
    pub async fn session_cookie(&self, email: &str) -> String {
        let response = reqwest::Client::new()
            .post(format!("{}/api/login", self.base))
            .header("origin", &self.base)
            .form(&[("email", email), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "sign-in as {email}");
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("magflock_session="))
            .and_then(|c| c.split(';').next())
            .expect("a session cookie")
            .to_string()
    }

    pub async fn get(&self, client: &reqwest::Client, path: &str) -> reqwest::Response {
        client
            .get(format!("{}{path}", self.base))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap()
    }
}

/// Installs `extensions/<dir>` (built by scripts/build-extensions.sh) into a
/// running server, signed by a publisher key the admin trusts, approving
/// every capability it asks for; enabled when `enable`.
pub async fn install_guest(running: &Running, dir: &str, enable: bool) {
    use magflock_kernel::audit::Actor;
    use magflock_lifecycle::{Decision, Offered};
    use magflock_package::{KeyPair, Package};
    use magflock_store::TrustedKeyRow;

    let admin = Actor::user("u-1", "owner@example.test");
    let key = KeyPair::generate("tester");
    let public = key.public_file();
    running
        .store
        .trusted_key_add(&TrustedKeyRow {
            key_id: public.key_id.clone(),
            publisher: public.publisher.clone(),
            public_key: public.public.clone(),
            level: "verified_publisher".into(),
            added_by: Some("u-1".into()),
            added_at: 0,
        })
        .await
        .unwrap();
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let wasm = format!(
        "target/wasm32-wasip2/guest/magflock_ext_{}.wasm",
        dir.replace('-', "_")
    );
    let mut files = std::collections::BTreeMap::new();
    files.insert(
        "magflock.toml".to_string(),
        std::fs::read(root.join("extensions").join(dir).join("magflock.toml")).unwrap(),
    );
    files.insert(
        "extension.wasm".to_string(),
        std::fs::read(root.join(&wasm)).unwrap_or_else(|e| {
            panic!("{wasm}: {e}; build the guests with scripts/build-extensions.sh")
        }),
    );
    let mut package = Package::from_files(files).unwrap();
    package.sign(&key);
    let offered = Offered {
        bytes: package.to_bytes().unwrap(),
        required_by: Vec::new(),
    };
    let lifecycle = &running.kernel.lifecycle;
    let request = lifecycle
        .request_install(vec![offered], enable, &admin)
        .await
        .unwrap();
    let approve = Decision::Approve {
        grants: None,
        comment: None,
    };
    lifecycle
        .decide(&request.id, approve, &admin)
        .await
        .unwrap();
}

/// How long one test case may run: far above the slowest case on a loaded
/// 2-core machine, so only a hang reaches it.
pub const CASE_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Runs `case`, failing with a clear message instead of hanging the whole
/// test run when it does not finish within [`CASE_LIMIT`].
pub async fn within_limit<T>(case: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(CASE_LIMIT, case)
        .await
        .unwrap_or_else(|_| panic!("the test did not finish within {CASE_LIMIT:?}: it hangs"))
}

/// Runs `case` once per engine, each on its own server and database, each
/// within [`CASE_LIMIT`].
#[macro_export]
macro_rules! on_both_engines {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let server = $crate::support::TestServer::start(magflock_store::Engine::Sqlite).await;
                let server = $crate::support::within_limit(super::$case(server)).await;
                server.stop().await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let server = $crate::support::TestServer::start(magflock_store::Engine::Postgres).await;
                let server = $crate::support::within_limit(super::$case(server)).await;
                server.stop().await;
            })*
        }
    };
}
