//! The compiled-component cache: a second load deserialises what the first
//! compiled; a damaged artifact is recompiled, never trusted.

mod support;

use magflock_sandbox::{CallMode, SandboxConfig};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_are_compiled_once_and_damaged_artifacts_are_recompiled() {
    let cache = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..SandboxConfig::default()
    };
    let kernel = Kernel::with_config(config).await;
    let wasm = guest_wasm("magflock-ext-steady");

    let started = std::time::Instant::now();
    kernel
        .sandbox
        .load(parse(&manifest_text("steady")), &wasm)
        .unwrap();
    let cold = started.elapsed();
    let artifacts: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    assert!(artifacts[0].extension().is_some_and(|e| e == "cwasm"));

    let started = std::time::Instant::now();
    let loaded = kernel
        .sandbox
        .load(parse(&manifest_text("steady")), &wasm)
        .unwrap();
    let warm = started.elapsed();
    assert!(
        warm < cold,
        "cached load {warm:?} should beat compiling {cold:?}"
    );
    kernel.gate.enable(STEADY).unwrap();
    assert_eq!(
        loaded.run_command("ping", &[], CallMode::Fresh).unwrap(),
        "pong"
    );

    // Damage the artifact: the next load recompiles and rewrites it.
    std::fs::write(&artifacts[0], b"not a compiled component").unwrap();
    let loaded = kernel
        .sandbox
        .load(parse(&manifest_text("steady")), &wasm)
        .unwrap();
    kernel.gate.enable(STEADY).unwrap();
    assert_eq!(
        loaded.run_command("ping", &[], CallMode::Fresh).unwrap(),
        "pong"
    );
    assert!(
        std::fs::metadata(&artifacts[0]).unwrap().len() > 1000,
        "the artifact was rewritten"
    );
    kernel.db.cleanup().await;
}
