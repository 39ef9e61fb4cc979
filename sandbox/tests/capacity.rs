//! The instance pool is shared by every extension: a warm instance is a
//! cache, never a reservation. When the pool is full, other extensions' idle
//! instances are given back; when it is still full, the call fails with a
//! capacity error and nobody is quarantined (it is not the guest's fault).

mod support;

use magflock_kernel::Status;
use magflock_sandbox::{SandboxConfig, SandboxError};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pool_reclaims_idle_instances_and_never_quarantines() {
    let kernel = Kernel::with_config(SandboxConfig {
        max_instances: 2,
        ..SandboxConfig::default()
    })
    .await;
    let steady = manifest_text("steady");
    let ids = ["pool/a", "pool/b", "pool/c"];
    for id in ids {
        let text = steady.replace("id = \"magflock/steady\"", &format!("id = \"{id}\""));
        kernel
            .install_enabled(parse(&text), "magflock-ext-steady")
            .await;
    }
    // a and b each keep a warm instance: both slots are taken.
    for id in &ids[..2] {
        assert_eq!(kernel.command(id, "ping", &[]).await.unwrap(), "pong");
        assert_eq!(kernel.sandbox.get(id).unwrap().idle_instances(), 1);
    }
    // c needs a slot: the idle ones are given back, and c runs.
    assert_eq!(kernel.command("pool/c", "ping", &[]).await.unwrap(), "pong");
    assert_eq!(kernel.sandbox.get("pool/a").unwrap().idle_instances(), 0);
    assert_eq!(kernel.sandbox.get("pool/b").unwrap().idle_instances(), 0);

    // More instances at once than the pool holds: a capacity error, no quarantine.
    let c = kernel.sandbox.get("pool/c").unwrap();
    let error = tokio::task::spawn_blocking(move || c.prewarm(3))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&error, SandboxError::Capacity { extension, .. } if extension == "pool/c"),
        "{error}"
    );
    assert!(
        error.to_string().contains("maximum concurrent limit of 2"),
        "{error}"
    );
    for id in ids {
        assert_eq!(kernel.gate.status(id), Some(Status::Enabled), "{id}");
    }
    assert_eq!(kernel.command("pool/a", "ping", &[]).await.unwrap(), "pong");
}
