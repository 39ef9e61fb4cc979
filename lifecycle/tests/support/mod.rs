//! A real lifecycle manager for tests: a fresh control-plane database (SQLite
//! or PostgreSQL), the audit writer, the durable bus, the policy store, the
//! sandbox with the guests built from `extensions/`, each extension's own
//! database area, and packages signed with a first-party key made per test.

#![allow(dead_code)]

use magflock_kernel::audit::Actor;
use magflock_kernel::bus::{Bus, ReplayFrom};
use magflock_kernel::lifecycle_store::LifecycleStore;
use magflock_kernel::policy_store::Policy;
use magflock_kernel::{Event, PolicyGate, Registry};
use magflock_lifecycle::{Lifecycle, LifecycleConfig, LifecycleError, Parts, TrustSource};
use magflock_package::{KeyPair, Package, SignatureLevel, TrustStore, TrustedKey};
use magflock_sandbox::{MemoryScheduler, Metrics, Sandbox, SandboxConfig, durable_services};
use magflock_store::testing::TestDb;
use magflock_store::{AuditWriter, Engine, SqlStore, Store};
use magflock_types::{AuditEntry, AuditFilter};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub const STEADY: &str = "magflock/steady";

pub fn steady_wasm() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm32-wasip2/guest/magflock_ext_steady.wasm");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build the guests first with scripts/build-extensions.sh",
            path.display()
        )
    })
}

/// Steady's manifest at `version`, with `extra` TOML appended (capabilities,
/// dependencies, config).
pub fn steady_manifest(id: &str, version: &str, extra: &str) -> String {
    format!(
        r#"[extension]
id = "{id}"
name = "Steady"
version = "{version}"
publisher = "MagFlock"
description = "Lifecycle test extension."
license = "Apache-2.0"
kernel_api = "^0.1"

{extra}

[[capabilities]]
name = "system.metrics"
justification = "Counts the commands it answers."

[[capabilities]]
name = "api.emit_events"
justification = "Announces each ping."

[[capabilities]]
name = "api.intercept_request"
justification = "Tags API requests."

[[capabilities]]
name = "filesystem.temp_only"
justification = "Keeps a scratch file."

[[capabilities]]
name = "network.outbound"
justification = "Fetches a status page."
hosts = ["status.example.test", "127.0.0.1"]

[[capabilities]]
name = "realtime.subscribe_events"
justification = "Counts extension events."

[[capabilities]]
name = "ui.register_widget"
justification = "Shows its pings."

[[hooks]]
name = "wrap_request"
failure = "open"
priority = 10

[contributes]
commands = [{{ id = "ping" }}, {{ id = "metric" }}, {{ id = "remember" }}]
"#
    )
}

pub fn admin() -> Actor {
    Actor::user("u-1", "owner@example.test")
}

/// Trust decided in the test: one first-party key, development mode off
/// unless switched on.
pub struct TestTrust {
    pub store: TrustStore,
    pub allow_unsigned: AtomicBool,
}

#[async_trait::async_trait]
impl TrustSource for TestTrust {
    async fn trust_store(&self) -> Result<TrustStore, LifecycleError> {
        Ok(self.store.clone())
    }
    async fn allow_unsigned(&self) -> Result<bool, LifecycleError> {
        Ok(self.allow_unsigned.load(Ordering::SeqCst))
    }
}

pub struct Harness {
    pub db: TestDb,
    pub store: Arc<SqlStore>,
    pub audit: Arc<AuditWriter>,
    pub bus: Arc<Bus>,
    pub gate: Arc<PolicyGate>,
    pub sandbox: Arc<Sandbox>,
    pub registry: Arc<RwLock<Registry>>,
    pub lifecycle: Arc<Lifecycle>,
    pub trust: Arc<TestTrust>,
    pub key: KeyPair,
    pub root: Arc<tempfile::TempDir>,
    config: LifecycleConfig,
}

impl Harness {
    pub async fn new(engine: Engine) -> Harness {
        Harness::with(engine, |_| {}).await
    }

    pub async fn with(engine: Engine, tune: impl FnOnce(&mut LifecycleConfig)) -> Harness {
        let db = TestDb::new(engine).await;
        let root = Arc::new(tempfile::tempdir().unwrap());
        let key = KeyPair::generate("MagFlock");
        let mut trust = TrustStore::new();
        trust.add(TrustedKey::from_file(&key.public_file(), SignatureLevel::FirstParty).unwrap());
        let trust = Arc::new(TestTrust {
            store: trust,
            allow_unsigned: AtomicBool::new(false),
        });
        let mut config = LifecycleConfig::new(root.path().join("extensions"));
        tune(&mut config);
        Harness::assemble(db, root, key, trust, config).await
    }

    async fn assemble(
        db: TestDb,
        root: Arc<tempfile::TempDir>,
        key: KeyPair,
        trust: Arc<TestTrust>,
        config: LifecycleConfig,
    ) -> Harness {
        let store = Arc::new(SqlStore::open(&db.url).await.expect("open store"));
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
        let sandbox = Arc::new(Sandbox::new(services, sandbox_config).expect("sandbox"));
        let registry = Arc::new(RwLock::new(Registry::new()));
        let parts = Parts {
            sandbox: sandbox.clone(),
            registry: registry.clone(),
            policy,
            store: store.clone(),
            areas: Arc::new(store.extension_areas(root.path().join("areas"))),
            kv: store.clone(),
            audit: audit.clone(),
            bus: bus.clone(),
            trust: trust.clone(),
        };
        let lifecycle = Arc::new(Lifecycle::new(parts, config.clone()));
        Harness {
            db,
            store,
            audit,
            bus,
            gate,
            sandbox,
            registry,
            lifecycle,
            trust,
            key,
            root,
            config,
        }
    }

