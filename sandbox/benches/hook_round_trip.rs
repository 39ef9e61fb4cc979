//! Hook round trip, fresh instances, capability violations and memory, on the
//! real kernel (SQLite control plane, audit writer, durable bus) with the
//! guests built from `extensions/`. Run with:
//!   scripts/build-extensions.sh && RUST_BACKTRACE=0 cargo bench -p magflock-sandbox --bench hook_round_trip
//! Results are recorded in BENCHMARKS.md.

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::Criterion;
use magflock_kernel::audit::{Actor, AuditSink};
use magflock_kernel::{Capability, Grant};
use magflock_sandbox::CallMode;
use magflock_types::Outcome;
use serde_json::json;
use std::hint::black_box;
use std::time::{Duration, Instant};
use support::*;

const HEALTH_PAYLOAD: &str = r#"{"component":"magds","healthy":true,"checks":[]}"#;

/// The floor: what the hook does, as a plain native Rust call (gate check,
/// metric, audit record), with no WebAssembly in between.
fn native_handler(kernel: &Kernel, payload: &str) -> bool {
    let parsed: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
    let allowed = kernel.gate.check(STEADY, Capability::SystemMetrics).is_ok();
    if allowed {
        kernel.metrics.set(STEADY, "steady.healthy", 1.0);
        kernel.audit.record(Actor::extension(STEADY).entry(
            "extension.host_call",
            Some("system.metrics"),
            Outcome::Success,
            json!({"call": "system-metrics.gauge"}),
        ));
    }
    allowed && parsed.is_object()
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let kernel = runtime.block_on(async {
        let kernel = Kernel::with_steady_and_hostile().await;
        kernel
            .policy
            .grant(STEADY, Grant::new(Capability::SystemMetrics), &admin())
            .await
            .unwrap();
        kernel
    });
    let dispatcher = kernel.dispatcher(&["steady"]);
    let steady = kernel.sandbox.get(STEADY).unwrap();
    let hostile = kernel.sandbox.get(HOSTILE).unwrap();

    // Memory first, before the timed runs fill the audit writer's queue:
    // per loaded extension (compiled component, prepared instance)
    // and per live instance (pooled slot touched by a real instantiation).
    let before = rss_bytes();
    let copies = 20;
    for i in 0..copies {
        let text = manifest_text("steady").replace(
            "id = \"magflock/steady\"",
            &format!("id = \"magflock/steady-{i}\""),
        );
        kernel
            .sandbox
            .load(parse(&text), &guest_wasm("magflock-ext-steady"))
            .unwrap();
    }
    let per_loaded = (rss_bytes().saturating_sub(before)) / copies;
    let before = rss_bytes();
    let instances = 100;
    steady.prewarm(instances).unwrap();
    let per_instance = (rss_bytes().saturating_sub(before)) / instances as u64;
    println!(
        "memory/loaded_extension: {} KiB (RSS growth per load of a 190 KB component, {copies} loads)",
        per_loaded / 1024
    );
    println!(
        "memory/live_instance: {} KiB (RSS growth per warm instance, {instances} instances)",
        per_instance / 1024
    );

    let mut c = Criterion::default()
        .sample_size(50)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    let mut group = c.benchmark_group("hook_round_trip");
    group.bench_function("native_floor", |b| {
        b.iter(|| black_box(native_handler(&kernel, black_box(HEALTH_PAYLOAD))))
    });
    group.bench_function("dispatch_warm_instance", |b| {
        b.iter(|| {
            black_box(
                dispatcher
                    .dispatch("health_check_report", black_box(HEALTH_PAYLOAD))
                    .unwrap(),
            )
        })
    });
    group.bench_function("guest_call_warm_instance", |b| {
        b.iter(|| {
            black_box(
                steady
                    .handle_hook("health_check_report", HEALTH_PAYLOAD, CallMode::Warm)
                    .unwrap(),
            )
        })
    });
    group.bench_function("guest_call_fresh_instance", |b| {
        b.iter(|| {
            black_box(
                steady
                    .handle_hook("health_check_report", HEALTH_PAYLOAD, CallMode::Fresh)
                    .unwrap(),
            )
        })
    });
    group.bench_function("violation_trap_quarantine_audit", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                hostile.prewarm(1).unwrap();
                let started = Instant::now();
                let stopped = hostile.run_command("write-db", &[], CallMode::Warm);
                total += started.elapsed();
                assert!(stopped.is_err());
                kernel.gate.enable(HOSTILE).unwrap();
            }
            total
        })
    });
    group.finish();

    c.final_summary();
}
