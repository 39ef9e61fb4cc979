//! A real kernel for MagGate's tests and benchmarks: control-plane store (a
//! fresh SQLite database), audit writer, durable bus, policy gate, sandbox and
//! lifecycle, trusting the local catalog's first-party key and a fresh
//! publisher key; naming-policy installs from the local catalog, steady from
//! a package signed here.

#![allow(dead_code)]

use magflock_kernel::audit::Actor;
use magflock_kernel::bus::{Bus, ReplayFrom};
use magflock_kernel::dispatch::Dispatcher;
use magflock_kernel::policy_store::Policy;
use magflock_kernel::{Event, PolicyGate, Registry};
use magflock_lifecycle::{
    Decision, Lifecycle, LifecycleConfig, LifecycleError, Offered, Parts, TrustSource,
};
use magflock_maggate::{GateKernel, Gateway};
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

pub const NAMING: &str = "magflock/naming-policy";
pub const STEADY: &str = "magflock/steady";

pub fn workspace() -> PathBuf {
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

pub struct Kernel {
    pub db: TestDb,
    pub store: Arc<SqlStore>,
    pub parts: GateKernel,
    pub lifecycle: Arc<Lifecycle>,
    pub key: KeyPair,
    _root: tempfile::TempDir,
}

pub async fn kernel() -> Kernel {
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
        audit.clone(),
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
            audit,
        },
        lifecycle,
        key,
        _root: root,
    }
}

impl Kernel {
    pub async fn approve(&self, request: magflock_kernel::lifecycle_store::CapabilityRequest) {
        let decision = Decision::Approve {
            grants: None,
            comment: None,
        };
        self.lifecycle
            .decide(&request.id, decision, &admin())
            .await
            .unwrap();
    }

    pub async fn install_naming_policy(&self) {
        let request = self
            .lifecycle
            .request_install_from_catalog(NAMING, None, true, &admin())
            .await
            .unwrap();
        self.approve(request).await;
    }

    pub async fn install_steady(&self) {
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

    pub async fn events(&self) -> Vec<Event> {
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
    pub async fn wait_for_events(&self, wanted: impl Fn(&[Event]) -> bool) -> Vec<Event> {
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

pub async fn serve(gateway: &Gateway) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = gateway
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
    format!("http://{addr}")
}

pub async fn json(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}
