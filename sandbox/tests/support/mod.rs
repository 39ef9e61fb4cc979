//! A real kernel for sandbox tests: a fresh SQLite control-plane database with
//! the audit writer, the durable event bus and the policy store on it, and the
//! guests built from `extensions/` (scripts/build-extensions.sh).

#![allow(dead_code)]

use magflock_kernel::Registry;
use magflock_kernel::audit::{Actor, AuditSink};
use magflock_kernel::bus::{Bus, ReplayFrom};
use magflock_kernel::dispatch::Dispatcher;
use magflock_kernel::policy_store::Policy;
use magflock_kernel::{Event, Manifest, PolicyGate};
use magflock_sandbox::{MemoryScheduler, Metrics, Sandbox, SandboxConfig, durable_services};
use magflock_store::testing::TestDb;
use magflock_store::{AuditWriter, Engine, SqlStore, Store};
use magflock_types::{AuditEntry, AuditFilter};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

pub const STEADY: &str = "magflock/steady";
pub const HOSTILE: &str = "test/hostile";

pub fn guest_wasm(crate_name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm32-wasip2/guest")
        .join(format!("{}.wasm", crate_name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build the guests first with scripts/build-extensions.sh",
            path.display()
        )
    })
}

pub fn manifest_text(folder: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../extensions")
        .join(folder)
        .join("magflock.toml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn parse(text: &str) -> Manifest {
    Manifest::parse(text, "magflock.toml").unwrap_or_else(|e| panic!("{e}"))
}

pub fn admin() -> Actor {
    Actor::user("u-1", "owner@example.test")
}

pub struct Kernel {
    pub db: TestDb,
    pub store: Arc<SqlStore>,
    pub audit: Arc<AuditWriter>,
    pub bus: Arc<Bus>,
    pub gate: Arc<PolicyGate>,
    pub policy: Policy,
    pub metrics: Arc<Metrics>,
    pub scheduler: Arc<MemoryScheduler>,
    pub sandbox: Arc<Sandbox>,
    pub temp_root: tempfile::TempDir,
}

impl Kernel {
    pub async fn new() -> Kernel {
        Kernel::with_config(SandboxConfig::default()).await
    }

    pub async fn with_config(config: SandboxConfig) -> Kernel {
        let db = TestDb::new(Engine::Sqlite).await;
        let store = Arc::new(SqlStore::open(&db.url).await.expect("open store"));
        let audit = AuditWriter::spawn(store.clone() as Arc<dyn Store>);
        let bus = Arc::new(Bus::new(Arc::new(store.event_log())));
        let gate = Arc::new(PolicyGate::new());
        let policy = Policy::new(gate.clone(), store.clone(), audit.clone());
        let metrics = Arc::new(Metrics::default());
        let scheduler = Arc::new(MemoryScheduler::default());
        let temp_root = tempfile::tempdir().unwrap();
        let services = durable_services(
            &policy,
            audit.clone(),
            bus.clone(),
            store.clone(),
            metrics.clone(),
            scheduler.clone(),
            temp_root.path(),
        );
        let sandbox = Arc::new(Sandbox::new(services, config).expect("sandbox"));
        Kernel {
            db,
            store,
            audit,
            bus,
            gate,
            policy,
            metrics,
            scheduler,
            sandbox,
            temp_root,
        }
    }

    /// Loads a guest under a manifest, stores its (disabled) policy, and
    /// enables it as an admin would.
    pub async fn install(&self, manifest: Manifest, crate_name: &str) {
        let wasm = guest_wasm(crate_name);
        let sandbox = self.sandbox.clone();
        tokio::task::spawn_blocking(move || sandbox.load(manifest, &wasm).map(|_| ()))
            .await
            .unwrap()
            .expect("load");
    }

    /// A kernel with `steady` and `hostile` installed and enabled, nothing granted.
    pub async fn with_steady_and_hostile() -> Kernel {
        let kernel = Kernel::new().await;
        kernel
            .install_enabled(parse(&manifest_text("steady")), "magflock-ext-steady")
            .await;
        kernel
            .install_enabled(parse(&manifest_text("hostile")), "magflock-ext-hostile")
            .await;
        kernel
    }

    /// A dispatcher over a registry of the extensions in these
    /// `extensions/<folder>`s, running them in this kernel's sandbox.
    pub fn dispatcher(&self, folders: &[&str]) -> Dispatcher {
        let mut registry = Registry::new();
        for folder in folders {
            let file = format!("{folder}/magflock.toml");
            registry
                .register(parse(&manifest_text(folder)), &file)
                .unwrap();
        }
        Dispatcher::new(
            Arc::new(RwLock::new(registry)),
            self.gate.clone(),
            self.sandbox.clone(),
            self.audit.clone(),
        )
    }

    pub async fn install_enabled(&self, manifest: Manifest, crate_name: &str) {
        let id = manifest.id.clone();
        self.install(manifest, crate_name).await;
        self.policy.enable(&id, &admin()).await.expect("enable");
    }

    /// Runs a command on a blocking thread, as the server does.
    pub async fn command(
        &self,
        extension: &str,
        command: &str,
        args: &[&str],
    ) -> Result<String, magflock_sandbox::SandboxError> {
        let loaded = self.sandbox.get(extension)?;
        let command = command.to_string();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            loaded.run_command(&command, &args, magflock_sandbox::CallMode::Warm)
        })
        .await
        .unwrap()
    }

    /// Every audit entry so far, oldest first (after flushing the writer).
    pub async fn audit_entries(&self) -> Vec<AuditEntry> {
        self.audit.flush().await.expect("flush audit");
        let page = self
            .store
            .audit_list(&AuditFilter {
                limit: 500,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut entries = page.entries;
        entries.reverse();
        entries
    }

    /// Every event in the log.
    pub async fn events(&self) -> Vec<Event> {
        self.bus
            .replay(ReplayFrom::Seq(0), 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|logged| logged.event)
            .collect()
    }

    /// Waits (up to 5 s) for an event matching `wanted`, published after
    /// sequence number `after`.
    pub async fn wait_for_event(&self, after: u64, wanted: impl Fn(&Event) -> bool) -> Event {
        for _ in 0..100 {
            let logged = self
                .bus
                .replay(ReplayFrom::Seq(after + 1), 10_000)
                .await
                .unwrap();
            if let Some(found) = logged.into_iter().find(|l| wanted(&l.event)) {
                return found.event;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the expected event was never published");
    }

    /// Waits (up to 5 s) until the stored policy of `extension` says quarantined.
    pub async fn stored_quarantine(&self, extension: &str) -> bool {
        use magflock_kernel::policy_store::PolicyStore;
        for _ in 0..100 {
            let stored = self.store.load_policies().await.unwrap();
            if stored.iter().any(|p| {
                p.extension == extension
                    && matches!(p.status, magflock_kernel::Status::Quarantined { .. })
            }) {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    }
}
