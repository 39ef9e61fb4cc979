//! MagGate end to end: a real kernel (control-plane store, bus, policy gate,
//! sandbox, lifecycle) with naming-policy installed from the local catalog
//! and steady from a signed package, the gateway's router on 127.0.0.1:0, and
//! reqwest as the client.

use magflock_kernel::audit::Actor;
use magflock_kernel::bus::{Bus, ReplayFrom};
use magflock_kernel::dispatch::Dispatcher;
use magflock_kernel::policy_store::Policy;
use magflock_kernel::{Event, PolicyGate, Registry};
use magflock_lifecycle::{
    Decision, Lifecycle, LifecycleConfig, LifecycleError, Offered, Parts, TrustSource,
};
use magflock_maggate::{GateConfig, GateKernel, Gateway, Quota};
use magflock_package::{KeyPair, Package, SignatureLevel, TrustStore, TrustedKey};
use magflock_sandbox::{MemoryScheduler, Metrics, Sandbox, SandboxConfig, durable_services};
use magflock_store::testing::TestDb;
use magflock_store::{AuditWriter, SqlStore, Store};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

const NAMING: &str = "magflock/naming-policy";
const STEADY: &str = "magflock/steady";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn admin() -> Actor {
    Actor::user("u-1", "owner@example.test")
}

struct Trust(TrustStore);

#[async_trait::async_trait]
impl TrustSource for Trust {
    async fn trust_store(&self) -> Result<TrustStore, LifecycleError> {
        Ok(self.0.clone())
    }
    async fn allow_unsigned(&self) -> Result<bool, LifecycleError> {
        Ok(false)
    }
}

struct Kernel {
    db: TestDb,
    store: Arc<SqlStore>,
    parts: GateKernel,
    lifecycle: Arc<Lifecycle>,
    key: KeyPair,
    _root: tempfile::TempDir,
}

async fn kernel() -> Kernel {
    let catalog = workspace().join("target/catalog");
    assert!(
        catalog.join("index.json").is_file(),
        "build the local catalog first: scripts/build-catalog.sh"
    );
    let db = TestDb::sqlite().await;
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(SqlStore::open(&db.url).await.unwrap());
    let audit = AuditWriter::spawn(store.clone() as Arc<dyn Store>);
    let bus = Arc::new(Bus::new(Arc::new(store.event_log())));
    let gate = Arc::new(PolicyGate::new());
    let policy = Policy::new(gate.clone(), store.clone(), audit.clone());
    let services = durable_services(
        &policy,
        audit.clone(),
        bus.clone(),
        store.clone(),
        Arc::new(Metrics::default()),
        Arc::new(MemoryScheduler::default()),
        &root.path().join("files"),
    );
    let sandbox_config = SandboxConfig {
        cache_dir: Some(root.path().join("components")),
        ..SandboxConfig::default()
    };
    let sandbox = Arc::new(Sandbox::new(services, sandbox_config).unwrap());
    let registry = Arc::new(RwLock::new(Registry::new()));
    let key = KeyPair::generate("MagFlock");
    let mut trust = TrustStore::new();
    trust.add(TrustedKey::from_file(&key.public_file(), SignatureLevel::FirstParty).unwrap());
    trust.add(
        TrustedKey::read(&catalog.join("first-party.pub"), SignatureLevel::FirstParty).unwrap(),
    );
    let mut config = LifecycleConfig::new(root.path().join("extensions"));
    config.local_catalog = Some(catalog);
    let parts = Parts {
        sandbox: sandbox.clone(),
        registry: registry.clone(),
        policy,
        store: store.clone(),
        areas: Arc::new(store.extension_areas(root.path().join("areas"))),
        kv: store.clone(),
        audit: audit.clone(),
        bus: bus.clone(),
        trust: Arc::new(Trust(trust)),
    };
    let lifecycle = Arc::new(Lifecycle::new(parts, config));
    let dispatcher = Arc::new(Dispatcher::new(
        registry.clone(),
        gate.clone(),
        sandbox.clone(),
        audit,
    ));
    Kernel {
        db,
        store,
        parts: GateKernel {
            dispatcher,
            registry,
            sandbox,
            gate,
            bus,
        },
        lifecycle,
        key,
        _root: root,
    }
}