    /// A restart: a new process's kernel over the same database and files.
    /// (The test database is kept; `self` is consumed.)
    pub async fn restart(self) -> Harness {
        let Harness {
            db,
            root,
            key,
            trust,
            config,
            ..
        } = self;
        Harness::assemble(db, root, key, trust, config).await
    }

    /// A signed package of steady under `manifest`, with migrations
    /// `(name, up, down)`.
    pub fn package(&self, manifest: &str, migrations: &[(&str, &str, Option<&str>)]) -> Vec<u8> {
        let mut package = unsigned(manifest, migrations);
        package.sign(&self.key);
        package.to_bytes().unwrap()
    }

    /// Approves a request in full, as an admin.
    pub async fn approve_all(
        &self,
        request: &magflock_kernel::lifecycle_store::CapabilityRequest,
    ) -> Result<magflock_kernel::lifecycle_store::CapabilityRequest, LifecycleError> {
        self.lifecycle
            .decide(
                &request.id,
                magflock_lifecycle::Decision::Approve {
                    grants: None,
                    comment: None,
                },
                &admin(),
            )
            .await
    }

    /// The migrations applied in `extension`'s own area, in order.
    pub async fn applied(&self, extension: &str) -> Vec<String> {
        use magflock_kernel::lifecycle_store::ExtensionSchemas;
        self.store
            .extension_areas(self.root.path().join("areas"))
            .applied(extension)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect()
    }

    pub async fn install(&self, bytes: Vec<u8>) -> Result<(), LifecycleError> {
        let request = self
            .lifecycle
            .request_install(
                vec![magflock_lifecycle::Offered {
                    bytes,
                    required_by: Vec::new(),
                }],
                false,
                &admin(),
            )
            .await?;
        self.approve_all(&request).await.map(|_| ())
    }

    pub async fn audit_actions(&self, target: &str) -> Vec<String> {
        self.audit_entries(target)
            .await
            .into_iter()
            .map(|e| e.action)
            .collect()
    }

    pub async fn audit_entries(&self, target: &str) -> Vec<AuditEntry> {
        use magflock_kernel::audit::AuditSink;
        self.audit.flush().await.unwrap();
        let filter = AuditFilter {
            limit: 1000,
            ..AuditFilter::default()
        };
        let mut entries: Vec<AuditEntry> = self
            .store
            .audit_list(&filter)
            .await
            .unwrap()
            .entries
            .into_iter()
            .filter(|e| e.target.as_deref() == Some(target))
            .collect();
        entries.reverse();
        entries
    }

    pub async fn event_types(&self, extension: &str) -> Vec<String> {
        let events: Vec<Event> = self
            .bus
            .replay(ReplayFrom::Seq(0), 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|logged| logged.event)
            .collect();
        events
            .into_iter()
            .filter(|e| e.source.extension.as_deref() == Some(extension))
            .map(|e| e.event_type)
            .collect()
    }

    pub async fn kv(&self, extension: &str, key: &str) -> Option<String> {
        use magflock_kernel::kv::KeyValueStore;
        self.store
            .kv_get(extension, key)
            .await
            .unwrap()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    pub async fn set_kv(&self, extension: &str, key: &str, value: &str) {
        use magflock_kernel::kv::KeyValueStore;
        self.store
            .kv_set(extension, key, value.as_bytes())
            .await
            .unwrap();
    }

    pub async fn run(&self, extension: &str, command: &str) -> Result<String, String> {
        let loaded = self.sandbox.get(extension).map_err(|e| e.to_string())?;
        let command = command.to_string();
        tokio::task::spawn_blocking(move || {
            loaded
                .run_command(&command, &[], magflock_sandbox::CallMode::Warm)
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap()
    }

    pub fn installed_file(&self, extension: &str, version: &str) -> PathBuf {
        magflock_lifecycle::PackageFiles::new(&self.config.root).installed(extension, version)
    }

    pub fn extension_dir(&self, extension: &str) -> PathBuf {
        magflock_lifecycle::PackageFiles::new(&self.config.root).extension_dir(extension)
    }

    pub async fn pending_requests(&self) -> usize {
        self.store
            .requests(Some(
                magflock_kernel::lifecycle_store::RequestStatus::Pending,
            ))
            .await
            .unwrap()
            .len()
    }
}

pub fn unsigned(manifest: &str, migrations: &[(&str, &str, Option<&str>)]) -> Package {
    let mut files = BTreeMap::new();
    files.insert("magflock.toml".to_string(), manifest.as_bytes().to_vec());
    files.insert("extension.wasm".to_string(), steady_wasm());
    for (name, up, down) in migrations {
        files.insert(format!("migrations/{name}.up.sql"), up.as_bytes().to_vec());
        if let Some(down) = down {
            files.insert(
                format!("migrations/{name}.down.sql"),
                down.as_bytes().to_vec(),
            );
        }
    }
    Package::from_files(files).unwrap()
}

/// Waits up to `limit` for `check`.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    check()
}

impl Harness {
    /// Drops the test database (PostgreSQL) after the test.
    pub async fn cleanup(self) {
        let Harness { db, lifecycle, .. } = self;
        drop(lifecycle);
        db.cleanup().await;
    }
}

/// Makes two multi-threaded `#[tokio::test]`s of each `async fn case(Engine)`:
/// one on SQLite, one on PostgreSQL.
#[macro_export]
macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case(magflock_store::Engine::Sqlite).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case(magflock_store::Engine::Postgres).await;
            })*
        }
    };
}
