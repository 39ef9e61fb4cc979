//! A real kernel without extensions for MagWS's tests and benchmark: a fresh
//! SQLite control-plane store, audit writer, durable bus, policy gate,
//! sandbox, dispatcher and MagGate (for API keys), and MagWS served on a
//! loopback port.

#![allow(dead_code)]

use magflock_kernel::bus::Bus;
use magflock_kernel::dispatch::Dispatcher;
use magflock_kernel::policy_store::Policy;
use magflock_kernel::{PolicyGate, Registry};
use magflock_maggate::{GateConfig, GateKernel, Gateway};
use magflock_magws::{MagWs, WsConfig};
use magflock_sandbox::{MemoryScheduler, Metrics, Sandbox, SandboxConfig, durable_services};
use magflock_store::testing::TestDb;
use magflock_store::{AuditWriter, SqlStore, Store};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

pub struct Served {
    pub ws: MagWs,
    pub gateway: Gateway,
    pub bus: Arc<Bus>,
    /// `ws://127.0.0.1:<port>/ws`
    pub url: String,
    pub db: TestDb,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _root: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Served {
    pub async fn key(&self, project: &str) -> String {
        self.gateway
            .keys()
            .issue_key(project, "test", None)
            .await
            .unwrap()
            .plaintext
    }
}

/// MagWS with `config`, connected to a fresh kernel, listening on loopback.
pub async fn serve(config: WsConfig) -> Served {
    let db = TestDb::sqlite().await;
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(SqlStore::open(&db.url).await.unwrap());
    let audit = AuditWriter::spawn(store.clone() as Arc<dyn Store>);
    let bus = Arc::new(Bus::new(Arc::new(store.event_log())));
    let gate = Arc::new(PolicyGate::new());
    let policy = Policy::new(gate.clone(), store.clone(), audit.clone());
    let ws = MagWs::new(bus.clone(), config);
    let services = durable_services(
        &policy,
        audit.clone(),
        bus.clone(),
        store.clone(),
        Arc::new(Metrics::default()),
        Arc::new(MemoryScheduler::default()),
        &root.path().join("files"),
    );
    let sandbox = Arc::new(Sandbox::new(services, SandboxConfig::default()).unwrap());
    let registry = Arc::new(RwLock::new(Registry::new()));
    let dispatcher = Arc::new(Dispatcher::new(
        registry.clone(),
        gate.clone(),
        sandbox.clone(),
        audit.clone(),
    ));
    let gateway = Gateway::new(
        GateKernel {
            dispatcher,
            registry,
            sandbox,
            gate,
            bus: bus.clone(),
            audit,
        },
        store.clone() as Arc<dyn Store>,
        GateConfig::default(),
    );
    let tasks = ws.connect(gateway.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let app = ws.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Served {
        ws,
        gateway,
        bus,
        url: format!("ws://{addr}/ws"),
        db,
        tasks,
        _root: root,
    }
}
