//! Hostile guests, built from `extensions/hostile`: every attack is stopped,
//! the extension quarantined and audited, an `extension.error` event
//! published, and the well-behaved `steady` keeps answering throughout.

mod support;

use magflock_kernel::dispatch::Dispatched;
use magflock_kernel::{Capability, Denial, Status};
use magflock_sandbox::{CallMode, SandboxError, Stop};
use magflock_types::{ActorKind, Outcome};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use support::*;

/// Answers `ping` on a thread of its own until told to stop; counts answers
/// and failures.
struct Bystander {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<()>,
}

impl Bystander {
    fn start(kernel: &Kernel) -> Bystander {
        let loaded = kernel.sandbox.get(STEADY).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let (s, a, f) = (stop.clone(), answered.clone(), failed.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match loaded.run_command("ping", &[], CallMode::Warm) {
                    Ok(answer) if answer == "pong" => a.fetch_add(1, Ordering::Relaxed),
                    _ => f.fetch_add(1, Ordering::Relaxed),
                };
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        });
        Bystander {
            stop,
            answered,
            failed,
            thread,
        }
    }

    fn finish(self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        (
            self.answered.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

/// Runs `command`, expects the stop `matches`, and checks the quarantine,
/// its audit entry, its stored record and its `extension.error` event.
async fn expect_stopped(kernel: &Kernel, extension: &str, command: &str, kind: &str) -> Stop {
    assert_eq!(
        kernel.command(extension, "ping", &[]).await.unwrap(),
        "pong",
        "healthy before '{command}'"
    );
    let head = kernel.bus.head().await.unwrap();
    let err = kernel.command(extension, command, &[]).await.unwrap_err();
    let stop = match err {
        SandboxError::Stopped {
            extension: ref who,
            ref stop,
        } => {
            assert_eq!(who, extension);
            stop.clone()
        }
        other => panic!("'{command}' was not stopped: {other}"),
    };
    assert_eq!(stop.kind(), kind, "'{command}' stopped as {stop}");
    assert!(
        matches!(
            kernel.gate.status(extension),
            Some(Status::Quarantined { .. })
        ),
        "'{command}' did not quarantine"
    );
    // Quarantined: nothing of it runs until an admin enables it.
    let refused = kernel.command(extension, "ping", &[]).await.unwrap_err();
    assert!(
        matches!(
            refused,
            SandboxError::NotRunnable {
                denial: Denial::Quarantined(_),
                ..
            }
        ),
        "{refused}"
    );

    let entries = kernel.audit_entries().await;
    let entry = entries
        .iter()
        .rev()
        .find(|e| e.action == "extension.quarantined" && e.target.as_deref() == Some(extension))
        .unwrap_or_else(|| panic!("no audit entry for '{command}'"));
    assert!(entry.detail.contains(kind), "{}", entry.detail);
    assert!(
        kernel.stored_quarantine(extension).await,
        "quarantine of '{command}' not stored"
    );
    let event = kernel
        .wait_for_event(head, |e| {
            e.event_type == "extension.error"
                && e.data["kind"] == kind
                && e.data["call"] == "run-command"
        })
        .await;
    assert_eq!(event.data["extension"], extension);
    assert_eq!(event.data["kind"], kind);
    assert_eq!(event.source.extension.as_deref(), Some(extension));

    kernel.policy.enable(extension, &admin()).await.unwrap();
    stop
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attack_is_stopped_quarantined_and_audited_while_steady_keeps_answering() {
    let kernel = Kernel::with_steady_and_hostile().await;
    let bystander = Bystander::start(&kernel);

    let stop = expect_stopped(&kernel, HOSTILE, "spin", "deadline_exceeded").await;
    assert_eq!(stop, Stop::Deadline { deadline_ms: 50 });
    let stop = expect_stopped(&kernel, HOSTILE, "bomb", "memory_limit_exceeded").await;
    assert!(
        matches!(stop, Stop::MemoryLimit { cap_bytes, .. } if cap_bytes == 16 << 20),
        "{stop:?}"
    );
    expect_stopped(&kernel, HOSTILE, "recurse", "stack_overflow").await;
    expect_stopped(&kernel, HOSTILE, "panic", "panic").await;
    let stop = expect_stopped(&kernel, HOSTILE, "huge", "result_too_large").await;
    assert!(
        matches!(stop, Stop::ResultTooLarge { bytes, .. } if bytes == 8 << 20),
        "{stop:?}"
    );

    // Requested in the manifest, never granted: the second wall.
    for (command, capability, call) in [
        (
            "write-db",
            Capability::DatabaseWrite,
            "database-write.execute",
        ),
        (
            "write-file",
            Capability::FilesystemTempOnly,
            "filesystem-temp.write",
        ),
        (
            "call-out",
            Capability::NetworkOutbound,
            "network-outbound.fetch",
        ),
    ] {
        let stop = expect_stopped(&kernel, HOSTILE, command, "capability_violation").await;
        assert_eq!(
            stop,
            Stop::CapabilityViolation {
                capability,
                call: call.into(),
                denial: Denial::NotGranted
            }
        );
        let entries = kernel.audit_entries().await;
        let denied = entries
            .iter()
            .rev()
            .find(|e| e.action == "extension.host_call" && e.outcome == Outcome::Denied)
            .expect("the refused host call is audited");
        assert_eq!(denied.actor_kind, ActorKind::Extension);
        assert_eq!(denied.actor_id.as_deref(), Some(HOSTILE));
        assert_eq!(denied.target.as_deref(), Some(capability.as_str()));
        assert!(denied.detail.contains(call), "{}", denied.detail);
    }
    assert!(
        !kernel
            .temp_root
            .path()
            .join("extensions-tmp")
            .join("test__hostile")
            .join("loot.txt")
            .exists()
    );

    let (answered, failed) = bystander.finish();
    assert_eq!(failed, 0, "steady failed while hostile was attacking");
    assert!(answered > 20, "steady answered only {answered} times");
    assert_eq!(kernel.gate.status(STEADY), Some(Status::Enabled));
    kernel.db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_loop_runs_out_of_fuel_under_a_small_cpu_budget() {
    let kernel = Kernel::new().await;
    let text = manifest_text("hostile")
        .replace("fuel_per_call = 2000000000", "fuel_per_call = 5000000")
        .replace("deadline_ms = 50", "deadline_ms = 30000");
    kernel
        .install_enabled(parse(&text), "magflock-ext-hostile")
        .await;
    let stop = expect_stopped(&kernel, HOSTILE, "spin", "cpu_budget_exceeded").await;
    assert_eq!(stop, Stop::CpuBudget { fuel: 5_000_000 });
    kernel.db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_grants_there_is_no_ambient_file_network_or_environment() {
    let kernel = Kernel::with_steady_and_hostile().await;
    let report = kernel.command(HOSTILE, "ambient", &[]).await.unwrap();
    assert!(report.contains("file=Err("), "{report}");
    assert!(report.contains("env=0"), "{report}");
    assert!(report.contains("net=Err("), "{report}");
    assert_eq!(kernel.gate.status(HOSTILE), Some(Status::Enabled));
    kernel.db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_importing_beyond_its_manifest_is_refused_before_it_runs() {
    let kernel = Kernel::new().await;
    let text = manifest_text("hostile").replace(
        "[[capabilities]]\nname = \"database.write\"\njustification = \"Tries to write without a grant.\"\n",
        "",
    );
    let manifest = parse(&text);
    let wasm = guest_wasm("magflock-ext-hostile");
    let err = kernel
        .sandbox
        .load(manifest, &wasm)
        .map(|_| ())
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("magflock:extension/database-write@0.1.0"),
        "{text}"
    );
    assert!(text.contains("'database.write'"), "{text}");
    assert!(kernel.sandbox.get(HOSTILE).is_err());
    assert_eq!(kernel.gate.status(HOSTILE), None);
    kernel.db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_its_current_manifest_no_longer_requests_traps_at_run_time() {
    let kernel = Kernel::with_steady_and_hostile().await;
    kernel
        .policy
        .grant(
            HOSTILE,
            magflock_kernel::Grant::new(Capability::DatabaseWrite),
            &admin(),
        )
        .await
        .unwrap();
    // Re-registered (e.g. upgraded) without database.write, while the loaded
    // component still imports it: the undeclared call is caught at call time.
    let text = manifest_text("hostile").replace(
        "[[capabilities]]\nname = \"database.write\"\njustification = \"Tries to write without a grant.\"\n",
        "",
    );
    kernel.gate.register(&parse(&text));
    let stop = expect_stopped(&kernel, HOSTILE, "write-db", "capability_violation").await;
    assert_eq!(
        stop,
        Stop::CapabilityViolation {
            capability: Capability::DatabaseWrite,
            call: "database-write.execute".into(),
            denial: Denial::NotRequested,
        }
    );
    kernel.db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_slower_than_its_deadline_is_stopped_and_fails_open() {
    let kernel = Kernel::with_steady_and_hostile().await;
    for (id, cap) in [
        (STEADY, Capability::ApiInterceptRequest),
        (HOSTILE, Capability::ApiInterceptRequest),
    ] {
        kernel
            .policy
            .grant(id, magflock_kernel::Grant::new(cap), &admin())
            .await
            .unwrap();
    }
    let dispatcher = Arc::new(kernel.dispatcher(&["steady", "hostile"]));
    let started = std::time::Instant::now();
    let d = dispatcher.clone();
    let result = tokio::task::spawn_blocking(move || {
        d.dispatch(
            "wrap_request",
            r#"{"method":"GET","path":"/v1/items","headers":{}}"#,
        )
    })
    .await
    .unwrap()
    .unwrap();
    let elapsed = started.elapsed();
    // steady (priority 10) tags it; hostile (default priority) misses its
    // 50 ms deadline, is stopped, and its filter fails open.
    match result {
        Dispatched::Proceed { payload } => assert!(
            payload.contains("\"tagged_by\":\"magflock/steady\""),
            "{payload}"
        ),
        other => panic!("expected the request to proceed: {other:?}"),
    }
    assert!(
        elapsed < std::time::Duration::from_secs(5),
        "took {elapsed:?}"
    );
    assert!(
        matches!(kernel.gate.status(HOSTILE), Some(Status::Quarantined { reason }) if reason.contains("50 ms deadline"))
    );
    let entries = kernel.audit_entries().await;
    let hostile_run = entries
        .iter()
        .find(|e| e.action == "extension.hook_run" && e.actor_id.as_deref() == Some(HOSTILE))
        .expect("the hostile hook run is audited");
    assert_eq!(hostile_run.outcome, Outcome::Failure);
    assert!(
        hostile_run.detail.contains("failed_open"),
        "{}",
        hostile_run.detail
    );

    // A later dispatch skips the quarantined extension; steady's denial stops it.
    let d = dispatcher.clone();
    let denied = tokio::task::spawn_blocking(move || {
        d.dispatch(
            "wrap_request",
            r#"{"method":"GET","path":"/","headers":{"x-forbidden":"1"}}"#,
        )
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        denied,
        Dispatched::Denied {
            extension: STEADY.into(),
            reason: "the x-forbidden header is not allowed".into()
        }
    );
    kernel.db.cleanup().await;
}