impl Kernel {
    async fn approve(&self, request: magflock_kernel::lifecycle_store::CapabilityRequest) {
        let decision = Decision::Approve {
            grants: None,
            comment: None,
        };
        self.lifecycle
            .decide(&request.id, decision, &admin())
            .await
            .unwrap();
    }

    async fn install_naming_policy(&self) {
        let request = self
            .lifecycle
            .request_install_from_catalog(NAMING, None, true, &admin())
            .await
            .unwrap();
        self.approve(request).await;
    }

    async fn install_steady(&self) {
        let mut files = BTreeMap::new();
        let manifest = std::fs::read(workspace().join("extensions/steady/magflock.toml")).unwrap();
        let wasm_path = workspace().join("target/wasm32-wasip2/guest/magflock_ext_steady.wasm");
        let wasm = std::fs::read(&wasm_path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; build the guests with scripts/build-extensions.sh",
                wasm_path.display()
            )
        });
        files.insert("magflock.toml".to_string(), manifest);
        files.insert("extension.wasm".to_string(), wasm);
        let mut package = Package::from_files(files).unwrap();
        package.sign(&self.key);
        let offered = Offered {
            bytes: package.to_bytes().unwrap(),
            required_by: Vec::new(),
        };
        let request = self
            .lifecycle
            .request_install(vec![offered], true, &admin())
            .await
            .unwrap();
        self.approve(request).await;
    }

    async fn events(&self) -> Vec<Event> {
        self.parts
            .bus
            .replay(ReplayFrom::Seq(0), 100_000)
            .await
            .unwrap()
            .into_iter()
            .map(|logged| logged.event)
            .filter(|e| e.source.component == "maggate")
            .collect()
    }

    /// Waits (up to 10 s) for the events matching `wanted`.
    async fn wait_for_events(&self, wanted: impl Fn(&[Event]) -> bool) -> Vec<Event> {
        for _ in 0..100 {
            let events = self.events().await;
            if wanted(&events) {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.events().await
    }
}

async fn serve(gateway: &Gateway) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = gateway
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
    format!("http://{addr}")
}

