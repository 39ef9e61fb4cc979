//! Install + enable of a signed package, without restart: verify signature,
//! check compatibility, queue for approval, approve, store the package,
//! register, Install(), migrations, health check #1, Init(), Start(), health
//! check #2, go live. Goal: ≤ 300 ms.
//!
//! Each iteration installs a new extension id (the same component, so the
//! compiled-component cache is warm after the first: that is the case for
//! every install after the first of a given build) and, untimed, uninstalls
//! it again; `cold_compile` measures one install with an empty component
//! cache (the first install of a package this build never compiled).
//!
//! Run: `cargo bench -p magflock-lifecycle --bench install_enable`.

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use magflock_lifecycle::{Decision, Offered};
use magflock_store::Engine;
use std::time::{Duration, Instant};
use support::*;

const MIGRATION: &[(&str, &str, Option<&str>)] = &[(
    "0001_notes",
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
    Some("DROP TABLE notes;"),
)];

async fn install_and_enable(h: &Harness, bytes: Vec<u8>) {
    let request = h
        .lifecycle
        .request_install(
            vec![Offered {
                bytes,
                required_by: Vec::new(),
            }],
            true,
            &admin(),
        )
        .await
        .expect("request");
    h.lifecycle
        .decide(
            &request.id,
            Decision::Approve {
                grants: None,
                comment: None,
            },
            &admin(),
        )
        .await
        .expect("install and enable");
}

/// Makes `bytes` the one package of the signed catalog in `folder`.
fn publish(folder: &std::path::Path, h: &Harness, bytes: &[u8]) {
    let package = magflock_package::Package::from_bytes(bytes, Default::default()).unwrap();
    let entry =
        magflock_package::CatalogEntry::from_package(&package, bytes, "package.mfx").unwrap();
    std::fs::write(folder.join("package.mfx"), bytes).unwrap();
    let catalog = magflock_package::Catalog {
        name: "bench".into(),
        generated_at: "now".into(),
        entries: vec![entry],
    };
    let (index, signature) = catalog.to_signed(&h.key).unwrap();
    std::fs::write(folder.join("index.json"), index).unwrap();
    std::fs::write(folder.join("index.sig"), signature).unwrap();
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("install_enable");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(20));
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let h = runtime.block_on(Harness::new(engine));
        let mut next = 0u64;
        let name = format!("{engine:?}").to_lowercase();
        group.bench_function(format!("{name}/warm_cache"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    next += 1;
                    let id = format!("bench/ext-{next}");
                    let bytes = h.package(&steady_manifest(&id, "1.0.0", ""), MIGRATION);
                    let start = Instant::now();
                    runtime.block_on(install_and_enable(&h, bytes));
                    total += start.elapsed();
                    // Not timed: keep the number of installed extensions steady.
                    runtime.block_on(async {
                        h.lifecycle.disable(&id, &admin()).await.expect("disable");
                        h.lifecycle
                            .uninstall(&id, &admin())
                            .await
                            .expect("uninstall");
                    });
                }
                total
            })
        });
        runtime.block_on(h.cleanup());
    }
    group.finish();

    // From the local catalog: read and verify the signed index, resolve the
    // plan, read the package and check its digest, then install and enable.
    let folder = tempfile::tempdir().unwrap();
    let catalog_dir = folder.path().to_path_buf();
    let h = runtime.block_on(Harness::with(Engine::Sqlite, |config| {
        config.local_catalog = Some(catalog_dir.clone())
    }));
    let mut next = 0u64;
    let mut from_catalog = c.benchmark_group("install_enable_from_local_catalog");
    from_catalog
        .sample_size(20)
        .measurement_time(Duration::from_secs(20));
    from_catalog.bench_function("sqlite/warm_cache", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                next += 1;
                let id = format!("bench/catalog-{next}");
                let bytes = h.package(&steady_manifest(&id, "1.0.0", ""), MIGRATION);
                publish(folder.path(), &h, &bytes);
                let start = Instant::now();
                runtime.block_on(async {
                    let request = h
                        .lifecycle
                        .request_install_from_catalog(&id, None, true, &admin())
                        .await
                        .expect("request from the catalog");
                    h.approve_all(&request).await.expect("install and enable");
                });
                total += start.elapsed();
                runtime.block_on(async {
                    h.lifecycle.disable(&id, &admin()).await.expect("disable");
                    h.lifecycle
                        .uninstall(&id, &admin())
                        .await
                        .expect("uninstall");
                });
            }
            total
        })
    });
    from_catalog.finish();
    runtime.block_on(h.cleanup());

    let mut cold = c.benchmark_group("install_enable_cold_compile");
    cold.sample_size(10)
        .measurement_time(Duration::from_secs(30));
    cold.bench_function("sqlite", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let h = runtime.block_on(Harness::new(Engine::Sqlite));
                let bytes = h.package(&steady_manifest("bench/cold", "1.0.0", ""), MIGRATION);
                let start = Instant::now();
                runtime.block_on(install_and_enable(&h, bytes));
                total += start.elapsed();
                runtime.block_on(h.cleanup());
            }
            total
        })
    });
    cold.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
