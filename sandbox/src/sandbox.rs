//! [`Sandbox`]: one wasmtime engine for every extension, the linker with every
//! host import, and the loaded extensions.

use magflock_kernel::Manifest;
use magflock_kernel::contract::{self, ImportKind};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::bindings::Extension;
use crate::extension::LoadedExtension;
use crate::services::Services;
use crate::state::HostState;
use crate::{SandboxError, cache};

#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Where compiled components are cached; `None` compiles every load.
    pub cache_dir: Option<PathBuf>,
    /// How many instances may be live at once (pooling allocator slots).
    pub max_instances: u32,
    /// The largest result (string or bytes) a guest may return.
    pub max_result_bytes: u64,
    /// The epoch tick; deadlines are counted in ticks.
    pub epoch_tick: Duration,
    /// Capture the guest's stack on a trap (helps extension authors; costs
    /// a few microseconds on every trap).
    pub wasm_backtraces: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            cache_dir: None,
            max_instances: 200,
            max_result_bytes: 1 << 20,
            epoch_tick: Duration::from_millis(1),
            wasm_backtraces: false,
        }
    }
}

pub struct Sandbox {
    engine: Engine,
    linker: Linker<HostState>,
    services: Arc<Services>,
    config: SandboxConfig,
    loaded: Arc<RwLock<HashMap<String, Arc<LoadedExtension>>>>,
    ticker_stop: Arc<AtomicBool>,
}