async fn json(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_gateway_serves_filters_limits_and_reports() {
    let kernel = kernel().await;
    kernel.install_naming_policy().await;
    kernel.install_steady().await;
    let gateway = Gateway::new(
        kernel.parts.clone(),
        kernel.store.clone(),
        GateConfig::default(),
    );
    let base = serve(&gateway).await;
    let http = reqwest::Client::new();

    // The OpenAPI document is public and lists the extension's endpoint.
    let doc = json(
        http.get(format!("{base}/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let check = &doc["paths"]["/ext/magflock/naming-policy/check"];
    assert_eq!(check["get"]["summary"], "Check a database name", "{doc}");
    assert_eq!(check["x-magflock-extension"]["id"], NAMING);
    assert!(doc["paths"]["/v1/whoami"].is_object());

    // No key, a malformed key, an unknown key: 401 with a clear JSON error.
    let whoami = format!("{base}/v1/whoami");
    let answer = http.get(&whoami).send().await.unwrap();
    assert_eq!(answer.status(), 401);
    assert_eq!(json(answer).await["error"], "missing_api_key");
    let answer = http.get(&whoami).bearer_auth("nope").send().await.unwrap();
    assert_eq!(json(answer).await["error"], "malformed_api_key");
    let unknown = "mf_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let answer = http.get(&whoami).bearer_auth(unknown).send().await.unwrap();
    assert_eq!(answer.status(), 401);
    assert_eq!(json(answer).await["error"], "unknown_api_key");

    // Issue a key: it authenticates, and steady's wrap_request tagged the request.
    let issued = gateway
        .keys()
        .issue_key("proj_1", "ci", Some("u-1"))
        .await
        .unwrap();
    assert!(issued.plaintext.starts_with("mf_") && issued.plaintext.len() > 40);
    assert_eq!(issued.record.prefix, &issued.plaintext[..8]);
    assert!(!format!("{issued:?}").contains(&issued.plaintext));
    let key = issued.plaintext.clone();
    let answer = http.get(&whoami).bearer_auth(&key).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.headers().contains_key("x-request-id"));
    let me = json(answer).await;
    assert_eq!(me["project"], "proj_1");
    assert_eq!(me["prefix"], issued.record.prefix.as_str());
    assert_eq!(
        me["tagged_by"], STEADY,
        "steady's wrap_request modification applies: {me}"
    );
    let listed = gateway.keys().list(Some("proj_1")).await.unwrap();
    assert!(listed[0].last_used_at.is_some(), "the use is recorded");
    assert_ne!(listed[0].key_hash, key, "only the hash is stored");

    // The extension endpoint, end to end.
    let check_url = format!("{base}/ext/magflock/naming-policy/check");
    let answer = http
        .get(format!("{check_url}?name=pg_x"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let verdict = json(answer).await;
    assert_eq!(verdict["allowed"], false, "{verdict}");
    let answer = http
        .get(format!("{base}/ext/magflock/naming-policy/nothing"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);

    // wrap_request denial: 403 with the extension's reason.
    let answer = http
        .get(format!("{check_url}?name=ok"))
        .bearer_auth(&key)
        .header("x-forbidden", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 403);
    let denied = json(answer).await;
    assert_eq!(denied["extension"], STEADY, "{denied}");
    assert!(
        denied["reason"].as_str().unwrap().contains("x-forbidden"),
        "{denied}"
    );

    // An oversized body: 413.
    let answer = http
        .post(&check_url)
        .bearer_auth(&key)
        .body(vec![b'x'; 1024 * 1024 + 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 413);
    assert_eq!(json(answer).await["error"], "payload_too_large");

    // Revoked: 401.
    assert!(gateway.keys().revoke(&issued.record.id).await.unwrap());
    let answer = http.get(&whoami).bearer_auth(&key).send().await.unwrap();
    assert_eq!(answer.status(), 401);
    let refused = json(answer).await;
    assert_eq!(refused["error"], "revoked_api_key");
    assert!(!refused.to_string().contains(&key));

    // Events, read back from the bus.
    let events = kernel
        .wait_for_events(|events| {
            events.iter().any(|e| {
                e.event_type == "api.response.sent"
                    && e.data["route"] == "/ext/magflock/naming-policy/check"
            })
        })
        .await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert!(types.contains(&"api.request.received"), "{types:?}");
    let sent = events
        .iter()
        .find(|e| {
            e.event_type == "api.response.sent"
                && e.data["route"] == "/ext/magflock/naming-policy/check"
        })
        .unwrap();
    assert_eq!(sent.data["status"], 200);
    assert!(sent.data["duration_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(sent.context.project_id.as_deref(), Some("proj_1"));
    assert!(
        !serde_json::to_string(&events).unwrap().contains(&key),
        "no event holds the key"
    );

    // Usage analytics, in memory.
    let usage = gateway.usage().snapshot();
    let route = usage
        .iter()
        .find(|r| r.route == "/ext/magflock/naming-policy/check")
        .unwrap();
    assert_eq!(route.count, 2, "{route:?}");
    assert_eq!(route.statuses.get(&200), Some(&1), "{route:?}");
    assert_eq!(route.statuses.get(&413), Some(&1), "{route:?}");
    let refused = usage.iter().find(|r| r.route == "unmatched").unwrap();
    assert!(
        refused.statuses.contains_key(&403) && refused.statuses.contains_key(&401),
        "{refused:?}"
    );
    assert_eq!(
        gateway.emit_usage().await.unwrap(),
        0,
        "no extension handles usage_analytics_emitter"
    );

    // Rate limits: a gateway allowing 3 requests a minute per client.
    let strict = Gateway::new(
        kernel.parts.clone(),
        kernel.store.clone(),
        GateConfig {
            rate_limit: Quota::new(3, 60),
            ..GateConfig::default()
        },
    );
    let strict_base = serve(&strict).await;
    for _ in 0..3 {
        let answer = http
            .get(format!("{strict_base}/openapi.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    let answer = http
        .get(format!("{strict_base}/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 429);
    let retry: u64 = answer.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    assert_eq!(json(answer).await["error"], "rate_limited");
    let events = kernel
        .wait_for_events(|events| {
            events
                .iter()
                .any(|e| e.event_type == "api.rate_limit.exceeded")
        })
        .await;
    let exceeded = events
        .iter()
        .find(|e| e.event_type == "api.rate_limit.exceeded")
        .unwrap();
    assert_eq!(exceeded.data["limit"], 3);
    assert_eq!(exceeded.data["client_id"], "ip:127.0.0.1");

    drop((gateway, strict));
    kernel.db.cleanup().await;
}