impl Sandbox {
    pub fn new(services: Services, config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let mut wasm = Config::new();
        wasm.consume_fuel(true)
            .epoch_interruption(true)
            .wasm_component_model(true)
            .max_wasm_stack(512 * 1024)
            .wasm_backtrace_max_frames(if config.wasm_backtraces {
                NonZeroUsize::new(20)
            } else {
                None
            });
        let slots = config.max_instances.max(1);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(slots)
            .total_core_instances(slots * 8)
            .total_memories(slots * 2)
            .total_tables(slots * 4)
            .max_memory_size(512 << 20)
            // Reset a returned slot by zeroing what it touched (up to these
            // sizes) instead of giving pages back to the kernel: instantiation
            // then faults no pages in for a typical guest's stack and heap.
            .linear_memory_keep_resident(2 << 20)
            .table_keep_resident(64 << 10);
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm)
            .map_err(|e| SandboxError::Internal(format!("wasmtime engine: {e:#}")))?;

        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| SandboxError::Internal(format!("linking WASI: {e:#}")))?;
        Extension::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
            .map_err(|e| SandboxError::Internal(format!("linking host imports: {e:#}")))?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), config.epoch_tick, ticker_stop.clone());
        Ok(Sandbox {
            engine,
            linker,
            services: Arc::new(services),
            config,
            loaded: Arc::new(RwLock::new(HashMap::new())),
            ticker_stop,
        })
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Compiles (or loads from the cache) an extension's component, checks its
    /// imports against the contract and its manifest, registers the manifest
    /// with the policy gate and makes it the serving version. Nothing of the
    /// extension runs. Replaces an extension loaded under the same id.
    pub fn load(
        &self,
        manifest: Manifest,
        wasm: &[u8],
    ) -> Result<Arc<LoadedExtension>, SandboxError> {
        let loaded = self.prepare(manifest, wasm)?;
        self.services.gate.register(loaded.manifest());
        self.activate(loaded.clone());
        Ok(loaded)
    }

    /// Compiles and checks a component like [`Sandbox::load`], but neither
    /// registers it with the policy gate nor makes it the serving version:
    /// only the caller holds it (the lifecycle manager installs and
    /// health-checks a new version this way while the old one serves).
    pub fn prepare(
        &self,
        manifest: Manifest,
        wasm: &[u8],
    ) -> Result<Arc<LoadedExtension>, SandboxError> {
        let component = cache::compile(&self.engine, wasm, self.config.cache_dir.as_deref())?;
        let imports = check_imports(&self.engine, &component, &manifest)?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            SandboxError::Component(format!("{}: cannot be linked: {e:#}", manifest.id))
        })?;
        let pre = crate::bindings::ExtensionPre::new(pre).map_err(|e| {
            SandboxError::Component(format!(
                "{}: does not export the guest interface: {e:#}",
                manifest.id
            ))
        })?;
        let tick_ms = self.config.epoch_tick.as_millis().max(1) as u64;
        Ok(Arc::new(LoadedExtension::new(
            manifest,
            pre,
            imports,
            self.services.clone(),
            self.config.max_result_bytes,
            tick_ms,
            self.reclaimer(),
        )))
    }

    /// What a full pool calls: give back every other extension's idle
    /// instances (a warm instance is a cache, never a reservation).
    fn reclaimer(&self) -> crate::extension::Reclaim {
        let loaded = Arc::downgrade(&self.loaded);
        Arc::new(move |except: &str| {
            let Some(loaded) = loaded.upgrade() else {
                return 0;
            };
            let others: Vec<Arc<LoadedExtension>> = loaded
                .read()
                .expect("sandbox lock")
                .values()
                .filter(|l| l.id() != except)
                .cloned()
                .collect();
            others.iter().map(|l| l.drop_idle()).sum()
        })
    }

    /// Makes `loaded` the version every new call reaches, in one step; calls
    /// already running finish on the version they started on. Returns the
    /// version it replaced.
    pub fn activate(&self, loaded: Arc<LoadedExtension>) -> Option<Arc<LoadedExtension>> {
        self.loaded
            .write()
            .expect("sandbox lock")
            .insert(loaded.id().to_string(), loaded)
    }

    /// Stops serving `extension` (its instances are dropped once running
    /// calls finish) without touching its policy entry.
    pub fn deactivate(&self, extension: &str) -> Option<Arc<LoadedExtension>> {
        self.loaded.write().expect("sandbox lock").remove(extension)
    }

    /// Drops the extension's instances and its policy entry.
    pub fn unload(&self, extension: &str) -> bool {
        let removed = self.loaded.write().expect("sandbox lock").remove(extension);
        if removed.is_some() {
            self.services.gate.unregister(extension);
        }
        removed.is_some()
    }

    pub fn get(&self, extension: &str) -> Result<Arc<LoadedExtension>, SandboxError> {
        self.loaded
            .read()
            .expect("sandbox lock")
            .get(extension)
            .cloned()
            .ok_or_else(|| SandboxError::NotLoaded(extension.to_string()))
    }

    pub fn loaded(&self) -> Vec<Arc<LoadedExtension>> {
        self.loaded
            .read()
            .expect("sandbox lock")
            .values()
            .cloned()
            .collect()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Advances the engine's epoch once per `tick` of wall-clock time. A late
/// wake-up (a busy machine) catches up on every missed tick, so deadlines
/// follow the clock rather than how often this thread got to run.
fn spawn_epoch_ticker(engine: Engine, tick: Duration, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("magflock-epoch".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            let tick_nanos = tick.as_nanos().max(1);
            let mut ticks: u128 = 0;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                let due = started.elapsed().as_nanos() / tick_nanos;
                while ticks < due {
                    engine.increment_epoch();
                    ticks += 1;
                }
            }
        })
        .expect("spawning the epoch ticker");
}

/// The component's imports: each must be WASI or an interface of this
/// contract, and each capability interface must be requested by the manifest.
fn check_imports(
    engine: &Engine,
    component: &wasmtime::component::Component,
    manifest: &Manifest,
) -> Result<Vec<String>, SandboxError> {
    let mut problems = Vec::new();
    let mut names = Vec::new();
    for (name, _) in component.component_type().imports(engine) {
        names.push(name.to_string());
        match contract::classify_import(name) {
            None => problems.push(format!("imports '{name}', which this kernel does not provide")),
            Some(ImportKind::Host(Some(capability))) if !manifest.requests(capability) => problems.push(format!(
                "imports '{name}', which needs capability '{capability}' that its manifest does not request"
            )),
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(names)
    } else {
        Err(SandboxError::Component(format!(
            "{}: {}",
            manifest.id,
            problems.join("; ")
        )))
    }
}
